"""Background jobs (re-index), one at a time, with progress that the admin page polls."""
from __future__ import annotations

import logging
import threading
import time
import traceback
import uuid
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

STATES = ("queued", "running", "succeeded", "failed")


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
    """A job known only from the shared app DB (run by another worker process)."""

    def __init__(self, data: dict[str, Any]):
        self.data = data
        self.id = data["id"]
        self.state = data["state"]

    @property
    def finished(self) -> bool:
        return self.state in ("succeeded", "failed")

    def to_dict(self) -> dict[str, Any]:
        return dict(self.data)


class Job:
    def __init__(self, kind: str, on_change: Callable[["Job"], None] | None = None):
        self.id = uuid.uuid4().hex[:12]
        self.kind = kind
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
            except Exception:  # noqa: BLE001 - progress reporting must never fail the job
                log.exception("saving job %s failed", self.id)

    @property
    def finished(self) -> bool:
        return self.state in ("succeeded", "failed")

    def to_dict(self) -> dict[str, Any]:
        with self._lock:
            return {
                "id": self.id,
                "kind": self.kind,
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

    With a `store` (the app DB) jobs are also recorded there, so that with several worker processes any
    worker can report a job's progress and a second re-index is refused while another worker runs one.
    """

    def __init__(self, keep: int = 50, store: Any | None = None):
        self._store = store
        self._lock = threading.Lock()
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._current: Job | None = None
        self._threads: list[threading.Thread] = []
        self._keep = keep

    def get(self, job_id: str) -> Job | StoredJob | None:
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None and self._store is not None:
            data = self._store.get_job(job_id)
            return StoredJob(data) if data else None
        return job

    def current(self) -> Job | StoredJob | None:
        with self._lock:
            if self._current and not self._current.finished:
                return self._current
        if self._store is not None:
            try:
                data = self._store.running_job()
            except Exception:  # noqa: BLE001
                data = None
            return StoredJob(data) if data else None
        return None

    def last(self) -> Job | StoredJob | None:
        jobs = self.list(1)
        return jobs[0] if jobs else None

    def list(self, limit: int = 20) -> list[Job | StoredJob]:
        with self._lock:
            local = list(reversed(self._jobs.values()))[:limit]
        if self._store is None:
            return local
        try:
            stored = self._store.recent_jobs(limit)
        except Exception:  # noqa: BLE001
            return local
        mine = {j.id: j for j in local}
        return [mine.get(d["id"]) or StoredJob(d) for d in stored]

    def submit(self, kind: str, fn: Callable[[Job], dict[str, Any] | None]) -> Job:
        with self._lock:
            if self._current is not None and not self._current.finished:
                raise JobBusy(self._current)
            other = self._store.running_job() if self._store is not None else None
            if other is not None:
                raise JobBusy(StoredJob(other))
            job = Job(kind, on_change=self._save if self._store is not None else None)
            self._current = job
            self._jobs[job.id] = job
            while len(self._jobs) > self._keep:
                self._jobs.popitem(last=False)
            t = threading.Thread(target=self._run, args=(job, fn), name=f"job-{kind}-{job.id}", daemon=True)
            self._threads = [x for x in self._threads if x.is_alive()] + [t]
        job.save()
        t.start()
        return job

    def _save(self, job: Job) -> None:
        self._store.save_job(job.to_dict())

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
            log.error("job %s failed:\n%s", job.id, traceback.format_exc())
            job.error, job.state = f"{type(e).__name__}: {e}", "failed"
        finally:
            job.finished_at = time.time()
            job.save()

    def wait(self, timeout: float | None = None) -> None:
        """Wait for running jobs (tests and shutdown)."""
        with self._lock:
            threads = list(self._threads)
        for t in threads:
            t.join(timeout)
