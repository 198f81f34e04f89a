"""The service's record interfaces (bot/state/base.py), the same assertions for every backend in
tests/support/state_backends.py: ask log, feedback, jobs and the job lock."""
from __future__ import annotations

import threading
import time

import pytest

from bot.state import open_app_state


@pytest.fixture()
def records(state_backend, tmp_path):
    opened = open_app_state(state_backend.settings(tmp_path))
    yield opened
    opened.close()


def _answer(question: str, matched: bool, top: str | None = "p1") -> dict:
    passages = [{"id": top, "title": "标题", "doc": "a.txt"}] if top else []
    return {"question": question, "matched": matched, "confidence": 0.8 if matched else 0.1,
            "principles": passages if matched else [], "cases": [], "passages": passages,
            "session_id": "s1", "version": "v1"}


# --- ask log and feedback -----------------------------------------------------------------------

def test_every_question_asked_is_counted_and_the_unanswered_listed_newest_first(records):
    records.asks.log(_answer("怎么退款", True), 12.3)
    records.asks.log(_answer("电影推荐", False), 5.0)
    records.asks.log(_answer("天气如何", False, top=None), 4.0)
    unanswered = records.asks.unanswered(10)  # a read writes the queue first
    assert [(i["type"], i["question"], i["passage_id"]) for i in unanswered] == [
        ("unanswered", "天气如何", None), ("unanswered", "电影推荐", "p1")]
    assert unanswered[1]["confidence"] == pytest.approx(0.1) and unanswered[1]["version"] == "v1"
    assert records.asks.unanswered(1) == unanswered[:1]
    assert records.asks.counts() == {"asks": 3, "unanswered": 2, "asks_waiting": 0, "asks_dropped": 0}


def test_questions_queued_at_close_are_written(state_backend, tmp_path):
    first = open_app_state(state_backend.settings(tmp_path))
    for n in range(50):
        first.asks.log(_answer(f"问题{n}", n % 2 == 0), 1.0)
    first.close()
    again = open_app_state(state_backend.settings(tmp_path))
    try:
        assert again.asks.counts()["asks"] == 50
    finally:
        again.close()


def test_feedback_and_the_review_queue(records):
    first = records.feedback.add("客户要发票", "p1", False, "缺发票流程", session_id="s1", version="v1")
    second = records.feedback.add("这条有用", "p2", True, None)
    assert second > first
    records.asks.log(_answer("电影推荐", False), 1.0)
    time.sleep(0.01)
    records.feedback.add("还是不对", None, False, "")
    assert [(i["type"], i["question"], i["comment"]) for i in records.feedback.unhelpful(10)] == [
        ("feedback", "还是不对", None), ("feedback", "客户要发票", "缺发票流程")]
    queue = records.review_queue(10)
    assert [i["question"] for i in queue] == ["还是不对", "电影推荐", "客户要发票"]
    assert [i["ts"] for i in queue] == sorted((i["ts"] for i in queue), reverse=True)
    assert records.review_queue(2) == queue[:2]
    assert records.counts() == {"asks": 1, "unanswered": 1, "feedback": 3, "unhelpful": 2, "asks_waiting": 0,
                                "asks_dropped": 0}


# --- jobs ---------------------------------------------------------------------------------------

def _job(job_id: str, state: str, **more) -> dict:
    return {"id": job_id, "kind": "reindex", "state": state, "owner": "someone", "created_at": time.time(), **more}


def test_jobs_are_saved_read_back_and_failed_together(records):
    jobs = records.jobs
    assert jobs.get("nope") is None and jobs.unfinished() == [] and jobs.recent(5) == []
    jobs.save(_job("j1", "succeeded", report={"passages": 3}))
    jobs.save(_job("j2", "running", stage="embed"))
    jobs.save(_job("j3", "queued"))
    jobs.save(_job("j2", "running", stage="index"))  # saved again: updated, now the most recent
    assert jobs.get("j2")["stage"] == "index" and jobs.get("j1")["report"] == {"passages": 3}
    assert [j["id"] for j in jobs.unfinished()] == ["j2", "j3"]
    assert [j["id"] for j in jobs.recent(2)] == ["j2", "j3"]
    assert sorted(jobs.fail_unfinished("stopped")) == ["j2", "j3"]
    assert jobs.unfinished() == []
    assert jobs.get("j3")["state"] == "failed" and jobs.get("j3")["error"] == "stopped"
    assert jobs.get("j1")["state"] == "succeeded"


def test_every_process_sees_the_same_jobs(state_backend, tmp_path):
    settings = state_backend.settings(tmp_path)
    first, second = open_app_state(settings), open_app_state(settings)
    try:
        first.jobs.save(_job("shared", "running"))
        assert second.jobs.get("shared")["state"] == "running"
    finally:
        first.close()
        second.close()


def test_the_job_lock_has_one_holder(state_backend, tmp_path):
    settings = state_backend.settings(tmp_path)
    first, second = open_app_state(settings), open_app_state(settings)
    try:
        mine, theirs = first.jobs.lock("mine"), second.jobs.lock("theirs")
        assert mine.instance_id == "mine" and mine.holder() is None
        assert mine.try_acquire()
        assert not theirs.try_acquire() and theirs.holder() == "mine" and mine.holder() == "mine"
        results: list[bool] = []
        t = threading.Thread(target=lambda: results.append(first.jobs.lock().try_acquire()))
        t.start()
        t.join()
        assert results == [False]  # another runner in the same process is excluded too
        mine.release()
        assert theirs.holder() is None
        assert theirs.try_acquire() and mine.holder() == "theirs"
        theirs.release()
        assert len(first.jobs.lock().instance_id) >= 8  # a fresh id unless given
    finally:
        first.close()
        second.close()


def test_an_unsupported_database_url_is_refused(tmp_path):
    from pydantic import SecretStr

    from kb.settings import Settings
    from kb.state import UnsupportedDatabaseURL

    with pytest.raises(UnsupportedDatabaseURL):
        open_app_state(Settings(data_dir=tmp_path, database_url=SecretStr("mysql://kb@db/kb")))


# --- review decisions ---------------------------------------------------------------------------

def test_review_decisions_are_the_latest_per_question(records):
    decisions = records.decisions
    assert decisions.decisions() == {}
    first = decisions.decide(["退款多久", "退款要多久"], "answer", "e-1", "admin")
    later = decisions.decide(["退款多久", ""], "dismiss", None, "editor-2")  # an empty key is no question
    got = decisions.decisions()
    assert set(got) == {"退款多久", "退款要多久"}
    assert (got["退款多久"].action, got["退款多久"].label_id, got["退款多久"].decided_by) == ("dismiss", None, "editor-2")
    assert (got["退款要多久"].action, got["退款要多久"].label_id, got["退款要多久"].ts) == ("answer", "e-1", first)
    assert got["退款多久"].ts == later >= first
    with pytest.raises(ValueError):
        decisions.decide(["x"], "delete-everything", None, "admin")
