"""Random BM25 corpora shaped like the synthetic one (Zipf tokens, near-duplicate passages), and an index
forced onto the pruned path: what the index tests compare the search paths on."""
from __future__ import annotations

import numpy as np

from kb.index.bm25 import BM25Index


def corpus(rng, n: int, vocab: int, mean_len: int) -> list[list[str]]:
    """Zipf-distributed tokens, with near-duplicate passages (a few templates repeated) like the synthetic
    corpus: many passages tie or nearly tie, the hard case for pruning."""
    p = 1.0 / np.arange(1, vocab + 1) ** 1.1
    p /= p.sum()
    templates = [list(rng.choice(vocab, size=mean_len, p=p)) for _ in range(8)]
    docs = []
    for _ in range(n):
        length = max(1, int(rng.poisson(mean_len)))
        toks = list(rng.choice(vocab, size=length, p=p))
        if rng.random() < 0.3:
            toks = templates[int(rng.integers(len(templates)))] + toks[: length // 3]
        docs.append([f"t{t}" for t in toks])
    return docs


def pruned(index: BM25Index) -> BM25Index:
    index.EXHAUSTIVE_MAX = 0  # instance attribute: every query takes the pruned path
    return index
