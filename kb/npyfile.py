"""Writing the .npy files that serving memory-maps (BM25 postings, vectors, their float16 copy) in writes
of 64 KB.

Why: on current Linux kernels (seen on 6.18, ext4) one large write() fills the page cache with large folios
(up to 2 MB), and a memory-mapped read of any byte of such a folio maps all of it into the reader. A 1M-passage
KB's BM25 postings written by `np.save` in one call were mapped 970 MB deep after 200 questions; the same
bytes written 64 KB at a time, 477 MB (the pages the questions read, with the kernel's own 64 KB fault-around;
500k float16 vectors, 8,000 rows read: 378 MB when written through a memory map, 290 MB).
The files are byte-for-byte what `np.save` writes.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

CHUNK = 64 * 1024


def write_array(f, array: np.ndarray, chunk: int = CHUNK) -> None:
    """`np.save`'s bytes into an open binary file, the data in writes of at most `chunk` bytes."""
    header = np.lib.format.header_data_from_array_1_0(array)
    np.lib.format.write_array_header_1_0(f, header)
    # np.save keeps a Fortran-ordered array's order (its transpose is then C-ordered); anything else in C order
    write_data(f, array.T if header["fortran_order"] else array, chunk)


def write_header(f, dtype, shape: tuple[int, ...]) -> None:
    """The header `np.save` writes for a C-ordered array of this dtype and shape (data to follow)."""
    np.lib.format.write_array_header_1_0(f, {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)),
                                             "fortran_order": False, "shape": tuple(shape)})


def write_data(f, array: np.ndarray, chunk: int = CHUNK) -> None:
    """The array's bytes in C order, in writes of at most `chunk` bytes."""
    flat = np.ascontiguousarray(array).reshape(-1)
    data = memoryview(flat).cast("B") if flat.size else memoryview(b"")
    for start in range(0, len(data), chunk):
        f.write(data[start:start + chunk])


def save_array(path: Path, array: np.ndarray) -> None:
    with open(path, "wb", buffering=0) as f:
        write_array(f, array)
