"""Okapi BM25 over token lists, stored column-wise so a query only touches its own terms' postings.

The scorer knows nothing about Chinese: callers pass tokens (jieba words, character bigrams…).

Storage (a CSC matrix, passages × terms, kept as raw arrays): per term, its passages' rows (sorted, int32)
and term frequencies (uint8 when every tf fits, else uint16), plus one length norm per passage and one idf
per term; a posting's weight ``tf·(k1+1) / (tf + norm[row]) · idf[term]`` is recomputed in float32 exactly
as at build time (5 bytes a posting instead of 8 for stored float weights). The big arrays are separate
``.npy`` files, memory-mapped at load: only the pages of terms that queries use become resident.

Search is exact top-k (no posting is ever dropped), with MaxScore dynamic pruning for queries whose terms
hold many postings (kb/index/bm25_maxscore.py). Where the compiled kernel was built at install (`_bm25c.c`,
the same algorithm and float operations in C, GIL released) those run there; `native=False`, or a missing
kernel, runs the numpy code, which is its reference.
"""
from __future__ import annotations

import functools
import json
import logging
import threading
from pathlib import Path

import numpy as np

from kb.index.bm25_maxscore import maxscore, maxscore_native
from kb.index.bm25_scoring import bm25_weights, top_by_score
from kb.npyfile import save_array

try:  # built by `pip install` from _bm25c.c (pyproject's ext-modules); the numpy path stands in without it
    from kb.index import _bm25c
except ImportError:  # pragma: no cover - only where the package was not built (no C compiler)
    _bm25c = None

log = logging.getLogger(__name__)


@functools.cache
def _warn_no_kernel() -> None:
    log.warning("kb.index._bm25c is not built (no C compiler at `pip install`?): BM25 searches run in numpy, "
                "~2x slower on large KBs; reinstall with `pip install -e .` to build it")


FORMAT = 2
_ARRAYS = ("indptr", "rows", "tf", "norm", "idf", "colmax", "headptr", "headrows")


class Postings:
    """The shape and per-term offsets of the (passages × terms) matrix, for callers that need df:
    ``df(term) = indptr[col + 1] - indptr[col]``."""

    __slots__ = ("shape", "indptr", "indices", "nnz")

    def __init__(self, shape: tuple[int, int], indptr: np.ndarray, indices: np.ndarray):
        self.shape, self.indptr, self.indices, self.nnz = shape, indptr, indices, int(indices.size)


