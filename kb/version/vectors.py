"""The vectors candidates are re-scored with: float32 as embedded, or a float16 copy for large KBs.

Every version keeps `<name>.npy` in float32 (what incremental ingest reuses). From `half_from` vectors on,
it also writes `<name>.f16.npy`, and serving maps that instead: re-scoring reads ~400 rows a question
scattered over the whole file, so the pages a long-running service keeps resident are half as many
(1M passages: at most 0.73 GB instead of 1.46). A cosine moves by ~1e-4, far below what separates two results.
An `hnswf16` index stores float16 vectors itself: serving re-scores from those, and no copy is written.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from kb.npyfile import write_data, write_header

HALF_SUFFIX = ".f16.npy"


def write_half_copy(folder: Path, name: str, vectors: np.ndarray, half_from: int) -> bool:
    """Writes the float16 copy when the set is large enough; in chunks, so a 1M set needs no second
    full-size array in memory. Callers skip it when the dense index holds the vectors itself."""
    if len(vectors) < half_from:
        return False
    with open(folder / f"{name}{HALF_SUFFIX}", "wb", buffering=0) as f:  # small writes: kb/npyfile.py
        write_header(f, np.float16, vectors.shape)
        for a in range(0, len(vectors), 100_000):
            write_data(f, np.asarray(vectors[a:a + 100_000], dtype=np.float16))
    return True


def load_rescoring(folder: Path, name: str, dense=None) -> np.ndarray:
    """The re-scoring vectors: the dense index's own float16 vectors if it stores them (`dense`, a
    `DenseIndex`), else memory-mapped (the float16 copy if the version has one), as a plain ndarray over
    the file's pages: indexing an np.memmap builds a memmap object per slice, which cost more than the
    arithmetic in the search loop."""
    stored = dense.stored_vectors() if dense is not None else None
    if stored is not None:
        return stored
    half = folder / f"{name}{HALF_SUFFIX}"
    path = half if half.is_file() else folder / f"{name}.npy"
    return np.asarray(np.load(path, mmap_mode="r"))
