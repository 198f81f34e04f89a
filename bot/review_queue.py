"""The review queue as editors work it: agents' 👎 answers and unanswered questions, the same and
near-identical questions grouped with their counts, and what editors do with a group.

- A group: questions equal under the match rule's normalisation, then near-identical ones - a cosine to the
  group's first (most asked) question of at least the labels' fix cosine, i.e. the questions that fixing the
  first one also fixes (kb/labels/keys.py).
- An item leaves the queue once its question was decided after it was asked (bot/state/review.py) or a label
  with its question was stored after it was asked; asked again later (the fix did not help), it comes back.
- Fixing a group stores one label for its first question (an editor's label: the picked passage as an
  identifying phrase plus its id, kb/labels/resolve.py; or out of scope) and decides every question of the
  group. Every worker answers with it within about a second (kb/labels/live.py).
"""
from __future__ import annotations

import numpy as np

from kb.labels.keys import FIX_COSINE, key_text
from kb.labels.model import Label, editor_label
from kb.labels.resolve import PassageMatcher, identifying_phrase
from kb.text import match_key

# A fix reaches every worker within a second or two: a question asked that soon after it was still answered
# the old way, and does not bring its group back.
IN_EFFECT_SECONDS = 5.0


def open_items(records, labels: list[Label], limit: int) -> list[dict]:
    """The queue's items, newest first, without those decided or labelled since they were asked."""
    decided = records.decisions.decisions()
    labelled: dict[str, float] = {}
    for label in labels:
        labelled[label.key] = max(labelled.get(label.key, 0.0), label.created_at)
    out = []
    for item in records.review_queue(limit):
        key = match_key(item["question"])
        decision = decided.get(key)
        decided_at = max(decision.ts if decision is not None else -1.0, labelled.get(key, -1.0))
        if decided_at + IN_EFFECT_SECONDS >= item["ts"]:
            continue
        out.append({**item, "key": key})
    return out


def group_items(items: list[dict], encoder) -> list[dict]:
    """Groups of the same and near-identical questions, the most asked first."""
    by_key: dict[str, list[dict]] = {}
    for item in items:
        if item["key"]:
            by_key.setdefault(item["key"], []).append(item)
    keys = sorted(by_key, key=lambda k: (-len(by_key[k]), -max(i["ts"] for i in by_key[k])))
    if not keys:
        return []
    vectors = encoder.encode_queries([key_text(by_key[k][0]["question"]) for k in keys])
    leaders: list[int] = []
    members: dict[int, list[str]] = {}
    for i in range(len(keys)):
        if leaders:
            sims = vectors[leaders] @ vectors[i]
            best = int(np.argmax(sims))
            if sims[best] >= FIX_COSINE:
                members[leaders[best]].append(keys[i])
                continue
        leaders.append(i)
        members[i] = [keys[i]]
    groups = [_group([item for k in members[i] for item in by_key[k]], members[i]) for i in leaders]
    return sorted(groups, key=lambda g: (-g["count"], -g["last_ts"]))


def _group(items: list[dict], keys: list[str]) -> dict:
    texts: dict[str, int] = {}
    for item in items:
        texts[item["question"]] = texts.get(item["question"], 0) + 1
    newest = max(items, key=lambda i: (i["ts"], i["id"]))
    first = max((i for i in items if i["key"] == keys[0]),  # the most asked wording of the most asked question
                key=lambda i: (texts[i["question"]], i["ts"]))["question"]
    return {
        "id": keys[0], "question": first, "count": len(items), "keys": keys,
        "questions": [{"text": t, "count": n} for t, n in sorted(texts.items(), key=lambda x: -x[1])],
        "feedback": sum(1 for i in items if i["type"] == "feedback"),
        "unanswered": sum(1 for i in items if i["type"] == "unanswered"),
        "comments": list(dict.fromkeys(i["comment"] for i in items if i.get("comment")))[:5],
        "last_ts": newest["ts"],
        "answer": {"type": newest["type"], "passage_id": newest.get("passage_id"),
                   "confidence": newest.get("confidence"), "version": newest.get("version")},
    }


def describe_answers(groups: list[dict], kb) -> None:
    """What the bot answered each group with, as the served version holds that passage (title, kind)."""
    for g in groups:
        pid = g["answer"]["passage_id"]
        view = kb.get_passage(pid) if (kb is not None and pid) else None
        g["answer"]["title"] = (view.title or view.section_path or view.text[:40]) if view else None
        g["answer"]["kind"] = view.kind if view else None
        g["answer"]["in_version"] = view is not None


def fix_label(kb, question: str, action: str, passage_id: str | None, editor: str) -> Label | None:
    """The label `editor`'s fix stores (None for a dismissal); ValueError (中文 / English) for a passage the
    served version does not hold."""
    if action == "dismiss":
        return None
    if action == "oos":
        return editor_label(question, "oos", [], None, editor, note="review queue: out of scope")
    matcher = kb.labels.matcher if kb.labels is not None else PassageMatcher(kb.all_passages())
    if passage_id not in matcher.row_of:
        raise ValueError(f"当前版本中没有这个段落 / no such passage in the served version: {passage_id}")
    row = matcher.row_of[passage_id]
    passage = matcher.passages[row]
    kind = passage.kind if passage.kind in ("principle", "case") else "principle"
    return editor_label(question, kind, [identifying_phrase(row, matcher)], passage_id, editor,
                        note=f"review queue: {passage.title or passage.section_path}")
