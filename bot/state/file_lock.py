"""The embedded job lock: flock(2) on a file beside the app database.

A job counts as running only while the process that started it holds the job lock (bot/state/base.py
`JobLock`). The kernel releases an flock when its process dies however it dies, so a killed job can never
look alive: unlike a stored PID, which a restarted container reuses (its service is PID 1 again).
"""
from __future__ import annotations

import fcntl
import os
import threading
import time
from pathlib import Path

from bot.state.base import JobLock, new_instance_id

# How long try_acquire waits out another process that only looks at the lock (holder() takes it shared
# for a few microseconds); a real job holds it for seconds at least.
PROBE_GRACE_SECONDS = 0.5


class FileJobLock(JobLock):
    """flock(2) on `path`: an exclusive lock while a job runs, its holder's instance id as the contents.

    Each open of the file is a lock of its own, so two runners in one process exclude each other too.
    The file is opened only while the lock is held (and close-on-exec), so no child process keeps it."""

    def __init__(self, path: Path, instance_id: str | None = None):
        self.path = Path(path)
        self.instance_id = instance_id or new_instance_id()
        self._fd: int | None = None
        self._mutex = threading.Lock()

    def _open(self) -> int:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        return os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)

    def try_acquire(self) -> bool:
        with self._mutex:
            if self._fd is not None:
                return False
            fd = self._open()
            deadline = time.monotonic() + PROBE_GRACE_SECONDS
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    # A holder writes its id at once; an empty file is someone looking (holder()).
                    if os.pread(fd, 64, 0) or time.monotonic() > deadline:
                        os.close(fd)
                        return False
                    time.sleep(0.005)
            try:
                os.ftruncate(fd, 0)
                os.pwrite(fd, self.instance_id.encode(), 0)
            except OSError:  # e.g. a full disk: the lock itself holds, only its holder's name is missing
                pass
            self._fd = fd
            return True

    def release(self) -> None:
        with self._mutex:
            fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            os.ftruncate(fd, 0)
        except OSError:
            pass
        finally:
            os.close(fd)  # closing the last descriptor of this open file releases the flock

    def holder(self) -> str | None:
        with self._mutex:
            if self._fd is not None:
                return self.instance_id
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            return None
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return os.pread(fd, 64, 0).decode("ascii", "replace")
            return None  # nobody holds it (closing the descriptor drops the shared lock again)
        finally:
            os.close(fd)
