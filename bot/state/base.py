"""The service's own records as small interfaces; each backend implements them all (bot/state/sqlite.py,
bot/state/postgres.py).

    AskLog          every question answered (written off the request path, in batches)
    FeedbackStore   agents' feedback on answers
    JobStore        re-index jobs, shared by every worker process, and the JobLock a running job holds
    ReviewDecisions editors' decisions on review-queue questions (review.py)
    the access records: accounts, sign-ins, API tokens, the audit log, widget sites, sign-in attempts
                    (access.py)

Every method may be called from several threads at once. A write the storage has no room for raises
bot.storage.DiskFull (a 507 for the request) and is recorded in the backend's `StorageHealth`; a storage
that cannot be reached (a database restarting) raises kb.state.StateUnavailable (a 503). The ask log
and feedback are also `Portable` (kb/state/base.py): what `kb migrate --to` copies (bot/migrate.py COPIED).
"""
from __future__ import annotations

import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

from bot.state.review import ReviewDecisions
from bot.storage import StorageHealth
from kb.state import Portable

if TYPE_CHECKING:  # AppState's fields; access.py builds on RowRecords below
    from bot.state.access import AccountStore, ApiTokenStore, AuditLog, LoginAttemptStore, LoginSessionStore, SiteStore


class AskedQuestion(NamedTuple):
    """One row of the ask log. `cited`: the ids of every passage the answer quoted, space-separated; `agent`,
    `team`, `site`: who asked, when the widget passed a signed identity (bot/auth/widget_token.py)."""

    ts: float
    question: str
    matched: int  # 1 or 0
    confidence: float
    top_passage: str | None
    top_title: str | None
    top_doc: str | None
    ms: float
    session_id: str | None
    version: str | None
    cited: str = ""
    agent: str | None = None
    team: str | None = None
    site: str | None = None


@dataclass(frozen=True)
class AskerIdentity:
    """Who asked, as a site's signed widget token says (bot/auth/widget_token.py)."""

    agent: str
    team: str | None
    site: str


def asked_question(answer: dict[str, Any], ms: float, who: AskerIdentity | None = None) -> AskedQuestion:
    """The log row of an answer (`Answer.model_dump()`): its first principle, case or passage is the top;
    the principles and cases it quotes are `cited`."""
    top = None
    for group in ("principles", "cases", "passages"):
        if answer.get(group):
            top = answer[group][0]
            break
    cited = [c.get("id") for group in ("principles", "cases") for c in answer.get(group) or [] if c.get("id")]
    return AskedQuestion(
        time.time(),
        str(answer.get("question", "")),
        1 if answer.get("matched") else 0,
        float(answer.get("confidence") or 0.0),
        top.get("id") if top else None,
        top.get("title") if top else None,
        top.get("doc") if top else None,
        round(ms, 1),
        answer.get("session_id"),
        answer.get("version"),
        " ".join(dict.fromkeys(cited)),
        who.agent if who else None,
        who.team if who else None,
        who.site if who else None,
    )


class FeedbackRow(NamedTuple):
    """One piece of feedback, as stored and exported; `agent`, `team`, `site` as for AskedQuestion."""

    ts: float
    question: str
    passage_id: str | None
    helpful: int  # 1 or 0
    comment: str | None
    session_id: str | None
    version: str | None
    agent: str | None = None
    team: str | None = None
    site: str | None = None


def feedback_row(question: str, passage_id: str | None, helpful: bool, comment: str | None,
                 session_id: str | None, version: str | None, who: AskerIdentity | None) -> FeedbackRow:
    """The stored row of one piece of feedback, given now."""
    return FeedbackRow(time.time(), question, passage_id, 1 if helpful else 0, comment or None, session_id, version,
                       who.agent if who else None, who.team if who else None, who.site if who else None)


class RowRecords(Portable):
    """A store whose records are rows of one NamedTuple type (`row_type`), exported as `row._asdict()`,
    oldest first, and imported with their times kept."""

    row_type: type
    count_key: str  # the key of `counts()` that counts the rows

    @abstractmethod
    def counts(self) -> dict[str, int]:
        """The store's figures, `count_key` among them."""

    @abstractmethod
    def rows(self) -> Iterator[tuple]:
        """Every row written, oldest first."""

    @abstractmethod
    def insert(self, rows: list) -> None:
        """Store rows as they are, their times kept, in one transaction or none."""

    def count(self) -> int:
        return self.counts()[self.count_key]

    def exported(self, row: Any) -> dict:
        """One row as exported."""
        return row._asdict()

    def export_records(self) -> Iterator[dict]:
        return (self.exported(row) for row in self.rows())

    def import_records(self, records: Iterable[dict]) -> int:
        rows = [self.row_type(**r) for r in records]
        self.insert(rows)
        return len(rows)


