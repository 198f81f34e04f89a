"""Okapi BM25 over token lists, stored as a sparse matrix so a query costs a few column sums.

The scorer knows nothing about Chinese: callers pass tokens (jieba words, character bigrams…).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from scipy import sparse


class BM25Index:
    # Postings kept per term at query time (impact pruning). Only terms in more passages than this are
    # affected, i.e. only corpora far beyond the seeds (see README, Performance: 1M passages).
    MAX_POSTINGS = 200_000

    def __init__(self, weights: sparse.csc_matrix, vocab: dict[str, int], name: str,
                 max_postings: int | None = None):
        self.weights = weights  # (passages × terms) BM25 term weights, idf included
        self.vocab = vocab
        self.name = name
        self.max_postings = max_postings or self.MAX_POSTINGS
        self._pruned: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        import threading

        self._prune_lock = threading.Lock()

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
        rows = np.repeat(np.arange(n, dtype=np.int64), np.diff(indptr))
        # (row, term) pairs with their counts: sort by a combined key, then run-length.
        key = rows * n_terms + ids.astype(np.int64)
        uniq, tf = np.unique(key, return_counts=True)
        del key, rows
        r, c = uniq // n_terms, uniq % n_terms
        del uniq
        df = np.bincount(c, minlength=n_terms).astype(np.float32)
        idf = np.log1p((n - df + 0.5) / (df + 0.5)).astype(np.float32)
        avgdl = float(lengths.mean()) if n else 1.0
        norm = k1 * (1 - b + b * lengths / max(avgdl, 1e-9))
        tf = tf.astype(np.float32)
        w = (tf * (k1 + 1) / (tf + norm[r]) * idf[c]).astype(np.float32)
        weights = sparse.csc_matrix((w, (r, c)), shape=(n, n_terms))
        return cls(weights, vocab, name)

    def term_columns(self, tokens: list[str]) -> list[int]:
        return [self.vocab[t] for t in tokens if t in self.vocab]

    def scores(self, tokens: list[str]) -> np.ndarray:
        """BM25 score of every passage for the query tokens (repeated tokens count once each time)."""
        cols = self.term_columns(tokens)
        if not cols:
            return np.zeros(self.weights.shape[0], dtype=np.float32)
        uniq, counts = np.unique(np.asarray(cols), return_counts=True)
        sub = self.weights[:, uniq]
        return np.asarray(sub @ counts.astype(np.float32)).ravel()

    def _postings(self, col: int) -> tuple[np.ndarray, np.ndarray]:
        """(rows, weights) of one term; beyond MAX_POSTINGS only the heaviest (impact pruning, cached)."""
        w = self.weights
        a, b = int(w.indptr[col]), int(w.indptr[col + 1])
        if b - a <= self.max_postings:
            return w.indices[a:b], w.data[a:b]
        hit = self._pruned.get(col)
        if hit is None:
            data = w.data[a:b]
            keep = np.argpartition(-data, self.max_postings - 1)[: self.max_postings]
            hit = (w.indices[a:b][keep].copy(), data[keep].copy())
            with self._prune_lock:
                if len(self._pruned) > 4096:
                    self._pruned.clear()
                self._pruned[col] = hit
        return hit

    def search(self, tokens: list[str], k: int) -> tuple[np.ndarray, np.ndarray]:
        """The k best passages. Cost grows with the query terms' postings, not with the corpus: scores are
        accumulated over the postings only, and a term in more than MAX_POSTINGS passages (a near-stopword
        of a huge corpus, worth little per passage) contributes its MAX_POSTINGS heaviest postings."""
        cols = self.term_columns(tokens)
        if not cols:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
        uniq, counts = np.unique(np.asarray(cols), return_counts=True)
        rows_l, w_l = [], []
        for c, m in zip(uniq.tolist(), counts.tolist()):
            r, w = self._postings(c)
            rows_l.append(r)
            w_l.append(w * np.float32(m) if m != 1 else w)
        rows = np.concatenate(rows_l) if len(rows_l) > 1 else rows_l[0]
        ws = np.concatenate(w_l) if len(w_l) > 1 else w_l[0]
        if rows.size == 0:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
        n = self.weights.shape[0]
        if rows.size * 8 < n:  # few postings: work on the touched passages only
            touched, inv = np.unique(rows, return_inverse=True)
            s = np.bincount(inv, weights=ws, minlength=touched.size).astype(np.float32)
        else:
            dense = np.bincount(rows, weights=ws, minlength=n).astype(np.float32)
            touched = np.flatnonzero(dense)
            s = dense[touched]
        keep = s > 0
        touched, s = touched[keep], s[keep]
        if touched.size > k:
            part = np.argpartition(-s, k - 1)[:k]
        else:
            part = np.arange(touched.size)
        order = part[np.lexsort((touched[part], -s[part]))]
        return touched[order].astype(np.int64), s[order]

    def max_score(self, tokens: list[str]) -> float:
        """The score a passage would get if it held every query term at ideal tf (for normalisation)."""
        cols = self.term_columns(tokens)
        if not cols:
            return 0.0
        return float(sum(self.weights[:, c].max() for c in cols))

    def save(self, folder: Path) -> None:
        sparse.save_npz(folder / f"bm25_{self.name}.npz", self.weights.tocsc(), compressed=False)
        (folder / f"bm25_{self.name}.vocab.json").write_text(json.dumps(self.vocab, ensure_ascii=False), "utf-8")

    @classmethod
    def load(cls, folder: Path, name: str) -> "BM25Index":
        weights = sparse.load_npz(folder / f"bm25_{name}.npz").tocsc()
        vocab = json.loads((folder / f"bm25_{name}.vocab.json").read_text("utf-8"))
        return cls(weights, vocab, name)
