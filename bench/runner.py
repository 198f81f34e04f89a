"""Runs the chosen parts in order and saves bench.json after each, so a part that fails late keeps the
figures of the parts before it."""
from __future__ import annotations

import os
import platform
import time
from pathlib import Path

from bench.common import REPO, bare_ms, load, log, write_json

PARTS = ("engines", "query", "http", "cluster", "ingest", "scale")
DEV_SET = REPO / "tests" / "data" / "dev.jsonl"  # labelled agent questions, recombined into load questions


def _question_sets(settings, quick: bool, http_levels, per_level: dict, http_engines, n_questions,
                   scale_queries) -> dict[str, list[str]]:
    """Distinct questions for each part (no part sees another's, so no answer comes from a cache), and
    the repeat mix of the HTTP part."""
    from bench.questions import repeat_mix, unique_questions

    top = per_level.get(max(http_levels), 0)
    need = (sum(per_level.get(c, 0) for c in http_levels) + top
            + len(http_engines) * (per_level.get(min(http_levels), 0) + top + 20) + 200)
    pool = unique_questions(n_questions or (need + 1200), settings.docs_dirs, DEV_SET)
    query = pool[:150 if quick else 300]
    return {
        "engines": pool[:40],
        "query": query,
        "floor": query,  # the floor: the same questions, encoded bare (uncached, so the answers still encode)
        "batch": pool[600:1000],
        "scale": pool[1000:1000 + (scale_queries or (100 if quick else 200))],
        "http": pool[1200:],
        "cluster": pool[-1800:],  # the cluster part's three levels of 600, from the far end
        "repeat": repeat_mix(top or 600, unique_questions(300, settings.docs_dirs, DEV_SET, seed=99)),
    }


def run(settings, out_dir: Path, *, quick: bool = False, parts=PARTS, sizes=None,
        http_levels=(1, 8, 32), http_per_level=None, n_questions=None, scale_queries=None,
        scale_kinds=None, engine_list=None, compare_no_batching=True, convert_model=True,
        http_engines=("onnx", "onnx-int8")) -> dict:
    """The figures of `parts` as one dict (also written to out_dir/bench.json). The keyword arguments
    shrink the run for the smoke test: fewer questions, sizes, index kinds and engines."""
    t0 = time.perf_counter()
    per_level = http_per_level or ({1: 200, 8: 300, 32: 600} if quick else {1: 400, 8: 800, 32: 1600})
    questions = _question_sets(settings, quick, http_levels, per_level, http_engines, n_questions, scale_queries)
    result: dict = {
        "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "machine": {"cpus": os.cpu_count(), "processor": platform.processor() or platform.machine(),
                    "python": platform.python_version()},
        "settings": {"encoder_engine": settings.encoder_engine, "microbatch_max": settings.microbatch_max,
                     "encoder_threads": settings.encoder_threads},
        "quick": quick, "load_at_start": load(),
    }
    out_file = out_dir / "bench.json"

    def save():
        write_json(out_file, result)

    if "engines" in parts:
        from bench import engines

        result["engines"] = engines.run(settings, questions["engines"], out_dir, quick, engine_list)
        save()
    kb = None
    if "query" in parts or "scale" in parts:
        from kb.knowledge_base import KnowledgeBase

        kb = KnowledgeBase.open(settings)
        result["encoder_engine"] = kb.encoder.engine
        result["encoder_precision"] = kb.encoder.backend.precision  # OpenVINO: bf16 / f32
    if "query" in parts:
        from bench import query_path

        log("query path")
        result["query_path"] = query_path.stages(kb, questions["query"], questions["floor"])
        result["microbatching"] = query_path.batching(settings, kb.encoder, questions["batch"], threads=32)
        save()
    if "http" in parts:
        from bench import http_bench
        from kb.encoders import Encoder
        from kb.encoders.onnx_engine import onnx_model_path

        encoder = kb.encoder if kb is not None else Encoder.from_settings(settings)  # the c=1 floor
        # The other ONNX engines, measured beside the one serving (the same requests, each its own server).
        others = tuple(e for e in http_engines if e != encoder.engine and onnx_model_path(
            settings.model_name_or_path, "int8" if e == "onnx-int8" else "fp32"))
        result["http"] = http_bench.run(settings, out_dir, questions["http"], questions["repeat"],
                                        list(http_levels), per_level, compare_no_batching, others,
                                        floor=lambda texts: bare_ms(encoder, texts))
        save()
    if "cluster" in parts:
        from bench import cluster_bench

        result["cluster"] = cluster_bench.run(settings, out_dir, questions["cluster"])
        save()
    if "ingest" in parts:
        from bench import ingest_bench

        result["ingest"] = ingest_bench.run(settings, out_dir, convert_model)
        save()
    if "scale" in parts:
        from bench import scale

        sizes = sizes or ([10_000, 100_000] if quick else [10_000, 100_000, 1_000_000])
        result["scale"] = scale.run(settings, kb, out_dir, list(sizes), questions["scale"],
                                    {n: list(scale_kinds) for n in sizes} if scale_kinds else {})
        save()
    if kb is not None:
        kb.close()
    result["seconds"] = round(time.perf_counter() - t0, 1)
    result["load_at_end"] = load()
    save()
    return result
