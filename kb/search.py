"""Hybrid retrieval over four channels, fused by weighted reciprocal rank:

- dense passage: e5 cosine of the question and the whole passage (with its headings);
- dense sentence: the passage's best-matching sentence ("small to big");
- BM25 over jieba words and BM25 over character bigrams (typos, missing characters, unknown words).

Each channel also keeps its raw evidence, used later to decide whether the KB answers at all.
"""
from __future__ import annotations

import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from kb.index.bm25 import BM25Index
from kb.index.dense import DenseIndex
from kb.text import display_text, search_text, to_simplified
from kb.tokenize import Tokenizer


@dataclass
class FusionWeights:
    """Chosen on the dev set; judged on held-out questions over every labelled one (`python -m bench.fusion_cv`,
    docs/quality.md), weights chosen per fold do worse than these: a broad plateau, not a sharp optimum."""

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


QUESTION_HUB_K = 30  # reference questions a hub score averages over (and the fewest that replace self-hubs)


def question_hub_scores(vectors: np.ndarray, reference: np.ndarray, k: int = QUESTION_HUB_K) -> np.ndarray:
    """Mean cosine of each vector with its k nearest reference questions (agents' questions encoded as
    questions are): e5 puts colloquial questions in one region of its space, and a passage close to that whole
    region (chatty intros, lists of "客户..." sentences) outranks the one that answers. Measured against
    questions rather than against the passages themselves, the correction moved held-out MRR@10 by +0.035
    (docs/quality.md)."""
    vectors = np.asarray(vectors, dtype=np.float32)
    reference = np.asarray(reference, dtype=np.float32)
    k = min(k, len(reference))
    out = np.empty(len(vectors), dtype=np.float32)
    for start in range(0, len(vectors), 4096):
        sims = vectors[start:start + 4096] @ reference.T
        out[start:start + 4096] = np.partition(sims, -k, axis=1)[:, -k:].mean(1)
    return out


def _cosines(vectors: np.ndarray, rows: np.ndarray, qv: np.ndarray) -> np.ndarray:
    """vectors[rows] @ qv. When the rows are a large share of the matrix, one product over all of it and
    a gather of the results beats copying the rows out first (the seeds: 1,500 of 941 sentence vectors,
    repeats included: 0.1 ms a question instead of 0.36)."""
    if len(vectors) <= 2 * len(rows) and vectors.dtype == np.float32:
        return (vectors @ qv)[rows]
    # float16 rows (large KBs, kb/version/vectors.py) widened first: numpy has no BLAS path for a float16 product
    # (400 rows: 2.6 ms as float16, 0.4 ms widened)
    return np.asarray(vectors[rows], dtype=np.float32) @ qv


def _exact(index: DenseIndex, vectors: np.ndarray) -> bool:
    """An exact index over float32 vectors: a product with the vectors is the search itself."""
    return index.kind == "flat" and vectors.dtype == np.float32 and len(vectors) > 0


def _nearest(index: DenseIndex, vectors: np.ndarray, qv: np.ndarray, k: int, full: dict, key: str) -> np.ndarray:
    """The k nearest rows; over an exact index by one product, whose cosines go into full[key]."""
    if _exact(index, vectors):
        full[key] = vectors @ qv
        return _top(full[key], k)
    return index.search(qv, k)[0]


def _top(scores: np.ndarray, k: int) -> np.ndarray:
    """Rows of the k highest scores, best first; equal scores by row (what the flat index returns)."""
    if k < len(scores):
        part = np.argpartition(-scores, k - 1)[:k]
        return part[np.lexsort((part, -scores[part]))]
    return np.lexsort((np.arange(len(scores)), -scores))


