"""Okapi BM25 over token lists, stored as a sparse matrix so a query costs a few column sums.

The scorer knows nothing about Chinese: callers pass tokens (jieba words, character bigrams…).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from scipy import sparse


class BM25Index:
    def __init__(self, weights: sparse.csc_matrix, vocab: dict[str, int], name: str):
        self.weights = weights  # (passages × terms) BM25 term weights, idf included
        self.vocab = vocab
        self.name = name

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

    def search(self, tokens: list[str], k: int) -> tuple[np.ndarray, np.ndarray]:
        s = self.scores(tokens)
        nz = np.flatnonzero(s)
        if nz.size == 0:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
        if nz.size > k:
            part = nz[np.argpartition(-s[nz], k - 1)[:k]]
        else:
            part = nz
        order = part[np.argsort(-s[part], kind="stable")]
        return order, s[order]

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
