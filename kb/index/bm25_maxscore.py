"""BM25's exact top-k with MaxScore dynamic pruning, in numpy and in the compiled kernel (`_bm25c.c`).

Terms are taken by decreasing upper bound (largest weight × query count). A threshold θ (a lower bound of
the k-th best score) comes first from the exact scores of the terms' head rows (their heaviest postings).
Terms are then scattered into an accumulator until the upper bounds of the remaining ones sum below θ: a
passage none of the scattered terms holds cannot reach the top k. The remaining (long, low-idf) lists are
only probed, by binary search, for the candidates whose partial score plus the remaining bounds still
reaches θ, and θ rises as candidates complete. The kernel runs the same steps with the same float
operations (bit-identical results, GIL released); numpy is its reference.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from kb.index.bm25_scoring import bm25_weights, top_by_score

if TYPE_CHECKING:  # pragma: no cover
    from kb.index.bm25 import BM25Index


def _distinct(a: np.ndarray) -> np.ndarray:
    """Sorted distinct values (np.unique, but sort-based: np.unique is ~7x slower on int arrays here)."""
    a = np.sort(a)
    return a[np.concatenate(([True], a[1:] != a[:-1]))] if a.size > 1 else a


def _lookup(index, col: int, m: int, cand: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For sorted candidate rows: which hold the term (mask) and their weights × query count."""
    a, b = int(index.indptr[col]), int(index.indptr[col + 1])
    rows = index.rows[a:b]
    if b == a or cand.size == 0:
        return np.zeros(cand.size, dtype=bool), np.empty(0, dtype=np.float32)
    pos = np.searchsorted(rows, cand)
    np.minimum(pos, b - a - 1, out=pos)
    hit = rows[pos] == cand
    pos = pos[hit] + a
    if index._stored is not None:
        w = index._stored[pos]
    else:
        w = bm25_weights(index.tf[pos], index.norm[cand[hit]], index.idf[col], index._k1p1)
    return hit, (w * np.float32(m) if m != 1 else w)


def maxscore(index: "BM25Index", cols: np.ndarray, counts: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k best (rows, scores) of the query terms `cols` (each counted `counts` times), ties by row."""
    ub = index.colmax[cols] * counts.astype(np.float32)  # = the largest float32(weight × count)
    order = np.lexsort((cols, -ub))
    cols_l, counts_l = cols[order].tolist(), counts[order].tolist()
    t = len(cols_l)
    rest = np.zeros(t + 1)  # rest[i]: sum of the upper bounds of terms i..t-1
    rest[:t] = np.cumsum(ub[order][::-1].astype(np.float64))[::-1]
    rest = rest.tolist()
    slack = 1 - index.MARGIN

    # θ from the heads: exact full scores of a few thousand passages likely to rank high.
    heads = []
    for c in cols_l:
        a, b = int(index.headptr[c]), int(index.headptr[c + 1])
        heads.append(index.headrows[a:b] if b > a else index.rows[index.indptr[c]:index.indptr[c + 1]])
    seeds = _distinct(np.concatenate(heads))
    seed_s = np.zeros(seeds.size)
    for c, m in zip(cols_l, counts_l):
        hit, w = _lookup(index, c, m, seeds)
        seed_s[hit] += w
    theta = float(np.partition(seed_s, seeds.size - k)[seeds.size - k]) * slack if seeds.size >= k else 0.0

    # Essential terms (scattered): until the remaining bounds sum below θ; always the first.
    i = 1
    while i < t and rest[i] >= theta:
        i += 1
    floor = theta - rest[i]  # a candidate needs at least this partial score
    if i == 1:  # one essential term: its list is the candidate set, no accumulator needed
        rows, w = index._column(cols_l[0], counts_l[0])
        sel = w >= floor
        cand, part = rows[sel], w[sel].astype(np.float64)
    else:
        acc = index._acc()
        scattered: list[np.ndarray] = []
        try:
            for c, m in zip(cols_l[:i], counts_l[:i]):
                rows, w = index._column(c, m)
                acc[rows] += w  # rows are distinct within a term
                scattered.append(rows)
            allr = np.concatenate(scattered)
            if floor > 0:
                cand = _distinct(allr[acc[allr] >= floor])
            elif allr.size * 8 > index.n_docs:
                cand = np.flatnonzero(acc)
            else:
                cand = _distinct(allr)
            part = acc[cand]
        finally:
            if sum(r.size for r in scattered) * 16 > index.n_docs:
                acc.fill(0)
            else:
                for rows in scattered:
                    acc[rows] = 0
            index._release(acc)

    # Non-essential terms: probed for the candidates that can still reach θ.
    for j in range(i, t):
        if part.size > k:
            theta = max(theta, float(np.partition(part, part.size - k)[part.size - k]) * slack)
        keep = part >= theta - rest[j]
        if not keep.all():
            cand, part = cand[keep], part[keep]
        hit, w = _lookup(index, cols_l[j], counts_l[j], cand)
        part[hit] += w
    s = part.astype(np.float32)
    keep = s > 0
    return top_by_score(cand[keep], s[keep], k)


def maxscore_native(kernel, index: "BM25Index", cols: np.ndarray, counts: np.ndarray, k: int
                    ) -> tuple[np.ndarray, np.ndarray]:
    """`maxscore` in the compiled kernel (the module `kb.index._bm25c`): the same steps, sums and result."""
    out = (np.empty(k, dtype=np.int64), np.empty(k, dtype=np.float32))
    acc = index._acc()
    try:  # the kernel hands the accumulator back zeroed, as `maxscore` does
        n = kernel.maxscore(index.indptr, index.rows, index.tf, index.norm, index.idf, index._stored,
                            index.headptr, index.headrows, index.colmax, cols, counts, acc, out,
                            float(index._k1p1), k, index.MARGIN)
    finally:
        index._release(acc)
    return out[0][:n], out[1][:n]
