"""BM25's weight formula and the order of its results, shared by the exhaustive and the pruned search."""
from __future__ import annotations

import numpy as np


def bm25_weights(tf: np.ndarray, norm: np.ndarray, idf, k1p1: np.float32) -> np.ndarray:
    """BM25 weights in float32; the one formula used at build time and at query time (bit-identical)."""
    tf = tf.astype(np.float32)
    return tf * k1p1 / (tf + norm) * idf


def top_by_score(rows: np.ndarray, s: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k best (rows, scores) by score, ties by row: a total order, so any exact method agrees."""
    if s.size > k:
        kth = np.partition(s, s.size - k)[s.size - k]
        above = np.flatnonzero(s > kth)
        tied = np.flatnonzero(s == kth)  # ascending positions; rows are ascending too where callers pass them
        if above.size + tied.size > k:
            tied = tied[np.argsort(rows[tied], kind="stable")[: k - above.size]]
        part = np.concatenate([above, tied])
    else:
        part = np.arange(s.size)
    order = part[np.lexsort((rows[part], -s[part]))]
    return rows[order].astype(np.int64), s[order]
