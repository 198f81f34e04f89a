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
    def __init__(self, job: "Job"):
        super().__init__(f"a job is already running: {job.id}")
        self.job = job


class JobFailed(Exception):
    """A job that ends as failed with a message for editors (and optional figures)."""

    def __init__(self, message: str, details: dict[str, Any] | None = None):
        super().__init__(message)
        self.details = details or {}


class Job:
    def __init__(self, kind: str):
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

    def progress(self, stage: str, done: int = 0, total: int = 0) -> None:
        with self._lock:
            self.stage, self.done, self.total = str(stage), int(done), int(total)

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
    """Runs one job at a time in a daemon thread; keeps the most recent jobs for polling."""

    def __init__(self, keep: int = 50):
        self._lock = threading.Lock()
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._current: Job | None = None
        self._threads: list[threading.Thread] = []
        self._keep = keep

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id)

    def current(self) -> Job | None:
        with self._lock:
            return self._current if self._current and not self._current.finished else None

    def last(self) -> Job | None:
        with self._lock:
            return next(reversed(self._jobs.values()), None) if self._jobs else None

    def list(self) -> list[Job]:
        with self._lock:
            return list(reversed(self._jobs.values()))

    def submit(self, kind: str, fn: Callable[[Job], dict[str, Any] | None]) -> Job:
        with self._lock:
            if self._current is not None and not self._current.finished:
                raise JobBusy(self._current)
            job = Job(kind)
            self._current = job
            self._jobs[job.id] = job
            while len(self._jobs) > self._keep:
                self._jobs.popitem(last=False)
            t = threading.Thread(target=self._run, args=(job, fn), name=f"job-{kind}-{job.id}", daemon=True)
            self._threads = [x for x in self._threads if x.is_alive()] + [t]
        t.start()
        return job

    def _run(self, job: Job, fn: Callable[[Job], dict[str, Any] | None]) -> None:
        job.state, job.started_at = "running", time.time()
        job.progress("starting")
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

    def wait(self, timeout: float | None = None) -> None:
        """Wait for running jobs (tests and shutdown)."""
        with self._lock:
            threads = list(self._threads)
        for t in threads:
            t.join(timeout)
