"""A re-index job is alive exactly as long as the process running it (bot/state/file_lock.py, bot/jobs.py): the
kernel lets the job lock go when its holder dies; runners on one app DB (as workers) run one job at a time
between them, and a job recorded as running whose owner holds no lock reads and is recorded as failed.
(A service killed during a re-index, as PID 1: tests/service/test_job_ownership.py.)"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from tests.support.paths import REPO


def test_the_job_lock_dies_with_its_process(tmp_path):
    from bot.state.file_lock import FileJobLock

    path = tmp_path / "app.jobs.lock"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from bot.state.file_lock import FileJobLock\n"
         f"lock = FileJobLock({str(path)!r}, 'child-instance'); assert lock.try_acquire(); print('held', flush=True)\n"
         "time.sleep(600)"], env={**os.environ, "PYTHONPATH": str(REPO)}, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        mine = FileJobLock(path, "parent-instance")
        assert mine.holder() == "child-instance"
        assert not mine.try_acquire()
        holder.send_signal(signal.SIGKILL)
        holder.wait()
        assert mine.holder() is None
        assert mine.try_acquire() and mine.holder() == "parent-instance"
        assert FileJobLock(path).holder() == "parent-instance"  # another open of the file, as a worker's
        mine.release()
        assert FileJobLock(path).holder() is None
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()


def test_workers_share_one_running_job_and_see_dead_ones_as_failed(tmp_path):
    """Two runners on one app DB (as two workers): one job at a time between them; a job recorded as
    running whose owner holds no lock reads as failed, is never 'current', and is recorded failed."""
    from bot.jobs import ABANDONED, JobBusy, JobRunner
    from bot.state.sqlite import SQLiteAppState

    a_db, b_db = SQLiteAppState(tmp_path / "app.sqlite"), SQLiteAppState(tmp_path / "app.sqlite")
    a, b = JobRunner(store=a_db.jobs), JobRunner(store=b_db.jobs)
    try:
        go = threading.Event()
        job = a.submit("reindex", lambda job: go.wait(60) and {"ok": True})
        with pytest.raises(JobBusy) as busy:
            b.submit("reindex", lambda job: None)
        assert busy.value.job.id == job.id
        assert b.current().id == job.id and b.get(job.id).state in ("queued", "running")
        go.set()
        a.wait(60)
        assert b.get(job.id).state == "succeeded" and b.current() is None

        # A job whose process died: recorded as running, by an instance that holds nothing.
        b_db.jobs.save({"id": "dead0job", "kind": "reindex", "state": "running", "owner": "gone",
                       "created_at": time.time()})
        assert b.current() is None
        assert b.get("dead0job").state == "failed" and b.get("dead0job").to_dict()["error"] == ABANDONED
        assert [j.to_dict()["state"] for j in b.list() if j.id == "dead0job"] == ["failed"]
        assert b.recover() == ["dead0job"]
        assert b_db.jobs.get("dead0job")["state"] == "failed"

        b_db.jobs.save({"id": "dead1job", "kind": "reindex", "state": "running", "owner": "gone",
                       "created_at": time.time()})
        second = b.submit("reindex", lambda job: {"ok": True})  # not refused: records the dead one failed
        b.wait(60)
        assert b_db.jobs.get("dead1job")["state"] == "failed" and a.get(second.id).state == "succeeded"
    finally:
        a_db.close()
        b_db.close()
