"""Background jobs (re-index), one at a time, with progress that the admin page polls.

Across worker processes and restarts, a job runs only while its process holds the job lock
(bot/state/base.py `JobLock`); a job recorded as unfinished whose owner no longer holds it died with its process, and
reads as failed with ABANDONED as the reason (and is recorded so at the next start or job).
"""
from __future__ import annotations

import logging
import threading
import time
import traceback
import uuid
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from bot.state.base import JobLock, JobStore
from bot.storage import is_disk_full, job_error

log = logging.getLogger(__name__)

STATES = ("queued", "running", "succeeded", "failed")
UNFINISHED = ("queued", "running")
ABANDONED = ("任务未完成：运行它的服务进程已停止（被终止或崩溃）；已发布的版本不受影响，请重新开始索引 / "
             "the job did not finish: the service process running it stopped (killed or crashed); published "
             "versions are intact, start the re-index again")


class JobBusy(Exception):
    def __init__(self, job: "Job | StoredJob"):
        super().__init__(f"a job is already running: {job.id}")
        self.job = job


class JobFailed(Exception):
    """A job that ends as failed with a message for editors (and optional figures)."""

    def __init__(self, message: str, details: dict[str, Any] | None = None):
        super().__init__(message)
        self.details = details or {}


class StoredJob:
    """A job known only from the job store (run by another worker process, or before a restart)."""

    def __init__(self, data: dict[str, Any]):
        self.data = data
        self.id = data["id"]
        self.state = data["state"]

    @classmethod
    def dead(cls, data: dict[str, Any]) -> "StoredJob":
        """An unfinished record whose process is gone, as what it is: failed."""
        return cls({**data, "state": "failed", "stage": "failed", "error": ABANDONED,
                    "finished_at": data.get("finished_at") or data.get("started_at") or data.get("created_at")})

    @property
    def finished(self) -> bool:
        return self.state in ("succeeded", "failed")

    def to_dict(self) -> dict[str, Any]:
        return dict(self.data)


class Job:
    def __init__(self, kind: str, on_change: Callable[["Job"], None] | None = None, owner: str | None = None):
        self.id = uuid.uuid4().hex[:12]
        self.kind = kind
        self.owner = owner  # the instance id of the job lock of the process running it
        self.state = "queued"
        self.stage = "queued"
        self.done = 0
        self.total = 0
        self.report: dict[str, Any] | None = None
        self.error: str | None = None
        self.details: dict[str, Any] = {}
        self.created_at = time.time()
        self.started_at: float | None = None
        self.finished_at: float | None = None
        self._lock = threading.Lock()
        self._on_change = on_change
        self._saved = 0.0
        self.unsaved = False  # the last save failed (a full disk): tried again when the jobs are listed
        self.thread: threading.Thread | None = None

    def progress(self, stage: str, done: int = 0, total: int = 0) -> None:
        with self._lock:
            changed_stage = stage != self.stage
            self.stage, self.done, self.total = str(stage), int(done), int(total)
        if changed_stage or time.time() - self._saved > 0.5:
            self.save()

    def save(self) -> None:
        if self._on_change is not None:
            self._saved = time.time()
            try:
                self._on_change(self)
                self.unsaved = False
            except Exception as e:  # noqa: BLE001 - progress reporting must never fail the job
                if not self.unsaved:  # once, not at every progress report (a full disk is logged by the store)
                    log.warning("could not record job %s: %s: %s", self.id, type(e).__name__, e)
                self.unsaved = True

    @property
    def finished(self) -> bool:
        return self.state in ("succeeded", "failed")

    def to_dict(self) -> dict[str, Any]:
        with self._lock:
            return {
                "id": self.id,
                "kind": self.kind,
                "owner": self.owner,
                "state": self.state,
                "stage": self.stage,
                "done": self.done,
                "total": self.total,
                "report": self.report,
                "error": self.error,
                "details": self.details,
                "created_at": self.created_at,
                "started_at": self.started_at,
                "finished_at": self.finished_at,
                "seconds": round((self.finished_at or time.time()) - (self.started_at or self.created_at), 2),
            }


