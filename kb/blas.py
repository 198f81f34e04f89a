"""numpy's BLAS threads in a process that answers questions.

A question multiplies one vector by up to ~50k rows (flat index, re-scoring). OpenBLAS splits such a
product over every core, and its threads then spin on the cores the model needs for the next question.
On 2 cores, one query encode after one product of 10k x 384 rows: product 0.53 ms and encode 7.1 ms with
one BLAS thread, 2.87 and 13.3 ms with every core; after 100k rows the encode takes 9.2 ms instead of 16.2
(the product is memory-bound, 6.7 ms either way). Large products at ingest (hub scores) are a one-off and cost little more on one thread.
"""
from __future__ import annotations


def limit_blas_threads() -> None:
    """One thread for numpy's (and scipy's) BLAS from now on, in every serving and ingest process (in
    ingest also because OpenBLAS's threads beside OpenVINO's hung 3 of 25 `kb ingest` runs; 0 of 30 with one).

    FAISS's own OpenBLAS is left alone: it runs on OpenMP, and limiting it would set FAISS's OpenMP threads
    too, making its index builds single-threaded (measured: the 1M HNSW build ran on one core)."""
    from threadpoolctl import ThreadpoolController

    for lib in ThreadpoolController().select(user_api="blas").lib_controllers:
        if "faiss" not in lib.filepath:
            lib.set_num_threads(1)