class BM25Index:
    # A query whose terms hold fewer postings than this in all is scored exhaustively (cheaper than the
    # bookkeeping of pruning; every query on a corpus of a few thousand passages).
    EXHAUSTIVE_MAX = 20_000
    # Per term, the rows of its HEAD heaviest postings are kept (build time): their exact scores give the
    # pruning threshold before any posting list is read.
    HEAD = 256
    MARGIN = 1e-6  # relative slack on every pruning comparison (float rounding never prunes a tie)
    STORE_WEIGHTS_MAX = 2_000_000  # postings: up to this, weights are computed once at load (8 MB)
    OFFSETS_LIST_MAX = 200_000  # terms: up to this, column offsets are also kept as a Python list (7 MB)

    def __init__(self, indptr: np.ndarray, rows: np.ndarray, vocab: dict[str, int], name: str, *,
                 tf: np.ndarray, norm: np.ndarray, idf: np.ndarray,
                 k1: float = 1.2, colmax: np.ndarray | None = None,
                 headptr: np.ndarray | None = None, headrows: np.ndarray | None = None, native: bool = True):
        self.indptr, self.rows, self.vocab, self.name = indptr, rows, vocab, name
        self.tf, self.norm, self.idf = tf, norm, idf
        self.k1 = k1
        self._k1p1 = np.float32(k1 + 1)
        self.n_docs = int(norm.size)
        self.n_terms = len(indptr) - 1
        self._stored: np.ndarray | None = None
        nnz = int(self.indptr[-1]) if self.n_terms else 0
        if 0 < nnz <= self.STORE_WEIGHTS_MAX:
            # Small indexes keep every posting's weight (4 bytes each, in memory): a query slices them
            # instead of evaluating the formula per term (seeds: ~20 terms a question; same float32 values).
            # First, so that the bounds below read them too.
            self._stored = self._slice_weights(0, nnz, np.repeat(np.arange(self.n_terms), np.diff(self.indptr)))
        if colmax is None or headptr is None:
            colmax, headptr, headrows = self._bounds()
        self.colmax, self.headptr, self.headrows = colmax, headptr, headrows
        # A query reads two offsets a term; from a list they are plain ints (numpy scalars cost ~1 us each
        # right after a model run).
        self._offsets = self.indptr.tolist() if self.n_terms <= self.OFFSETS_LIST_MAX else self.indptr
        self._pool: list[np.ndarray] = []  # float64 accumulators of n_docs, reused across queries
        self._pool_lock = threading.Lock()
        self.native = bool(native and _bm25c is not None)
        if native and _bm25c is None:
            _warn_no_kernel()

    # --- building -------------------------------------------------------------------------------
    @classmethod
    def build(cls, docs: list[list[str]], name: str, k1: float = 1.2, b: float = 0.75) -> "BM25Index":
        vocab: dict[str, int] = {}
        ids: list[int] = []
        indptr = [0]
        for tokens in docs:
            ids.extend(vocab.setdefault(t, len(vocab)) for t in tokens)
            indptr.append(len(ids))
        return cls.from_ids(np.asarray(indptr, dtype=np.int64), np.asarray(ids, dtype=np.int64), vocab, name,
                            k1, b)

    @classmethod
    def from_ids(cls, indptr: np.ndarray, ids: np.ndarray, vocab: dict[str, int], name: str, k1: float = 1.2,
                 b: float = 0.75) -> "BM25Index":
        """From token ids: doc i holds ids[indptr[i]:indptr[i+1]] (vectorised; used at any corpus size)."""
        n, n_terms = len(indptr) - 1, len(vocab)
        lengths = np.diff(indptr).astype(np.float32)
        # (term, row) pairs with their counts, in column order: sort a combined key, then run-length.
        key = ids.astype(np.int64) * max(n, 1) + np.repeat(np.arange(n, dtype=np.int64), np.diff(indptr))
        uniq, tf = np.unique(key, return_counts=True)
        del key
        cols = uniq // max(n, 1)
        rows = (uniq % max(n, 1)).astype(np.int32)
        del uniq
        df = np.bincount(cols, minlength=n_terms)
        col_ptr = np.zeros(n_terms + 1, dtype=np.int64)
        np.cumsum(df, out=col_ptr[1:])
        idf = np.log1p((n - df.astype(np.float32) + 0.5) / (df.astype(np.float32) + 0.5)).astype(np.float32)
        avgdl = float(lengths.mean()) if n else 1.0
        norm = (k1 * (1 - b + b * lengths / max(avgdl, 1e-9))).astype(np.float32)
        tf = tf.astype(np.uint8 if tf.max(initial=0) <= 255 else np.uint16 if tf.max() <= 65535 else np.uint32)
        return cls(col_ptr, rows, vocab, name, tf=tf, norm=norm, idf=idf, k1=k1)

    def _bounds(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per term: its largest weight (the MaxScore upper bound) and the rows of its HEAD heaviest
        postings (terms with at most HEAD postings have none: their whole list is the head)."""
        colmax = np.zeros(self.n_terms, dtype=np.float32)
        lens = np.diff(self.indptr)
        long_terms = np.flatnonzero(lens > self.HEAD)
        headptr = np.zeros(self.n_terms + 1, dtype=np.int64)
        headptr[1:] = np.cumsum(np.where(lens > self.HEAD, self.HEAD, 0))
        headrows = np.empty(int(headptr[-1]), dtype=np.int32)
        chunk = 1 << 22  # postings per pass, so building a 1M-passage index never holds all weights twice
        start = 0
        while start < self.n_terms:
            stop = int(np.searchsorted(self.indptr, self.indptr[start] + chunk, side="right")) - 1
            stop = min(max(stop, start + 1), self.n_terms)
            a, b = int(self.indptr[start]), int(self.indptr[stop])
            if b > a:
                w = self._slice_weights(a, b, np.repeat(np.arange(start, stop), lens[start:stop]))
                nonempty = np.flatnonzero(lens[start:stop]) + start
                colmax[nonempty] = np.maximum.reduceat(w, self.indptr[nonempty] - a)
                for c in long_terms[(long_terms >= start) & (long_terms < stop)].tolist():
                    ca, cb = int(self.indptr[c]) - a, int(self.indptr[c + 1]) - a
                    keep = np.argpartition(-w[ca:cb], self.HEAD - 1)[: self.HEAD]
                    headrows[headptr[c]:headptr[c + 1]] = np.sort(self.rows[a + ca:a + cb][keep])
            start = stop
        return colmax, headptr, headrows

    # --- weights --------------------------------------------------------------------------------
    @property
    def weights(self) -> Postings:
        return Postings((self.n_docs, self.n_terms), self.indptr, self.rows)

    def df(self, col: int) -> int:
        return int(self.indptr[col + 1] - self.indptr[col])

    def _slice_weights(self, a: int, b: int, cols) -> np.ndarray:
        """Weights of postings a:b (cols: their term, a scalar or one per posting)."""
        if self._stored is not None:
            return self._stored[a:b]
        return bm25_weights(self.tf[a:b], self.norm[self.rows[a:b]], self.idf[cols], self._k1p1)

    def _column(self, col: int, m: int) -> tuple[np.ndarray, np.ndarray]:
        """(rows, weight × query count) of one term."""
        a, b = int(self._offsets[col]), int(self._offsets[col + 1])
        w = self._slice_weights(a, b, col)
        return self.rows[a:b], (w * np.float32(m) if m != 1 else w)

    # --- queries --------------------------------------------------------------------------------
    def _query(self, tokens: list[str]) -> tuple[list[int], list[int]]:
        """The query's distinct term columns, ascending (the order scores are summed in), and how often
        each occurs. Plain lists: a question has ~10 terms, too few for numpy's call overhead."""
        found = [c for c in map(self.vocab.get, tokens) if c is not None]  # builtins only: no Counter
        cols = sorted(set(found))
        return cols, [1] * len(cols) if len(cols) == len(found) else [found.count(c) for c in cols]

    def scores(self, tokens: list[str]) -> np.ndarray:
        """BM25 score of every passage for the query tokens (repeated tokens count once each time).

        One bincount over the terms' postings, concatenated in column order: per passage the same float64
        sums in the same order as adding term by term, in 4 numpy calls instead of ~2 a term (a question
        has ~10 words and ~15 bigrams; each call costs several microseconds right after a model run)."""
        cols, counts = self._query(tokens)
        if not cols:
            return np.zeros(self.n_docs, dtype=np.float32)
        if self._stored is not None and isinstance(self._offsets, list) and max(counts) == 1:
            at, postings, stored = self._offsets, self.rows, self._stored  # the usual case, without a call a term
            rows = np.concatenate([postings[at[c]:at[c + 1]] for c in cols])
            weights = np.concatenate([stored[at[c]:at[c + 1]] for c in cols])
        else:
            parts = [self._column(c, m) for c, m in zip(cols, counts)]
            rows = np.concatenate([r for r, _ in parts])
            weights = np.concatenate([w for _, w in parts])
        return np.bincount(rows, weights=weights, minlength=self.n_docs).astype(np.float32)

    def search(self, tokens: list[str], k: int) -> tuple[np.ndarray, np.ndarray]:
        """The k best passages with score > 0, best first (ties by row), exactly as scoring every passage
        would rank them. Queries whose terms hold few postings are scored exhaustively; the others with
        MaxScore pruning (kb/index/bm25_maxscore.py), in the compiled kernel where it was built."""
        return self._search(tokens, k, self.native)

    def search_numpy(self, tokens: list[str], k: int) -> tuple[np.ndarray, np.ndarray]:
        """`search` without the compiled kernel (the reference it must equal bit for bit)."""
        return self._search(tokens, k, False)

    def _search(self, tokens: list[str], k: int, native: bool) -> tuple[np.ndarray, np.ndarray]:
        cols, counts = self._query(tokens)
        if not cols or k <= 0:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
        at = self._offsets
        if sum(int(at[c + 1]) - int(at[c]) for c in cols) <= self.EXHAUSTIVE_MAX:
            return self._exhaustive(cols, counts, k)
        cols_a, counts_a = np.asarray(cols, dtype=np.int64), np.asarray(counts, dtype=np.int64)
        if native:
            return maxscore_native(_bm25c, self, cols_a, counts_a, k)
        return maxscore(self, cols_a, counts_a, k)

    def search_exhaustive(self, tokens: list[str], k: int) -> tuple[np.ndarray, np.ndarray]:
        """Every posting of every query term accumulated, ties at the k-th score broken by row: the reference
        the pruned search must equal exactly."""
        cols, counts = self._query(tokens)
        if not cols or k <= 0:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
        return self._exhaustive(cols, counts, k)

    def _exhaustive(self, cols: list[int], counts: list[int], k: int) -> tuple[np.ndarray, np.ndarray]:
        rows_l, w_l = zip(*(self._column(c, m) for c, m in zip(cols, counts)))
        rows = np.concatenate(rows_l) if len(rows_l) > 1 else rows_l[0]
        ws = np.concatenate(w_l) if len(w_l) > 1 else w_l[0]
        if rows.size == 0:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
        if rows.size * 8 < self.n_docs:  # few postings: work on the touched passages only
            touched, inv = np.unique(rows, return_inverse=True)
            s = np.bincount(inv, weights=ws, minlength=touched.size).astype(np.float32)
            keep = s > 0
            touched, s = touched[keep], s[keep]
        else:
            dense = np.bincount(rows, weights=ws, minlength=self.n_docs).astype(np.float32)
            touched = np.flatnonzero(dense > 0)
            s = dense[touched]
        return top_by_score(touched, s, k)

    def _acc(self) -> np.ndarray:
        with self._pool_lock:
            if self._pool:
                return self._pool.pop()
        return np.zeros(self.n_docs, dtype=np.float64)

    def _release(self, acc: np.ndarray) -> None:
        with self._pool_lock:
            if len(self._pool) < 4:
                self._pool.append(acc)

    # --- files ----------------------------------------------------------------------------------
    def save(self, folder: Path) -> None:
        prefix = f"bm25_{self.name}"
        for a in _ARRAYS:
            save_array(folder / f"{prefix}.{a}.npy", getattr(self, a))  # memory-mapped when served
        (folder / f"{prefix}.json").write_text(json.dumps(
            {"format": FORMAT, "k1": self.k1, "passages": self.n_docs, "terms": self.n_terms}))
        (folder / f"{prefix}.vocab.json").write_text(json.dumps(self.vocab, ensure_ascii=False), "utf-8")

    @classmethod
    def files(cls, folder: Path, name: str) -> list[Path]:
        prefix = f"bm25_{name}"
        return [folder / f"{prefix}.{a}.npy" for a in _ARRAYS] + [folder / f"{prefix}.json",
                                                                  folder / f"{prefix}.vocab.json"]

    @classmethod
    def load(cls, folder: Path, name: str, mmap: bool = True, native: bool = True) -> "BM25Index":
        """Postings (rows, tf, head rows) memory-mapped unless mmap=False; small arrays in memory.
        native=False: pruned searches in numpy even where the compiled kernel is built."""
        prefix = f"bm25_{name}"
        vocab = json.loads((folder / f"{prefix}.vocab.json").read_text("utf-8"))
        meta = json.loads((folder / f"{prefix}.json").read_text())
        if meta.get("format") != FORMAT:
            raise ValueError(f"BM25 index {prefix} in {folder} has format {meta.get('format')}, this code reads "
                             f"format {FORMAT}: rebuild the version with `kb ingest --force`")
        big = {"rows", "tf", "headrows"}
        arrays = {a: (np.asarray(np.load(folder / f"{prefix}.{a}.npy", mmap_mode="r"))
                      if mmap and a in big else np.load(folder / f"{prefix}.{a}.npy")) for a in _ARRAYS}
        return cls(arrays.pop("indptr"), arrays.pop("rows"), vocab, name, k1=meta["k1"], native=native, **arrays)
