"""The ask log's queue: questions are logged off the request path, for any backend.

`put` only queues the row; a writer thread writes what has queued up in one batch (a write per question
cost a thread hop and a commit in every answer). Anything that reads the log, and close(), writes the
queue first, so a read never misses a question already answered; only a process killed outright (SIGKILL,
a power cut) can lose the last ~ASK_LOG_INTERVAL of the log; a normal stop (SIGTERM) writes it all
(docs/operations.md).

While writes fail (a full disk) queued questions wait in memory, up to MAX_WAITING_ASKS, and the writer
tries again every ASK_LOG_RETRY seconds.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from bot.state.base import AskedQuestion
from bot.storage import StorageHealth

log = logging.getLogger(__name__)

ASK_LOG_INTERVAL = 0.2  # seconds the writer waits for more questions before writing
ASK_LOG_RETRY = 2.0  # seconds between attempts while writing fails (a full disk)
# Questions kept in memory while the log cannot be written (~0.5 KB each); beyond it the oldest go, counted.
MAX_WAITING_ASKS = 100_000


class AskQueue:
    def __init__(self, write: Callable[[list[AskedQuestion]], None], storage: StorageHealth,
                 errors: tuple[type[BaseException], ...]):
        """`write(rows)` stores rows in one transaction or raises having stored none; `errors` are the
        storage's own exceptions (recorded in `storage`, retried), anything else is a bug and propagates."""
        self._write = write
        self.storage = storage
        self._errors = errors
        self.dropped = 0  # questions let go while the log could not be written
        self._pending: list[AskedQuestion] = []
        self._writing = 0  # rows of the batch being written (a write to an unreachable database takes seconds)
        self._pending_cond = threading.Condition()
        self._write_lock = threading.Lock()  # one batch at a time, so rows are written in order
        self._closed = False
        self._writer = threading.Thread(target=self._write_forever, name="ask-log", daemon=True)
        self._writer.start()

    def put(self, row: AskedQuestion) -> None:
        with self._pending_cond:
            self._pending.append(row)
            self._pending_cond.notify()

    def waiting(self) -> int:
        """Questions answered but not yet written (the batch being written counted)."""
        with self._pending_cond:
            return len(self._pending) + self._writing

    def write(self) -> None:
        """Write every queued question (one batch); on failure they stay queued and the error propagates."""
        with self._write_lock:
            with self._pending_cond:
                rows, self._pending = self._pending, []
                self._writing = len(rows)
            if not rows:
                return
            try:
                self._write(rows)
            except BaseException as e:
                with self._pending_cond:  # the rows wait for the next write
                    self._pending[:0] = rows
                    self._writing = 0
                    over = len(self._pending) - MAX_WAITING_ASKS
                    if over > 0:
                        del self._pending[:over]
                        self.dropped += over
                if isinstance(e, self._errors):
                    dropped = f", {self.dropped} of the oldest let go" if self.dropped else ""
                    self.storage.failed(f"the question log ({len(self._pending)} questions waiting{dropped})", e)
                raise
            finally:
                with self._pending_cond:
                    self._writing = 0
        self.storage.succeeded()

    def flush(self) -> None:
        """Write the queue before a read; when that fails (a full disk) the read goes on without them: they
        stay queued, and the failure is on the status page."""
        try:
            self.write()
        except self._errors:
            pass

    def _write_forever(self) -> None:
        while True:
            with self._pending_cond:
                while not self._pending and not self._closed:
                    self._pending_cond.wait()
                if self._closed:
                    return
            # Let a burst of questions share the write; while writes fail, try less often.
            time.sleep(ASK_LOG_RETRY if self.storage.failing else ASK_LOG_INTERVAL)
            self.flush()

    def close(self) -> None:
        """Stop the writer and write what is queued."""
        with self._pending_cond:
            self._closed = True
            self._pending_cond.notify()
        self._writer.join(timeout=10)
        try:
            self.write()
        except self._errors:
            log.error("stopping with %d questions not written to the log", self.waiting())
