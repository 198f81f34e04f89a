"""How the assistant is doing, from the ask log and feedback: the numbers per day and per team, similar
unanswered questions grouped, passages cited most and never; the route's JSON and CSV."""
from __future__ import annotations

import csv
import io
import time
from datetime import datetime, timedelta

from bot.analytics import analytics, group_similar
from tests.support.accounts import ADMIN
from tests.support.service import OOS_QUESTION, SEED_QUESTION

NOW = datetime(2026, 3, 10, 15, 0).timestamp()
DAY = 86400.0


def _ask(question, matched, days_ago=0.0, cited="", team=None):
    return {"ts": NOW - days_ago * DAY, "question": question, "matched": matched, "confidence": 0.5,
            "top_passage": None, "cited": cited, "agent": None, "team": team, "site": None}


def test_the_numbers_per_day_and_per_team():
    asks = [_ask("怎么退款", 1, 0, "p1 p2", "A"), _ask("怎么退款", 1, 0, "p1", "B"), _ask("天气", 0, 1, team="A"),
            _ask("太久以前", 1, 9)]
    feedback = [{"ts": NOW, "passage_id": "p1", "helpful": 1, "agent": None, "team": "A"},
                {"ts": NOW - DAY, "passage_id": "p2", "helpful": 0, "agent": None, "team": None}]
    data = analytics(asks[:3], feedback, None, days=3, now=NOW)
    assert [d["date"] for d in data["per_day"]] == ["2026-03-08", "2026-03-09", "2026-03-10"]
    assert [(d["asks"], d["answered"], d["helpful"], d["unhelpful"]) for d in data["per_day"]] == [
        (0, 0, 0, 0), (1, 0, 0, 1), (2, 2, 1, 0)]
    assert data["totals"] == {"asks": 3, "answered": 2, "answered_rate": 0.6667, "helpful": 1, "unhelpful": 1,
                              "helpful_rate": 0.5, "unhelpful_rate": 0.5}
    assert {t["team"]: (t["asks"], t["answered"]) for t in data["per_team"]} == {"A": (2, 1), "B": (1, 1), "": (0, 0)}
    assert [(p["id"], p["count"]) for p in data["most_cited"]] == [("p1", 2), ("p2", 1)]
    only_a = analytics(asks[:3], feedback, None, days=3, team="A", now=NOW)
    assert only_a["totals"]["asks"] == 2 and only_a["teams"] == ["A", "B"]


def test_rewordings_of_one_question_are_grouped():
    questions = [("快递丢了怎么赔偿", 1.0), ("快递丢了怎么赔偿？", 2.0), ("快递丢了要怎么赔偿", 3.0),
                 ("电影推荐", 4.0), ("快递丢了怎么赔偿", 5.0)]
    groups = group_similar(questions)
    assert [(g["question"], g["count"]) for g in groups] == [("快递丢了怎么赔偿", 4), ("电影推荐", 1)]
    assert set(groups[0]["variants"]) == {"快递丢了怎么赔偿？", "快递丢了要怎么赔偿"} and groups[0]["last_ts"] == 5.0


def test_the_route_counts_what_was_asked_and_exports_csv(client):
    for q in (SEED_QUESTION, OOS_QUESTION, OOS_QUESTION + "？"):
        assert client.post("/v1/ask", json={"question": q}).status_code == 200
    data = client.get("/v1/admin/analytics?days=7", headers=ADMIN).json()
    today = data["per_day"][-1]
    assert len(data["per_day"]) == 7 and today["asks"] >= 3 and today["answered"] >= 1
    assert data["top_unanswered"][0]["count"] >= 2 and OOS_QUESTION in (
        [data["top_unanswered"][0]["question"]] + data["top_unanswered"][0]["variants"])
    cited = data["most_cited"][0]
    assert cited["in_current_version"] and cited["title"] and cited["doc"]
    never = data["never_cited"]
    assert 0 < never["count"] < never["of"] and len(never["passages"]) == min(50, never["count"])
    assert cited["id"] not in {p["id"] for p in never["passages"]}
    r = client.get("/v1/admin/analytics?days=7&format=csv&table=per_day", headers=ADMIN)
    assert r.headers["content-type"].startswith("text/csv") and "attachment" in r.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(r.text.lstrip("\ufeff"))))
    assert len(rows) == 7 and int(rows[-1]["asks"]) == today["asks"]
    assert client.get("/v1/admin/analytics?days=0", headers=ADMIN).status_code == 422
    assert time.time() - datetime.fromisoformat(data["to"]).timestamp() < 2 * DAY
    assert datetime.fromisoformat(data["to"]) - datetime.fromisoformat(data["from"]) == timedelta(days=6)
