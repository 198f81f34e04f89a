"""Opening a KnowledgeBase, and starting a KB build, limit numpy's BLAS to one thread (kb/blas.py): a product
never leaves spinning threads on the cores the model needs next. FAISS's own OpenBLAS is left alone: it runs
on OpenMP, and limiting it would make FAISS's index builds single-threaded.

Each check runs in a fresh process that first gives numpy's BLAS and FAISS's OpenMP three threads each (more
than one, whatever the machine's core count), then does only the one thing under test, and reports the
thread counts threadpoolctl and FAISS see afterwards."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

from tests.support.paths import REPO, SEEDS
from tests.support.service import copy_seed_data

PROBE = textwrap.dedent("""
    import json, sys
    import faiss  # FAISS's OpenBLAS, which runs on OpenMP
    import numpy  # numpy's OpenBLAS
    from threadpoolctl import ThreadpoolController, threadpool_info

    def numpy_blas():
        return [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas" and "faiss" not in i["filepath"]]

    for lib in ThreadpoolController().select(user_api="blas").lib_controllers:
        if "faiss" not in lib.filepath:
            lib.set_num_threads(3)
    faiss.omp_set_num_threads(3)
    before = numpy_blas()

    from kb.settings import Settings
    settings = Settings(data_dir=sys.argv[2], docs_dirs=[sys.argv[3]], model=sys.argv[4])
    if sys.argv[1] == "open":
        from kb.knowledge_base import KnowledgeBase

        class Encoder:  # all opening reads of it; the real one is not loaded, so only the KB can limit BLAS
            dim = int(sys.argv[5])
            fingerprint = "st:probe"  # a base model's (kb/version/model.py): the version's own, as built

        KnowledgeBase.open(settings, encoder=Encoder()).close()
    else:
        from ingest.pipeline import build_version

        assert not build_version(settings).changed  # the corpus is unchanged: nothing is embedded

    print(json.dumps({"before": before, "after": numpy_blas(), "faiss_omp": faiss.omp_get_max_threads()}))
""")


def _probe(action: str, data_dir, model_dir, *extra: str) -> dict:
    run = subprocess.run([sys.executable, "-c", PROBE, action, str(data_dir), str(SEEDS), str(model_dir), *extra],
                         cwd=REPO, capture_output=True, text=True, timeout=300,
                         env={**{k: v for k, v in os.environ.items() if not k.startswith(("KB_", "OPENBLAS", "OMP_"))},
                              "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"})
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout.strip().splitlines()[-1])


def _check(threads: dict) -> None:
    assert threads["before"] and all(n == 3 for n in threads["before"]), threads  # numpy's BLAS was found, at 3
    assert all(n == 1 for n in threads["after"]), threads
    assert threads["faiss_omp"] == 3, threads  # limiting FAISS's OpenBLAS would have set its OpenMP threads to 1


def test_opening_a_kb_limits_numpys_blas_threads_and_leaves_faiss_alone(tmp_path, seed_settings, seed_build,
                                                                         model_dir, encoder):
    data = copy_seed_data(seed_settings, tmp_path / "data")
    _check(_probe("open", data, model_dir, str(encoder.dim)))


def test_a_kb_build_limits_numpys_blas_threads_and_leaves_faiss_alone(tmp_path, seed_settings, seed_build,
                                                                       model_dir):
    data = copy_seed_data(seed_settings, tmp_path / "data")
    _check(_probe("build", data, model_dir))