class AskLog(RowRecords):
    """Questions are queued by `log` and written within a fraction of a second; every read writes the queue
    first (`rows` too), so it never misses a question already answered. `close` writes what is queued;
    `insert` is the queue's writer."""

    row_type = AskedQuestion
    count_key = "asks"

    @abstractmethod
    def log(self, answer: dict[str, Any], ms: float, who: AskerIdentity | None = None) -> None:
        """Queue one answered question (never blocks on the storage, never raises for it)."""

    @abstractmethod
    def since(self, ts: float) -> list[dict[str, Any]]:
        """Every question asked at or after `ts`, oldest first, for analytics: ts, question, matched, confidence,
        top_passage, cited, agent, team, site."""

    @abstractmethod
    def unanswered(self, limit: int) -> list[dict[str, Any]]:
        """Questions the KB did not answer, newest first, as review-queue items: type 'unanswered', id, ts,
        question, passage_id (the top passage), comment None, confidence, version."""

    @abstractmethod
    def counts(self) -> dict[str, int]:
        """asks, unanswered, asks_waiting (queued, not yet written), asks_dropped (let go while the
        storage could not be written and the queue was full)."""

    def close(self) -> None:
        pass


class FeedbackStore(RowRecords):
    row_type = FeedbackRow
    count_key = "feedback"

    @abstractmethod
    def add(self, question: str, passage_id: str | None, helpful: bool, comment: str | None,
            session_id: str | None = None, version: str | None = None, who: AskerIdentity | None = None) -> int:
        """Store one piece of feedback (committed when this returns); its id."""

    @abstractmethod
    def since(self, ts: float) -> list[dict[str, Any]]:
        """Every piece of feedback given at or after `ts`, oldest first: ts, passage_id, helpful, agent, team."""

    @abstractmethod
    def unhelpful(self, limit: int) -> list[dict[str, Any]]:
        """Feedback marked unhelpful, newest first, as review-queue items: type 'feedback', id, ts, question,
        passage_id, comment, confidence None, version."""

    @abstractmethod
    def counts(self) -> dict[str, int]:
        """feedback, unhelpful."""

    def close(self) -> None:
        pass


class JobLock(ABC):
    """Held by the process running a job, by something that dies with that process (the kernel, or the
    database server, releases it however the process ends), so a killed job can never look alive."""

    instance_id: str  # this lock's owner: a new random id at every start of a process

    @abstractmethod
    def try_acquire(self) -> bool:
        """Take the lock for a job of this owner; False when another owner holds it."""

    @abstractmethod
    def release(self) -> None:
        """Give it back (after the job has recorded how it ended)."""

    @abstractmethod
    def holder(self) -> str | None:
        """The holder's instance id ("" while it has not said yet), None when the lock is free."""


def new_instance_id() -> str:
    """A job lock owner's id: random, new at every start of a process."""
    return uuid.uuid4().hex[:16]


class JobStore(ABC):
    """Jobs as the dicts `bot.jobs.Job.to_dict()` gives (id, kind, state, owner, ...). Whether an unfinished
    job is alive is its lock's to say (bot/jobs.py)."""

    @abstractmethod
    def save(self, job: dict[str, Any]) -> None:
        """Insert or replace the job's record."""

    @abstractmethod
    def get(self, job_id: str) -> dict[str, Any] | None:
        """A job's last saved record."""

    @abstractmethod
    def unfinished(self) -> list[dict[str, Any]]:
        """Jobs recorded as queued or running, most recently saved first."""

    @abstractmethod
    def fail_unfinished(self, reason: str) -> list[str]:
        """Record every queued or running job as failed with `reason` (one transaction). Only while holding
        the job lock, when none of them can be alive. Returns their ids."""

    @abstractmethod
    def recent(self, limit: int) -> list[dict[str, Any]]:
        """The most recently saved jobs, newest first."""

    @abstractmethod
    def lock(self, instance_id: str | None = None) -> JobLock:
        """A job lock shared by every process using this store (a new instance id unless given)."""

    def close(self) -> None:
        pass


@dataclass
class AppState:
    """One backend's records, and whether its writes work (`storage`: the admin status and /readyz)."""

    asks: AskLog
    feedback: FeedbackStore
    jobs: JobStore
    storage: StorageHealth
    accounts: AccountStore
    logins: LoginSessionStore
    tokens: ApiTokenStore
    audit: AuditLog
    sites: SiteStore
    decisions: ReviewDecisions
    attempts: LoginAttemptStore

    def review_queue(self, limit: int = 200) -> list[dict[str, Any]]:
        """Unhelpful answers and unanswered questions, newest first: what editors review."""
        items = self.feedback.unhelpful(limit) + self.asks.unanswered(limit)
        items.sort(key=lambda item: (item["ts"], item["id"]), reverse=True)
        return items[:limit]

    def counts(self) -> dict[str, int]:
        asks, feedback = self.asks.counts(), self.feedback.counts()
        return {"asks": asks["asks"], "unanswered": asks["unanswered"], "feedback": feedback["feedback"],
                "unhelpful": feedback["unhelpful"], "asks_waiting": asks["asks_waiting"],
                "asks_dropped": asks["asks_dropped"]}

    def close(self) -> None:
        """The ask log first: it writes what is queued."""
        for store in (self.asks, self.feedback, self.jobs, self.decisions):
            store.close()
