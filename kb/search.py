"""Hybrid retrieval over four channels, fused by weighted reciprocal rank:

- dense passage: e5 cosine of the question and the whole passage (with its headings);
- dense sentence: the passage's best-matching sentence ("small to big");
- BM25 over jieba words and BM25 over character bigrams (typos, missing characters, unknown words).

Each channel also keeps its raw evidence, used later to decide whether the KB answers at all.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from kb.index.bm25 import BM25Index
from kb.index.dense import DenseIndex
from kb.text import display_text, search_text, to_simplified
from kb.tokenize import Tokenizer


@dataclass
class FusionWeights:
    """Chosen by measurement on the dev set (README, "Retrieval"); a broad plateau, not a sharp optimum."""

    passage: float = 1.0
    sentence: float = 1.5
    words: float = 0.75
    chars: float = 0.5
    k: float = 10.0  # RRF constant: small, so a channel's first places count
    hubness: float = 1.0  # how much of a vector's hub score is subtracted from its cosine


def hub_scores(vectors: np.ndarray, k: int = 10, sample: int = 5000, seed: int = 0) -> np.ndarray:
    """Mean cosine of each vector with its k nearest neighbours (in a sample when the set is large).

    Some passages are close to almost every question ("hubs": generic text that e5 places near the
    centre); subtracting half their hub score from their cosine (CSLS) stops them crowding the top.
    """
    vectors = np.asarray(vectors, dtype=np.float32)
    n = len(vectors)
    if n == 0:
        return np.zeros(0, dtype=np.float32)
    ref = vectors if n <= sample else vectors[np.random.default_rng(seed).choice(n, sample, replace=False)]
    k = min(k, len(ref))
    out = np.empty(n, dtype=np.float32)
    for start in range(0, n, 4096):
        sims = vectors[start:start + 4096] @ ref.T
        out[start:start + 4096] = np.partition(sims, -k, axis=1)[:, -k:].mean(1)
    return out


@dataclass
class Candidate:
    row: int
    score: float = 0.0  # fused score
    dense: float = 0.0  # cosine with the whole passage
    sentence: float = 0.0  # cosine with the best sentence
    sentence_index: int = -1  # which sentence of the passage matched best
    dense_adjusted: float = 0.0  # cosines less half the hub score: what the dense channels rank by
    sentence_adjusted: float = 0.0
    words_score: float = 0.0
    chars_score: float = 0.0
    ranks: dict = field(default_factory=dict)


@dataclass
class SearchResult:
    candidates: list[Candidate]
    query_words: list[str]
    query_bigrams: list[str]
    timings_ms: dict = field(default_factory=dict)


class HybridSearcher:
    def __init__(self, dense: DenseIndex, units: DenseIndex, vectors: np.ndarray, unit_vectors: np.ndarray,
                 unit_offsets: np.ndarray, words: BM25Index, chars: BM25Index, tokenizer: Tokenizer, encoder,
                 hubs: np.ndarray | None = None, unit_hubs: np.ndarray | None = None,
                 weights: FusionWeights | None = None, depth: int = 100):
        self.dense = dense
        self.units = units
        self.vectors = vectors
        self.unit_vectors = unit_vectors
        self.unit_offsets = unit_offsets
        self.hubs = hubs if hubs is not None else np.zeros(len(vectors), dtype=np.float32)
        self.unit_hubs = unit_hubs if unit_hubs is not None else np.zeros(len(unit_vectors), dtype=np.float32)
        self.words = words
        self.chars = chars
        self.tokenizer = tokenizer
        self.encoder = encoder
        self.weights = weights or FusionWeights()
        self.depth = depth

    def _unit_owner(self, unit_rows: np.ndarray) -> np.ndarray:
        return np.searchsorted(self.unit_offsets, unit_rows, side="right") - 1

    def _exact_dense(self, cands: list[Candidate], qv: np.ndarray) -> None:
        """Passage and best-sentence cosines for every candidate, whichever channel found it, and the
        hub-corrected scores the dense channels are ranked by. One gather and one product for all
        candidates' sentences (a loop over candidates cost ~2 ms of numpy call overhead per question)."""
        lam = self.weights.hubness / 2
        rows = np.fromiter((c.row for c in cands), dtype=np.int64, count=len(cands))
        passage = self.vectors[rows] @ qv
        corrected = passage - lam * self.hubs[rows]
        starts, ends = self.unit_offsets[rows], self.unit_offsets[rows + 1]
        counts = ends - starts
        first = np.concatenate(([0], np.cumsum(counts)[:-1]))  # where each candidate's units begin
        units = np.repeat(starts - first, counts) + np.arange(int(counts.sum()))
        sims = self.unit_vectors[units] @ qv
        adjusted = sims - lam * self.unit_hubs[units]
        owner = np.repeat(np.arange(len(rows)), counts)
        # Per candidate, the first of its best units (what np.argmax would pick): sort by owner, then score.
        order = np.lexsort((-adjusted, owner))
        has = counts > 0
        best = np.full(len(rows), -1, dtype=np.int64)
        best[has] = order[first[has]]
        for i, c in enumerate(cands):
            c.dense = float(passage[i])
            c.dense_adjusted = float(corrected[i])
            b = best[i]
            if b >= 0:
                c.sentence, c.sentence_adjusted = float(sims[b]), float(adjusted[b])
                c.sentence_index = int(b - first[i])
            else:
                c.sentence, c.sentence_adjusted = c.dense, c.dense_adjusted

    def search(self, query: str, k: int = 10, mode: str = "hybrid",
               query_vector: np.ndarray | None = None) -> SearchResult:
        timings: dict[str, float] = {}
        t = time.perf_counter()
        shown = display_text(query)
        norm = search_text(shown)
        words = self.tokenizer.words(norm)
        bigrams = self.tokenizer.bigrams(norm)
        timings["normalize"] = (time.perf_counter() - t) * 1000

        found: dict[int, Candidate] = {}

        def cand(row: int) -> Candidate:
            c = found.get(row)
            if c is None:
                c = found[row] = Candidate(row=row)
            return c

        use_dense = mode in ("hybrid", "dense")
        use_bm25 = mode in ("hybrid", "bm25")
        qv = None
        if use_dense:
            t = time.perf_counter()
            qv = query_vector if query_vector is not None else self.encoder.encode_query(to_simplified(shown))
            timings["encode"] = (time.perf_counter() - t) * 1000
            t = time.perf_counter()
            rows, _ = self.dense.search(qv, self.depth)
            for row in rows:
                cand(int(row))
            unit_rows, _ = self.units.search(qv, self.depth * 3)
            for row in dict.fromkeys(self._unit_owner(unit_rows).tolist()):
                cand(int(row))
            timings["dense"] = (time.perf_counter() - t) * 1000
        if use_bm25:
            t = time.perf_counter()
            for index, tokens, name in ((self.words, words, "words"), (self.chars, bigrams, "chars")):
                rows, scores = index.search(tokens, self.depth)
                for rank, (row, s) in enumerate(zip(rows, scores), 1):
                    c = cand(int(row))
                    c.ranks[name] = rank
                    setattr(c, f"{name}_score", float(s))
            timings["bm25"] = (time.perf_counter() - t) * 1000

        t = time.perf_counter()
        cands = list(found.values())
        w = self.weights
        if use_dense and cands:
            self._exact_dense(cands, qv)
            for name, key in (("passage", lambda c: c.dense_adjusted), ("sentence", lambda c: c.sentence_adjusted)):
                for rank, c in enumerate(sorted(cands, key=lambda c: -key(c)), 1):
                    c.ranks[name] = rank
        for c in cands:
            c.score = sum(getattr(w, name) / (w.k + rank) for name, rank in c.ranks.items())
        ranked = sorted(cands, key=lambda c: (-c.score, c.row))[: max(k, 1)]
        timings["fusion"] = (time.perf_counter() - t) * 1000
        return SearchResult(ranked, words, bigrams, timings)
