"""A KnowledgeBase limits numpy's BLAS threads (kb/blas.py): a product never leaves spinning threads
on the cores the model needs next."""
from __future__ import annotations

import subprocess
import sys
import textwrap


def test_opening_a_kb_limits_blas_threads_and_leaves_faiss_alone(seed_kb):
    from threadpoolctl import threadpool_info

    numpy_blas = [i for i in threadpool_info() if i["user_api"] == "blas" and "faiss" not in i["filepath"]]
    assert numpy_blas and all(i["num_threads"] == 1 for i in numpy_blas)
    # FAISS's OpenBLAS is left alone: checked in a fresh process, whose default is every core
    code = textwrap.dedent("""
        import numpy  # loads numpy's OpenBLAS
        import faiss  # and FAISS's, which runs on OpenMP
        from threadpoolctl import threadpool_info
        from kb.blas import limit_blas_threads
        faiss_threads = faiss.omp_get_max_threads()
        limit_blas_threads()
        numpy_blas = [i for i in threadpool_info() if i["user_api"] == "blas" and "faiss" not in i["filepath"]]
        assert numpy_blas and all(i["num_threads"] == 1 for i in numpy_blas)
        # limiting FAISS's OpenBLAS would set its OpenMP threads too: index builds on one core
        assert faiss.omp_get_max_threads() == faiss_threads, (faiss.omp_get_max_threads(), faiss_threads)
    """)
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
