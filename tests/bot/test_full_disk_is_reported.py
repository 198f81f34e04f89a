"""A full disk is reported, not hidden: a job that runs out of room says so in Chinese and English, and
failed writes are logged once per interval, with how many more failed, until they work again. (The service
on a really full disk: tests/service/test_disk_full.py.)"""
from __future__ import annotations

import errno


def test_a_job_that_runs_out_of_room_says_so_in_both_languages(tmp_path):
    from bot.jobs import JobRunner
    from bot.state.sqlite import SQLiteAppState
    from bot.storage import JOB_DISK_FULL

    def no_room(job):
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "versions" / ".build-x"))

    def broken(job):
        raise ValueError("bad input")

    db = SQLiteAppState(tmp_path / "app.sqlite")
    try:
        jobs = JobRunner(store=db.jobs)
        for fn, expected in ((no_room, JOB_DISK_FULL), (broken, "索引任务出错 / the job failed: ValueError: bad input")):
            job = jobs.submit("reindex", fn)
            jobs.wait(60)
            assert db.jobs.get(job.id)["error"] == expected
    finally:
        db.close()


def test_write_failures_are_logged_once_per_interval(caplog):
    import sqlite3

    from bot.storage import StorageHealth

    now = [0.0]
    health = StorageHealth(interval=60, clock=lambda: now[0])
    full = sqlite3.OperationalError("database or disk is full")
    with caplog.at_level("WARNING", logger="bot.storage"):
        for _ in range(300):  # a minute of the question log's retries
            health.failed("the question log", full)
            now[0] += 0.2
        assert health.disk_full
        health.failed("the question log", full)
        health.succeeded()
        health.succeeded()
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 3, messages
    assert "disk full" in messages[0] and "299 more failed writes" in messages[1] and "work again" in messages[2]
    assert not health.failing


def test_a_full_database_disk_is_a_full_disk():
    """PostgreSQL's SQLSTATE 53100, raised as it is or as the postgresql backend's DatabaseFull."""
    import psycopg

    from bot.storage import is_disk_full
    from kb.state.pg_db import DatabaseFull

    assert is_disk_full(psycopg.errors.DiskFull("could not extend file"))
    assert is_disk_full(DatabaseFull("feedback"))
    assert not is_disk_full(psycopg.errors.AdminShutdown("terminating connection"))
