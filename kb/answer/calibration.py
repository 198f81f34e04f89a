"""Whether the KB answers a question at all: retrieval signals and the logistic model over them."""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from importlib import resources

from kb.index.bm25 import BM25Index
from kb.passage import Passage
from kb.search import Candidate

FEATURES = ("sentence", "passage", "coverage", "lexical")


def word_idf(index: BM25Index, words: list[str]) -> dict[str, float]:
    """Each question word's idf in the words index (a word absent from the KB gets the highest)."""
    n = index.n_docs
    out = {}
    for w in words:
        col = index.vocab.get(w)
        df = index.df(col) if col is not None else 0
        out[w] = math.log1p((n - df + 0.5) / (df + 0.5))
    return out


def signals(idf: dict[str, float], top: list[tuple[Candidate, Passage]]) -> dict[str, float]:
    """The best hub-corrected sentence and passage cosines among the top 5, the idf-weighted share of the
    question's words found in the best 3 passages, and the strongest BM25 evidence."""
    head = top[:5]
    total = sum(idf.values()) or 1.0
    texts = [p.search_text for _, p in top[:3]]
    covered = sum(v for w, v in idf.items() if any(w in t for t in texts))
    return {
        "sentence": max((c.sentence_adjusted for c, _ in head), default=0.0),
        "passage": max((c.dense_adjusted for c, _ in head), default=0.0),
        "coverage": covered / total if idf else 0.0,
        "lexical": math.log1p(max((c.words_score for c, _ in head), default=0.0)),
    }


LABEL_FEATURE = "label_margin"  # with labels in use: best cosine to an in-scope label minus to an out-of-scope one


@dataclass
class Calibration:
    """Logistic model over retrieval signals → probability that the KB answers the question.

    Signals: the best hub-corrected sentence and passage cosines among the top results, the idf-weighted
    share of the question's words found in the best passages, the strongest BM25 evidence, and with labels in
    use how much nearer the question is to an answerable label than to an unanswerable one (kb/labels/keys.py).
    Fitted by `kb calibrate` on labelled questions and stored in kb/state (`CalibrationStore`); the shipped
    model (kb/resources/calibration.json) serves without labels. The decision threshold is a setting.
    """

    bias: float
    weights: dict

    @classmethod
    def from_dict(cls, raw: dict) -> "Calibration":
        return cls(float(raw["bias"]), {f: float(w) for f, w in raw["weights"].items()})

    @classmethod
    def shipped(cls) -> "Calibration":
        return cls.from_dict(json.loads(resources.files("kb.resources").joinpath("calibration.json").read_text()))

    @classmethod
    def choose(cls, stored: dict | None, use_labels: bool) -> "Calibration":
        """The stored model when labels are in use and it uses only signals an answer has; else the shipped
        one (KB_USE_LABELS=false serves as if nothing had been fitted on labels)."""
        known = set(FEATURES) | {LABEL_FEATURE}
        if use_labels and stored and set(stored.get("weights", {})) <= known:
            return cls.from_dict(stored)
        return cls.shipped()

    def confidence(self, features: dict) -> float:
        z = self.bias + sum(w * features[f] for f, w in self.weights.items())
        return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))
