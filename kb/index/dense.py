"""FAISS inner-product index over L2-normalised vectors (inner product = cosine).

Exact search while the corpus is small; HNSW above a size threshold; IVF-PQ when memory binds.
"""
from __future__ import annotations

import json
from pathlib import Path

import faiss
import numpy as np



def choose_kind(requested: str, n: int, hnsw_from: int) -> str:
    if requested != "auto":
        return requested
    return "hnsw" if n >= hnsw_from else "flat"


class DenseIndex:
    def __init__(self, index: faiss.Index, kind: str):
        self.index = index
        self.kind = kind

    @classmethod
    def build(cls, vectors: np.ndarray, kind: str = "flat", *, hnsw_m: int = 32, ef_construction: int = 80,
              ef_search: int = 64, ivf_lists: int | None = None, pq_m: int = 48) -> "DenseIndex":
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        n, dim = vectors.shape
        if kind == "flat":
            index = faiss.IndexFlatIP(dim)
        elif kind == "hnsw":
            index = faiss.IndexHNSWFlat(dim, hnsw_m, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = ef_construction
            index.hnsw.efSearch = ef_search
        elif kind == "ivfpq":
            nlist = ivf_lists or max(16, int(4 * np.sqrt(max(n, 1))))
            quantizer = faiss.IndexFlatIP(dim)
            index = faiss.IndexIVFPQ(quantizer, dim, nlist, pq_m, 8, faiss.METRIC_INNER_PRODUCT)
            sample = vectors if n <= 100_000 else vectors[np.random.default_rng(0).choice(n, 100_000, False)]
            index.train(sample)
            index.nprobe = min(nlist, 32)
        else:
            raise ValueError(f"unknown dense index kind: {kind}")
        if n:
            index.add(vectors)
        return cls(index, kind)

    def search(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        k = min(k, self.index.ntotal)
        if k <= 0:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
        q = np.ascontiguousarray(query, dtype=np.float32).reshape(1, -1)
        scores, rows = self.index.search(q, k)
        keep = rows[0] >= 0
        return rows[0][keep], scores[0][keep]

    def save(self, folder: Path, name: str = "dense") -> None:
        faiss.write_index(self.index, str(folder / f"{name}.faiss"))
        (folder / f"{name}.json").write_text(json.dumps({"kind": self.kind, "ntotal": int(self.index.ntotal)}))

    @classmethod
    def load(cls, folder: Path, name: str = "dense", mmap: bool = False) -> "DenseIndex":
        meta = json.loads((folder / f"{name}.json").read_text())
        flags = faiss.IO_FLAG_MMAP if mmap else 0
        index = faiss.read_index(str(folder / f"{name}.faiss"), flags)
        return cls(index, meta["kind"])
