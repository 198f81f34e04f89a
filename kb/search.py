"""Hybrid retrieval: dense (e5) + BM25 over jieba words + BM25 over character bigrams, fused by
weighted reciprocal rank. Each channel also reports its raw evidence, used later to decide whether
the knowledge base answers the question at all."""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from kb.index.bm25 import BM25Index
from kb.index.dense import DenseIndex
from kb.text import display_text, search_text, to_simplified
from kb.tokenize import Tokenizer

RRF_K = 60


@dataclass
class FusionWeights:
    dense: float = 1.0
    words: float = 1.0
    chars: float = 0.5


@dataclass
class Candidate:
    row: int
    score: float  # fused score
    dense: float = 0.0  # cosine
    dense_rank: int | None = None
    words_rank: int | None = None
    chars_rank: int | None = None
    words_score: float = 0.0
    chars_score: float = 0.0


@dataclass
class SearchResult:
    candidates: list[Candidate]
    query_words: list[str]
    query_bigrams: list[str]
    dense_scores: np.ndarray  # cosine of the top dense hits, best first
    timings_ms: dict = field(default_factory=dict)


class HybridSearcher:
    def __init__(self, dense: DenseIndex, words: BM25Index, chars: BM25Index, tokenizer: Tokenizer, encoder,
                 weights: FusionWeights | None = None, depth: int = 100):
        self.dense = dense
        self.words = words
        self.chars = chars
        self.tokenizer = tokenizer
        self.encoder = encoder
        self.weights = weights or FusionWeights()
        self.depth = depth

    def search(self, query: str, k: int = 10, mode: str = "hybrid",
               query_vector: np.ndarray | None = None) -> SearchResult:
        timings: dict[str, float] = {}
        t = time.perf_counter()
        shown = display_text(query)
        norm = search_text(shown)
        words = self.tokenizer.words(norm)
        bigrams = self.tokenizer.bigrams(norm)
        timings["normalize"] = (time.perf_counter() - t) * 1000

        fused: dict[int, Candidate] = {}

        def cand(row: int) -> Candidate:
            c = fused.get(row)
            if c is None:
                c = fused[row] = Candidate(row=row, score=0.0)
            return c

        dense_scores = np.empty(0, dtype=np.float32)
        if mode in ("hybrid", "dense"):
            t = time.perf_counter()
            qv = query_vector if query_vector is not None else self.encoder.encode_query(to_simplified(shown))
            timings["encode"] = (time.perf_counter() - t) * 1000
            t = time.perf_counter()
            rows, dense_scores = self.dense.search(qv, self.depth)
            timings["dense"] = (time.perf_counter() - t) * 1000
            for rank, (row, s) in enumerate(zip(rows, dense_scores), 1):
                c = cand(int(row))
                c.dense, c.dense_rank = float(s), rank
                c.score += self.weights.dense / (RRF_K + rank)
        if mode in ("hybrid", "bm25"):
            t = time.perf_counter()
            for index, tokens, attr, weight in ((self.words, words, "words", self.weights.words),
                                                (self.chars, bigrams, "chars", self.weights.chars)):
                rows, scores = index.search(tokens, self.depth)
                for rank, (row, s) in enumerate(zip(rows, scores), 1):
                    c = cand(int(row))
                    setattr(c, f"{attr}_rank", rank)
                    setattr(c, f"{attr}_score", float(s))
                    c.score += weight / (RRF_K + rank)
            timings["bm25"] = (time.perf_counter() - t) * 1000
        t = time.perf_counter()
        ranked = sorted(fused.values(), key=lambda c: -c.score)[: max(k, 1)]
        timings["fusion"] = (time.perf_counter() - t) * 1000
        return SearchResult(ranked, words, bigrams, dense_scores, timings)