def _segment_best(values: np.ndarray, seg: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per contiguous segment (starts `seg`, non-empty lengths `counts`): its maximum, and the position of
    the first value equal to it (what np.argmax would pick)."""
    if not len(seg):
        return values[:0], seg
    top = np.maximum.reduceat(values, seg)
    at_top = np.flatnonzero(values == np.repeat(top, counts))
    return top, at_top[np.searchsorted(at_top, seg)]


def _joined(qv: np.ndarray, parts, ms: float) -> tuple[np.ndarray, list[np.ndarray], float, dict]:
    """The dense channel's result from its two halves (`HybridSearcher._dense_part` 0 and 1)."""
    (rows, full), (owners, unit_full) = parts
    return qv, [rows, owners], ms, {**full, **unit_full}


# From this many passages the dense channel runs on the searcher's own threads beside BM25 (FAISS releases
# the GIL); below it both take well under a millisecond and a thread hop would cost more than it saves.
PARALLEL_FROM = 50_000


@dataclass(slots=True)  # ~25 made a question: slots make each cheaper to build and read
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
                 weights: FusionWeights | None = None, depth: int = 100, parallel_from: int = PARALLEL_FROM):
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
        # Large KBs: the dense channel runs on these threads while the request thread runs BM25.
        self._pool = (ThreadPoolExecutor(2, thread_name_prefix="dense-search")
                      if len(vectors) >= parallel_from else None)

    @property
    def parallel(self) -> bool:
        """Whether the dense channel runs on the searcher's own threads (it then waits on the vector)."""
        return self._pool is not None

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False)

    def _dense_channel(self, qv: np.ndarray) -> tuple[np.ndarray, list[np.ndarray], float, dict]:
        """Top passages and top sentences by cosine. Over an exact (flat) index of float32 vectors, one
        product gives every cosine: the channel ranks them itself and hands them on to the re-scoring
        (`full`), which then reads no rows (seeds: 0.1 ms a question for both steps instead of 0.5)."""
        t = time.perf_counter()
        parts = self._dense_part(qv, 0), self._dense_part(qv, 1)
        return _joined(qv, parts, (time.perf_counter() - t) * 1000)

    def _dense_part(self, qv: np.ndarray, which: int) -> tuple[np.ndarray, dict]:
        """One half of the dense channel: 0 = the nearest passages, 1 = the passages of the nearest sentences."""
        full: dict[str, np.ndarray] = {}
        if which == 0:
            rows = _nearest(self.dense, self.vectors, qv, self.depth, full, "passage")
        else:
            rows = self._unit_owner(_nearest(self.units, self.unit_vectors, qv, self.depth * 3, full, "unit"))
        return np.asarray(rows, dtype=np.int64), full

    def _dense_async(self, query_vector: np.ndarray | Future) -> Future:
        """The dense channel on the pool, started as soon as the query vector exists: its passage and
        sentence searches as two tasks, one on each of the pool's threads (at 1M passages each is an HNSW
        search of ~5 ms, and one after the other they outlasted both BM25 channels)."""
        out: Future = Future()
        parts: list = [None, None]
        lock = threading.Lock()
        start = [0.0]

        def fail(exc: BaseException):
            with lock:
                if not out.done():
                    out.set_exception(exc)

        def run(which: int, qv: np.ndarray):
            try:
                part = self._dense_part(qv, which)
            except BaseException as exc:  # noqa: BLE001 - re-raised in the request thread
                fail(exc)
                return
            with lock:  # the second half to finish delivers both
                parts[which] = part
                if out.done() or any(p is None for p in parts):
                    return
                out.set_result(_joined(qv, parts, (time.perf_counter() - start[0]) * 1000))

        def submit(qv: np.ndarray):
            start[0] = time.perf_counter()
            for which in (0, 1):
                self._pool.submit(run, which, qv)

        def when_encoded(f: Future):
            try:  # an exception in a done-callback is only logged: deliver it, or the request would hang
                if f.exception() is not None:
                    raise f.exception()
                submit(f.result())
            except BaseException as exc:  # noqa: BLE001 - the model's error, or a pool already shut down
                fail(exc)

        if isinstance(query_vector, Future):
            query_vector.add_done_callback(when_encoded)
        else:
            submit(query_vector)
        return out

    def _unit_owner(self, unit_rows: np.ndarray) -> np.ndarray:
        return np.searchsorted(self.unit_offsets, unit_rows, side="right") - 1

    def _exact_dense(self, rows: np.ndarray, qv: np.ndarray, full: dict) -> dict[str, np.ndarray]:
        """Passage and best-sentence cosines for every candidate row, whichever channel found it, and the
        hub-corrected scores the dense channels are ranked by. One gather and one product for all
        candidates' sentences (a loop over candidates cost ~2 ms of numpy call overhead per question);
        none when the dense channel computed every cosine already (`full`)."""
        lam = self.weights.hubness / 2
        passage = full["passage"][rows] if "passage" in full else _cosines(self.vectors, rows, qv)
        corrected = passage - lam * self.hubs[rows]
        starts, ends = self.unit_offsets[rows], self.unit_offsets[rows + 1]
        counts = ends - starts
        first = np.concatenate(([0], np.cumsum(counts)[:-1]))  # where each candidate's units begin
        units = np.repeat(starts - first, counts) + np.arange(int(counts.sum()))
        sims = full["unit"][units] if "unit" in full else _cosines(self.unit_vectors, units, qv)
        adjusted = sims - lam * self.unit_hubs[units]
        # Per candidate, the first of its best units (what np.argmax would pick). Its units are one
        # contiguous segment: a segment maximum, then the first unit equal to it at or after the start.
        has = counts > 0
        top, best = _segment_best(adjusted, first[has], counts[has])
        sentence, sentence_adjusted = passage.copy(), corrected.copy()  # no sentences: the passage itself
        sentence[has], sentence_adjusted[has] = sims[best], adjusted[best]
        sentence_index = np.full(len(rows), -1, dtype=np.int64)
        sentence_index[has] = best - first[has]
        return {"dense": passage, "dense_adjusted": corrected, "sentence": sentence,
                "sentence_adjusted": sentence_adjusted, "sentence_index": sentence_index}

    def describe(self, rows: list[int], qv: np.ndarray) -> list[Candidate]:
        """Candidates for the given passages with their dense evidence only (no fused score, no BM25): what a
        label's fix answers with when the search did not return its passage."""
        values = self._exact_dense(np.asarray(rows, dtype=np.int64), qv, {})
        return [Candidate(row=int(row), **{key: v[i].item() for key, v in values.items()})
                for i, row in enumerate(rows)]

    def search(self, query: str, k: int = 10, mode: str = "hybrid",
               query_vector: np.ndarray | Future | None = None) -> SearchResult:
        """query_vector: the question's e5 vector, or a Future of it (BM25 runs before it is awaited);
        None encodes the question here."""
        timings: dict[str, float] = {}
        t = time.perf_counter()
        shown = display_text(query)
        norm = search_text(shown)
        words = self.tokenizer.words(norm)
        bigrams = self.tokenizer.bigrams(norm)
        timings["normalize"] = (time.perf_counter() - t) * 1000

        use_dense = mode in ("hybrid", "dense")
        use_bm25 = mode in ("hybrid", "bm25")
        dense_job = None
        if use_dense and use_bm25 and self._pool is not None:
            if query_vector is None:
                query_vector = self.encoder.encode_query_async(to_simplified(shown))
            dense_job = self._dense_async(query_vector)
        lexical = []
        if use_bm25:  # first: while the query vector is being computed (a Future) the model runs meanwhile
            t = time.perf_counter()
            lexical = [(name, *index.search(tokens, self.depth))
                       for index, tokens, name in ((self.words, words, "words"), (self.chars, bigrams, "chars"))]
            timings["bm25"] = (time.perf_counter() - t) * 1000
        qv, full = None, {}
        found = []  # candidate rows per channel, in channel order (dense, sentences, words, chars)
        if dense_job is not None:
            t = time.perf_counter()
            qv, dense_found, timings["dense"], full = dense_job.result()
            timings["dense_wait"] = (time.perf_counter() - t) * 1000  # after BM25: what was not overlapped
            found += dense_found
        elif use_dense:
            qv = self._vector(shown, query_vector, timings)
            _, dense_found, timings["dense"], full = self._dense_channel(qv)
            found += dense_found
        t = time.perf_counter()
        found += [np.asarray(r, dtype=np.int64) for _, r, _ in lexical]
        ranked = self._fuse(found, lexical, qv, k, full) if found else []
        timings["fusion"] = (time.perf_counter() - t) * 1000
        return SearchResult(ranked, words, bigrams, timings)

    def _vector(self, shown: str, query_vector: np.ndarray | Future | None, timings: dict) -> np.ndarray:
        """The question's vector: given, awaited (a Future), or encoded here; the wait is timed."""
        t = time.perf_counter()
        if query_vector is None:
            qv = self.encoder.encode_query(to_simplified(shown))
        else:
            qv = query_vector.result() if isinstance(query_vector, Future) else query_vector
        timings["encode_wait" if query_vector is not None else "encode"] = (time.perf_counter() - t) * 1000
        return qv

    def _fuse(self, found: list[np.ndarray], lexical: list, qv: np.ndarray | None, k: int,
              full: dict | None = None) -> list[Candidate]:
        """Weighted RRF over the channels, on arrays; Candidate objects only for the k that are returned.

        Candidates are numbered in the order the channels found them, which breaks ties between equal
        cosines (a stable sort), as the one-object-per-candidate version did."""
        w = self.weights
        # Distinct rows in the order first found: an ordered dict of ~600 ints beats np.unique's sorts
        # (0.14 ms instead of 0.20 right after a model run).
        rows = np.fromiter(dict.fromkeys(np.concatenate(found).tolist()), dtype=np.int64)
        n = len(rows)
        sorter = np.argsort(rows)
        ranks: dict[str, np.ndarray] = {}
        values: dict[str, np.ndarray] = {}
        for name, hit_rows, scores in lexical:
            r = np.zeros(n, dtype=np.int64)
            v = np.zeros(n, dtype=np.float32)
            at = sorter[np.searchsorted(rows, np.asarray(hit_rows, dtype=np.int64), sorter=sorter)]
            r[at] = np.arange(1, len(at) + 1)
            v[at] = scores
            ranks[name], values[f"{name}_score"] = r, v
        if qv is not None:
            values.update(self._exact_dense(rows, qv, full or {}))
            for name, key in (("passage", "dense_adjusted"), ("sentence", "sentence_adjusted")):
                r = np.empty(n, dtype=np.int64)
                r[np.argsort(-values[key], kind="stable")] = np.arange(1, n + 1)
                ranks[name] = r
        # One (channels x candidates) array; summed down the channels in this order, as floats always were.
        stacked = np.stack(list(ranks.values()))
        weight = np.asarray([getattr(w, name) for name in ranks], dtype=np.float64)[:, None]
        with np.errstate(divide="ignore"):
            score = np.where(stacked > 0, weight / (w.k + stacked), 0.0).sum(axis=0)
        top = np.lexsort((rows, -score))[: max(k, 1)]
        picked = {key: v[top].tolist() for key, v in values.items()}
        picked_ranks = {name: r[top].tolist() for name, r in ranks.items()}
        out = []
        for i, (row, s) in enumerate(zip(rows[top].tolist(), score[top].tolist())):
            c = Candidate(row=row, score=s, **{key: v[i] for key, v in picked.items()})
            c.ranks = {name: r[i] for name, r in picked_ranks.items() if r[i] > 0}
            out.append(c)
        return out