class JobRunner:
    """Runs one job at a time in a daemon thread; keeps the most recent jobs for polling.

    With a `store` jobs are also recorded there, so that with several worker processes any worker can
    report a job's progress, and a second re-index is refused while another worker runs one: the store's
    job lock (`lock`, by default `store.lock()`) is held by whichever process runs a job.
    """

    def __init__(self, keep: int = 50, store: JobStore | None = None, lock: JobLock | None = None):
        self._store = store
        self._job_lock = lock if lock is not None or store is None else store.lock()
        self._lock = threading.Lock()
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._current: Job | None = None
        self._threads: list[threading.Thread] = []
        self._keep = keep

    @property
    def instance_id(self) -> str | None:
        return self._job_lock.instance_id if self._job_lock is not None else None

    def recover(self) -> list[str]:
        """At start: record the jobs that died with their process as failed (ABANDONED). Skipped while
        another worker runs a job: it did the same when it took the lock."""
        if self._store is None or self._job_lock is None:
            return []
        try:
            if not self._job_lock.try_acquire():
                return []
        except Exception:  # noqa: BLE001 - e.g. the database is down: the next job records them
            log.warning("could not take the job lock to record interrupted jobs", exc_info=True)
            return []
        try:
            failed = self._store.fail_unfinished(ABANDONED)
        except Exception:  # noqa: BLE001 - e.g. a full disk: they still read as failed (_seen)
            log.warning("could not record the interrupted jobs as failed", exc_info=True)
            return []
        finally:
            self._job_lock.release()
        if failed:
            log.warning("jobs interrupted when their process stopped, now recorded as failed: %s", ", ".join(failed))
        return failed

    def _seen(self, data: dict[str, Any]) -> StoredJob:
        """A stored job as it is: an unfinished one runs only while its owner holds the job lock. The lock
        is asked after the record was read, and the record read again before calling it dead, as a job
        records its end before it lets the lock go."""
        if data.get("state") not in UNFINISHED:
            return StoredJob(data)
        holder = self._job_lock.holder() if self._job_lock is not None else None
        if holder is not None and holder == data.get("owner"):
            return StoredJob(data)
        again = self._store.get(data["id"]) or data
        return StoredJob(again) if again.get("state") not in UNFINISHED else StoredJob.dead(again)

    def get(self, job_id: str) -> Job | StoredJob | None:
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None and self._store is not None:
            data = self._store.get(job_id)
            return self._seen(data) if data else None
        return job

    def running_here(self) -> bool:
        """A job of this process is unfinished (it swaps in the version it publishes itself)."""
        with self._lock:
            return self._current is not None and not self._current.finished

    def current(self) -> Job | StoredJob | None:
        with self._lock:
            if self._current and not self._current.finished:
                return self._current
        if self._store is None:
            return None
        try:
            for data in self._store.unfinished():
                seen = self._seen(data)
                if not seen.finished:
                    return seen
        except Exception:  # noqa: BLE001
            log.warning("could not read the jobs", exc_info=True)
        return None

    def last(self) -> Job | StoredJob | None:
        jobs = self.list(1)
        return jobs[0] if jobs else None

    def list(self, limit: int = 20) -> list[Job | StoredJob]:
        """Newest first: the recorded jobs, and this process's own even where recording them failed."""
        with self._lock:
            local = list(reversed(self._jobs.values()))
        if self._store is None:
            return local[:limit]
        for job in local:
            if job.unsaved and job.finished:
                job.save()  # its end could not be recorded (a full disk): once more
        try:
            stored = [self._seen(d) for d in self._store.recent(limit)]
        except Exception:  # noqa: BLE001
            return local[:limit]
        mine = {j.id: j for j in local}
        merged = [mine.pop(s.id, s) for s in stored] + list(mine.values())
        merged.sort(key=lambda j: j.to_dict().get("created_at") or 0, reverse=True)
        return merged[:limit]

    def submit(self, kind: str, fn: Callable[[Job], dict[str, Any] | None]) -> Job:
        """Start a job, or raise JobBusy. A job that cannot be recorded (a full disk) is not started."""
        with self._lock:
            if self._current is not None and not self._current.finished:
                raise JobBusy(self._current)
            mine = self._job_lock is None or self._job_lock.try_acquire()
            if mine:
                try:
                    job = self._start(kind, fn)
                except BaseException:
                    if self._job_lock is not None:
                        self._job_lock.release()
                    raise
        if not mine:  # another process (or runner) holds the job lock: its job, once it has recorded it
            raise JobBusy(self.current() or StoredJob({"id": "", "kind": kind, "state": "running"}))
        job.thread.start()
        return job

    def _start(self, kind: str, fn: Callable[[Job], dict[str, Any] | None]) -> Job:
        """With the job lock held: no recorded job can be alive, so the unfinished ones are recorded as
        failed, then the new one is recorded (errors propagate: nothing is started)."""
        job = Job(kind, on_change=self._save if self._store is not None else None, owner=self.instance_id)
        if self._store is not None:
            self._store.fail_unfinished(ABANDONED)
            self._store.save(job.to_dict())
        self._current = job
        self._jobs[job.id] = job
        while len(self._jobs) > self._keep:
            self._jobs.popitem(last=False)
        job.thread = threading.Thread(target=self._run, args=(job, fn), name=f"job-{kind}-{job.id}", daemon=True)
        self._threads = [x for x in self._threads if x.is_alive()] + [job.thread]
        return job

    def _save(self, job: Job) -> None:
        self._store.save(job.to_dict())

    def _run(self, job: Job, fn: Callable[[Job], dict[str, Any] | None]) -> None:
        job.state, job.started_at = "running", time.time()
        job.progress("starting")
        job.save()
        try:
            report = fn(job)
            if report is not None:
                job.report = report
            job.state = "succeeded"
            job.progress("done", job.total, job.total)
        except JobFailed as e:
            job.error, job.details, job.state = str(e), e.details, "failed"
        except Exception as e:  # noqa: BLE001 - any failure is reported to the editor
            job.error, job.state = job_error(e), "failed"
            if is_disk_full(e):
                log.warning("job %s stopped: the disk is full", job.id)
            else:
                log.error("job %s failed:\n%s", job.id, traceback.format_exc())
        finally:
            job.finished_at = time.time()
            job.save()
            if self._job_lock is not None:
                self._job_lock.release()  # after the end is recorded: see _seen

    def wait(self, timeout: float | None = None) -> None:
        """Wait for running jobs (tests and shutdown)."""
        with self._lock:
            threads = list(self._threads)
        for t in threads:
            t.join(timeout)
