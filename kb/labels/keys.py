"""Similar questions as a retrieval channel: every label's question is a key of the passages that answer it.

A key is the label's question encoded exactly as a question is ("query: " prompt, Simplified), by the model
the version was built with; dense only (BM25 over the keys was measured to hurt). The question's own vector
is reused: matching it against the keys is one (keys x dim) product, no second encode.

What a match gives (`LabelHit`), and how the answer uses it (kb/labels/rules.py):
- `fix`: the label the question is the same as - equal text under the match rule's normalisation, or a
  cosine to its key of at least `LabelRules.fix_cosine`. Its passage is answered first (an out-of-scope label:
  no answer). This is the editor's fix.
- otherwise the nearest in-scope key's passages (`nearest_rows`) get a bonus to their fused score when the
  question's own evidence already put them in its top `agree_depth` ("agree"): a wrong label cannot pull an
  unrelated passage up from nowhere.
- `margin`: the best cosine to an in-scope key minus the best to an out-of-scope one (-1 for a missing side),
  a signal of the no-answer model.
The constants are chosen by cross-validation over the labelled questions (`kb eval --cv`, docs/quality.md).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from kb.labels.model import Label
from kb.labels.resolve import PassageMatcher, resolve
from kb.text import display_text, match_key, to_simplified

# Chosen by `kb eval --cv 5` over the 345 labelled seed questions (train + dev + paraphrases, a paraphrase group
# in one fold; docs/quality.md), the same in every fold: the fix cosine is the lowest at which a key's fix
# would have answered at most 1 % of the other folds' unrelated questions wrongly (0.940 did for 1.2 %); the
# agree bonus and depth are the pair with the best held-out repeated-need MRR@10 that costs new needs at most 0.01.
FIX_COSINE = 0.945
AGREE_BONUS = 0.05  # in fused (weighted RRF) score units; the top fused score is at most 3.75 / 11
AGREE_DEPTH = 20  # the nearest key's passage gets the bonus only from the question's own fused top 20 (chosen with the bonus)
NO_KEY = -1.0


@dataclass(frozen=True)
class LabelRules:
    fix_cosine: float = FIX_COSINE
    agree_bonus: float = AGREE_BONUS
    agree_depth: int = AGREE_DEPTH


@dataclass(frozen=True)
class LabelHit:
    fix: Label | None  # the label this question is the same as
    fix_rows: tuple[int, ...]  # its passages (empty for an out-of-scope label)
    nearest_rows: tuple[int, ...]  # the passages of the nearest in-scope key
    key_best: float  # best cosine to an in-scope key (NO_KEY without one)
    oos_best: float  # best cosine to an out-of-scope key (NO_KEY without one)

    @property
    def margin(self) -> float:
        return self.key_best - self.oos_best


def key_text(question: str) -> str:
    """What the model encodes for a label's question: what it encodes for an agent's question."""
    return to_simplified(display_text(question))


@dataclass(frozen=True)
class Keys:
    """An immutable set of keys over one version's passages; a change of labels builds a new one."""

    labels: list[Label]  # the keys: resolved in-scope labels and out-of-scope ones
    vectors: np.ndarray  # (len(labels), dim) float32, normalised
    rows: list[tuple[int, ...]]  # each key's passages (empty for out of scope)
    unresolved: list[Label]  # in-scope labels no passage answers: reported, not keys
    revision: int = 0
    rules: LabelRules = field(default_factory=LabelRules)

    def __post_init__(self):
        in_scope = np.asarray([bool(r) for r in self.rows], dtype=bool)
        object.__setattr__(self, "_in", np.flatnonzero(in_scope))
        object.__setattr__(self, "_out", np.flatnonzero(~in_scope))
        same: dict[str, int] = {}
        for i, label in enumerate(self.labels):  # later labels win; an editor's fix wins over an import
            if label.key not in same or label.source == "editor" or self.labels[same[label.key]].source != "editor":
                same[label.key] = i
        object.__setattr__(self, "_same", same)

    def __len__(self) -> int:
        return len(self.labels)

    def with_rules(self, rules: LabelRules) -> "Keys":
        return Keys(self.labels, self.vectors, self.rows, self.unresolved, self.revision, rules)

    def match(self, qv: np.ndarray, question: str) -> LabelHit | None:
        """None without keys."""
        if not self.labels:
            return None
        sims = self.vectors @ np.asarray(qv, dtype=np.float32)
        key_best = oos_best = NO_KEY
        nearest: tuple[int, ...] = ()
        if len(self._in):
            j = int(self._in[np.argmax(sims[self._in])])
            key_best, nearest = float(sims[j]), self.rows[j]
        if len(self._out):
            oos_best = float(sims[self._out].max())
        fix = self._same.get(match_key(question))
        if fix is None:
            top = int(np.argmax(sims))
            fix = top if sims[top] >= self.rules.fix_cosine else None
        label = self.labels[fix] if fix is not None else None
        return LabelHit(label, self.rows[fix] if fix is not None else (), nearest, key_best, oos_best)


def build_keys(labels: list[Label], matcher: PassageMatcher, vectors_for: Callable[[list[str]], np.ndarray],
               dim: int, revision: int = 0, rules: LabelRules | None = None) -> Keys:
    """Keys of `labels` over the matcher's version. vectors_for(texts): their query vectors (key_text)."""
    resolution = resolve(labels, matcher)
    keys = [label for label in labels if not label.in_scope or label.id in resolution.rows]
    vectors = vectors_for([key_text(label.question) for label in keys]) if keys else np.zeros((0, dim), np.float32)
    return Keys(keys, np.asarray(vectors, dtype=np.float32), [resolution.rows.get(label.id, ()) for label in keys],
                resolution.unresolved, revision, rules or LabelRules())
