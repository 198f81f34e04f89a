"""Evaluation on labelled questions (the dev.jsonl format): R@k, MRR@10, answered, oos_reject.

Match rule (as in the shared eval README): a passage answers an item when match_key(passage text +
title + section) contains match_key(gold) for some gold phrase.
"""
from __future__ import annotations

import statistics
from pathlib import Path

from kb.labels.model import LabelError, read_label_file
from kb.text import match_key


class EvalFileError(ValueError):
    pass


def read_items(path: Path) -> list[dict]:
    """The file's questions as dicts (every field as given, `id` filled in), read as labels are
    (kb/labels/model.py): EvalFileError names the first bad line."""
    try:
        labels = read_label_file(Path(path))
    except LabelError as exc:
        raise EvalFileError(str(exc)) from None
    return [{**label.item, "id": label.id, "question": label.question, "gold": list(label.gold)} for label in labels]


def match_text(text: str, title: str, section) -> str:
    """What a gold phrase is looked for in: the passage's text, title and heading path, normalised."""
    return match_key(text + title + str(section))


def first_hit(passages: list[dict], gold: list[str]) -> int | None:
    keys = [match_key(g) for g in gold]
    for rank, p in enumerate(passages, 1):
        text = match_text(p.get("text", ""), p.get("title", ""), p.get("section", ""))
        if any(k and k in text for k in keys):
            return rank
    return None


def score_items(items: list[dict], answers: list[dict]) -> dict:
    ranks, answered, oos, rows, lens = [], [], [], [], []
    for item, ans in zip(items, answers):
        passages = ans.get("passages") or []
        lens += [len(p.get("text", "")) for p in passages[:5]]
        matched = bool(ans.get("matched"))
        row = {"id": item["id"], "kind": item["kind"], "question": item["question"], "matched": matched,
               "confidence": ans.get("confidence"),
               "top": (passages[0].get("title") or passages[0].get("text", "")[:60]) if passages else None}
        if item["kind"] == "oos":
            oos.append(not matched)
        else:
            r = first_hit(passages[:10], item["gold"])
            ranks.append(r)
            answered.append(matched)
            row["rank"] = r
        rows.append(row)
    n = len(ranks)

    def recall(k: int) -> float:
        return round(sum(1 for r in ranks if r is not None and r <= k) / n, 3) if n else 0.0

    return {
        "n_in_scope": n, "n_oos": len(oos),
        "R@1": recall(1), "R@3": recall(3), "R@5": recall(5),
        "MRR@10": round(sum(1 / r for r in ranks if r) / n, 3) if n else 0.0,
        "answered": round(sum(answered) / n, 3) if n else 0.0,
        "oos_reject": round(sum(oos) / len(oos), 3) if oos else None,
        "avg_len_top5": round(statistics.mean(lens)) if lens else None,
        "rows": rows,
    }


def evaluate_items(kb, items: list[dict], mode: str = "hybrid") -> dict:
    """Ask every item (no session) and score. mode: hybrid (the real answer path), dense or bm25."""
    answers = []
    for item in items:
        if mode == "hybrid":
            answers.append(kb.ask(item["question"], top_k=10).model_dump())
        else:
            res = kb.search(item["question"], 10, mode=mode)
            ps = kb.passages([c.row for c in res.candidates])
            answers.append({"matched": True, "passages": [
                {"text": p.text, "title": p.title, "section": p.section} for p in ps]})
    return score_items(items, answers)


def evaluate_file(kb, path: Path, mode: str = "hybrid") -> dict:
    return evaluate_items(kb, read_items(path), mode)
