"""How the assistant is doing, from the ask log and the feedback (bot/state): questions per day, the answered
rate, 👍 / 👎 rates, the unanswered questions grouped by similarity, the passages cited most and those never
cited, per team where the widget passed an identity. What GET /v1/admin/analytics returns.

Similar questions are grouped without the model: by the overlap of their character pairs (Jaccard of
bigrams, at least SIMILAR), each joining the most frequent group it is close to — a cheap, deterministic
grouping that puts re-wordings of one question together.
"""
from __future__ import annotations

import re
import time
from collections import Counter, defaultdict
from datetime import datetime, timedelta
from typing import Any

SIMILAR = 0.5
MAX_DISTINCT_UNANSWERED = 2000  # the most frequent distinct unanswered questions that are grouped
TOP = 20
NEVER_CITED_LISTED = 50
_NOISE = re.compile(r"[\s\W_]+", re.UNICODE)
ANONYMOUS = ""  # the team of questions asked without an identity


def _day(ts: float) -> str:
    return datetime.fromtimestamp(ts).date().isoformat()


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _bigrams(text: str) -> frozenset[str]:
    t = _NOISE.sub("", text.lower())
    return frozenset(t[i:i + 2] for i in range(len(t) - 1)) or frozenset([t])


def _jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    return len(a & b) / len(a | b) if a or b else 0.0


def group_similar(questions: list[tuple[str, float]], top: int = TOP) -> list[dict[str, Any]]:
    """(question, ts) pairs -> groups of similar questions, most asked first: the most asked wording, how often
    the group was asked, other wordings, when last."""
    counts = Counter(q for q, _ in questions)
    last: dict[str, float] = {}
    for q, ts in questions:
        last[q] = max(ts, last.get(q, 0.0))
    groups: list[dict[str, Any]] = []
    for q, n in counts.most_common(MAX_DISTINCT_UNANSWERED):
        grams = _bigrams(q)
        best = max(groups, key=lambda g: _jaccard(grams, g["_grams"]), default=None)
        if best is not None and _jaccard(grams, best["_grams"]) >= SIMILAR:
            best["count"] += n
            best["variants"].append(q)
            best["last_ts"] = max(best["last_ts"], last[q])
        else:
            groups.append({"question": q, "count": n, "variants": [], "last_ts": last[q], "_grams": grams})
    groups.sort(key=lambda g: (-g["count"], -g["last_ts"]))
    return [{k: (v[:5] if k == "variants" else v) for k, v in g.items() if k != "_grams"} for g in groups[:top]]


def _passage_view(kb, pid: str) -> dict[str, Any]:
    p = kb.get_passage(pid) if kb is not None else None
    if p is None:
        return {"id": pid, "title": None, "doc": None, "in_current_version": False}
    view = p.model_dump() if hasattr(p, "model_dump") else dict(p)
    return {"id": pid, "title": view.get("title") or None, "doc": view.get("doc_title") or view.get("doc"),
            "kind": view.get("kind"), "in_current_version": True}


def never_cited(kb, cited: set[str], listed: int = NEVER_CITED_LISTED) -> dict[str, Any]:
    """The current version's passages none of `cited`: how many, and the first `listed` (document order)."""
    if kb is None:
        return {"count": None, "passages": []}
    total = int(kb.stats()["passages"])
    found, count = [], 0
    for start in range(0, total, 1000):
        for p in kb.passages(list(range(start, min(total, start + 1000)))):
            if p.id in cited:
                continue
            count += 1
            if len(found) < listed:
                found.append({"id": p.id, "title": p.title or None, "doc": p.doc_title, "kind": p.kind})
    return {"count": count, "of": total, "passages": found}


def _summary(asks: list[dict], feedback: list[dict]) -> dict[str, Any]:
    answered = sum(1 for a in asks if a["matched"])
    up = sum(1 for f in feedback if f["helpful"])
    down = len(feedback) - up
    return {"asks": len(asks), "answered": answered, "answered_rate": _rate(answered, len(asks)),
            "helpful": up, "unhelpful": down, "helpful_rate": _rate(up, up + down),
            "unhelpful_rate": _rate(down, up + down)}


def analytics(asks: list[dict], feedback: list[dict], kb, days: int, team: str | None = None,
              now: float | None = None) -> dict[str, Any]:
    """The numbers for the last `days` days (today included) from rows of AskLog.since / FeedbackStore.since;
    `team` keeps one team's ("" = anonymous)."""
    now = time.time() if now is None else now
    teams = sorted({a["team"] or ANONYMOUS for a in asks})
    if team is not None:
        asks = [a for a in asks if (a["team"] or ANONYMOUS) == team]
        feedback = [f for f in feedback if (f["team"] or ANONYMOUS) == team]
    today = datetime.fromtimestamp(now).date()
    per_day: dict[str, dict[str, int]] = {(today - timedelta(days=n)).isoformat(): defaultdict(int)
                                          for n in range(days - 1, -1, -1)}
    for a in asks:
        d = per_day.get(_day(a["ts"]))
        if d is not None:
            d["asks"] += 1
            d["answered"] += 1 if a["matched"] else 0
    for f in feedback:
        d = per_day.get(_day(f["ts"]))
        if d is not None:
            d["helpful" if f["helpful"] else "unhelpful"] += 1
    cited = Counter(pid for a in asks for pid in (a["cited"] or "").split())
    by_team: dict[str, tuple[list, list]] = defaultdict(lambda: ([], []))
    for a in asks:
        by_team[a["team"] or ANONYMOUS][0].append(a)
    for f in feedback:
        by_team[f["team"] or ANONYMOUS][1].append(f)
    return {
        "days": days, "from": min(per_day), "to": max(per_day), "team": team, "teams": teams,
        "totals": _summary(asks, feedback),
        "per_day": [{"date": k, "asks": v["asks"], "answered": v["answered"],
                     "answered_rate": _rate(v["answered"], v["asks"]), "helpful": v["helpful"],
                     "unhelpful": v["unhelpful"]} for k, v in per_day.items()],
        "per_team": [{"team": t, **_summary(*rows)} for t, rows in sorted(by_team.items())],
        "top_unanswered": group_similar([(a["question"], a["ts"]) for a in asks if not a["matched"]]),
        "most_cited": [{**_passage_view(kb, pid), "count": n} for pid, n in cited.most_common(TOP)],
        "never_cited": never_cited(kb, set(cited)),
    }


def first_day(days: int, now: float | None = None) -> float:
    """The Unix time at which the window of the last `days` days starts (local midnight)."""
    start = datetime.fromtimestamp(time.time() if now is None else now).date() - timedelta(days=days - 1)
    return datetime.combine(start, datetime.min.time()).timestamp()


__all__ = ["analytics", "first_day", "group_similar", "never_cited"]
