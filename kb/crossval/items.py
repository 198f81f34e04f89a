"""The labelled questions a cross-validation runs on, their folds, and the figures of a set of results."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kb.labels.model import Label, LabelError, read_label_file


@dataclass(frozen=True)
class Item:
    label: Label
    source: str  # the file it came from (its stem: train, dev, paraphrases, ...)
    group: str  # the question it rephrases (`of`), else its own id: a group stays in one fold

    @property
    def repeats(self) -> str | None:
        """The id of the question this one asks again in other words."""
        return self.label.item.get("of") or None


def read_sets(paths: list[Path]) -> list[Item]:
    """Every file's labels, ids unique across the files (LabelError otherwise)."""
    items: list[Item] = []
    seen: dict[str, str] = {}
    for path in paths:
        for label in read_label_file(path):
            if label.id in seen:
                raise LabelError(f"{path}: id {label.id} 已在 {seen[label.id]} 中 / id {label.id} is in "
                                 f"{seen[label.id]} already")
            seen[label.id] = str(path)
            items.append(Item(label, Path(path).stem, label.item.get("of") or label.id))
    return items


def group_folds(items: list[Item], k: int, seed: int = 0) -> np.ndarray:
    """The fold of each item: groups (a question and its paraphrases) kept together, dealt round-robin within
    each kind (the kind of the group's first item) after a seeded shuffle, so every fold has its share of
    principle, case and out-of-scope questions."""
    groups: dict[str, str] = {}
    for it in items:
        groups.setdefault(it.group, it.label.kind)
    by_kind: dict[str, list[str]] = {}
    for group, kind in groups.items():
        by_kind.setdefault(kind, []).append(group)
    rng = np.random.default_rng(seed)
    fold_of: dict[str, int] = {}
    start = 0
    for kind in sorted(by_kind):
        names = sorted(by_kind[kind])
        rng.shuffle(names)
        for n, group in enumerate(names):
            fold_of[group] = (start + n) % k
        start += len(names)
    return np.asarray([fold_of[it.group] for it in items], dtype=np.int64)


@dataclass
class Row:
    """One question's held-out result."""

    index: int  # into the items (or the test items)
    fold: int
    in_scope: bool
    rank: int | None  # of the first passage that answers it among the first 10 (in scope)
    top: int | None  # the first passage's row
    features: dict[str, float]
    forced: bool | None = None  # a label's fix decided whether it is answered (True: answer, False: none)
    matched: bool | None = None  # filled in once the fold's no-answer model is known


def figures(rows: list[Row]) -> dict:
    ins = [r for r in rows if r.in_scope]
    oos = [r for r in rows if not r.in_scope]
    ranks = [r.rank for r in ins]
    n = len(ins)

    def share(values) -> float | None:
        values = list(values)
        return round(sum(values) / len(values), 3) if values else None

    out = {"n": n, "n_oos": len(oos),
           "R@1": share(r == 1 for r in ranks), "R@5": share(r is not None and r <= 5 for r in ranks),
           "MRR@10": round(sum(1 / r for r in ranks if r) / n, 3) if n else None}
    if all(r.matched is not None for r in rows):
        out["answered"] = share(r.matched for r in ins)
        out["oos_reject"] = share(not r.matched for r in oos)
    return out


def mrr(rows: list[Row]) -> float:
    ins = [r for r in rows if r.in_scope]
    return sum(1 / r.rank for r in ins if r.rank) / len(ins) if ins else 0.0
