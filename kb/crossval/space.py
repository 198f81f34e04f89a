"""A model's view of the KB for the cross-validation, and the searcher a fold answers with.

`Space` is the seam for a fine-tuned model: the base model's space is the KB's own vectors and encoder; a
tuned model (`kb tune`) gives its own question encoder and its own passage and sentence vectors of the same
version. `run_cv(..., tuned=space_for)` calls `space_for(training labels)` for every fold, so a fold's model
never saw its held-out questions. Everything derived from a space is recomputed from it: the hub scores, the
keys' vectors, the no-answer model's signals.
"""
from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from kb.labels.model import Label
from kb.labels.reference import text_key
from kb.search import QUESTION_HUB_K, HybridSearcher, hub_scores, question_hub_scores


@dataclass
class Space:
    name: str
    encode: Callable[[list[str]], np.ndarray]  # query vectors of question texts (kb.labels.keys.key_text)
    vectors: np.ndarray  # passage vectors, rows of the version
    unit_vectors: np.ndarray  # sentence vectors, rows of the version
    exact: bool = False  # search by products over these vectors (not the version's own indexes)
    _cache: dict[bytes, np.ndarray] = field(default_factory=dict, repr=False)  # by kb.labels.reference.text_key
    _self_hubs: tuple | None = field(default=None, repr=False)

    def queries(self, texts: list[str]) -> np.ndarray:
        """Query vectors, each text encoded once per space."""
        keys = [text_key(t) for t in texts]
        todo = list(dict.fromkeys(t for t, key in zip(texts, keys) if key not in self._cache))
        if todo:
            for t, v in zip(todo, self.encode(todo)):
                self._cache[text_key(t)] = np.asarray(v, dtype=np.float32)
        return np.stack([self._cache[key] for key in keys]) if texts else np.zeros((0, self.vectors.shape[1]),
                                                                                   np.float32)

    def hubs(self, reference: list[str] | None) -> tuple[np.ndarray, np.ndarray]:
        """Passage and sentence hub scores: against the reference questions when there are at least
        QUESTION_HUB_K of them (labels in use), else against the passages themselves (as ingest does)."""
        if reference is not None and len(reference) >= QUESTION_HUB_K:
            ref = self.queries(reference)
            return question_hub_scores(self.vectors, ref), question_hub_scores(self.unit_vectors, ref)
        if self._self_hubs is None:
            self._self_hubs = hub_scores(self.vectors), hub_scores(self.unit_vectors)
        return self._self_hubs


SpaceFor = Callable[[list[Label]], Space]  # training labels -> the space of a model that learned only from them


def base_space(kb, known: dict[bytes, np.ndarray] | None = None) -> Space:
    """The KB's own model and vectors. known: question vectors computed already, by text_key (a build passes
    its version's reference vectors, which its keys use too)."""
    s = kb.searcher
    return Space("base", kb.encoder.encode_queries, np.asarray(s.vectors, dtype=np.float32),
                 np.asarray(s.unit_vectors, dtype=np.float32), _cache=dict(known or {}))


class _ExactIndex:
    """Tells the searcher to search by products over the vectors it holds (kb.search `_exact`)."""

    kind = "flat"


def fold_searcher(kb, space: Space, hubs: tuple[np.ndarray, np.ndarray]) -> HybridSearcher:
    """The KB's searcher over a space's vectors with the given hub scores; the lexical channels unchanged."""
    searcher = copy.copy(kb.searcher)
    searcher.vectors, searcher.unit_vectors = space.vectors, space.unit_vectors
    searcher.hubs, searcher.unit_hubs = hubs
    if space.exact:
        searcher.dense = searcher.units = _ExactIndex()
    return searcher
