"""`kb bench`: the performance figures of this machine, printed and written to --out (JSON + PNG).

Parts (each in bot/bench/): engines (which engine encodes a query fastest, each in its own process),
query_path (where one answer's milliseconds go; micro-batching in-process), http_bench (the real service
over loopback with a separate load-generator process: cold start, RSS, p50/p95/p99 and requests/s at
concurrency 1/8/32 with distinct questions and with a repeat mix), ingest_bench (model conversion, seeds
ingest cold and incremental), scale (synthetic corpora of 10k/100k/1M passages; --quick stops at 100k).

Every figure carries the machine's load average when it was taken: on 2 shared cores, numbers taken
while something else runs are noise.
"""
from __future__ import annotations

import json
import platform
import time
from pathlib import Path

from bot.bench.common import bare_ms, load, log, write_json

PARTS = ("engines", "query", "http", "ingest", "scale")


def run_bench(settings, args) -> int:
    quick = bool(getattr(args, "quick", False))
    out_dir = Path(getattr(args, "out", None) or "bench-results").resolve()
    parts = [p for p in (getattr(args, "parts", None) or ",".join(PARTS)).split(",") if p]
    out_dir.mkdir(parents=True, exist_ok=True)
    result = run(settings, out_dir, quick=quick, parts=parts, sizes=getattr(args, "sizes", None))
    print_summary(result)
    try:
        from bot.bench.plot import plot

        plot(result, out_dir / "bench.png")
        log(f"plot: {out_dir / 'bench.png'}")
    except Exception as exc:  # noqa: BLE001 - figures are still in the JSON
        log(f"plot failed: {exc}")
    return 0


def run(settings, out_dir: Path, *, quick: bool = False, parts=PARTS, sizes=None,
        http_levels=(1, 8, 32), http_per_level=None, n_questions=None, scale_queries=None,
        scale_kinds=None, engine_list=None, compare_no_batching=True, convert_model=True,
        http_engines=("onnx", "onnx-int8")) -> dict:
    from bot.bench import questions as qmod

    t0 = time.perf_counter()
    dev = Path(__file__).resolve().parents[2] / "tests" / "data" / "dev.jsonl"
    per_level = http_per_level or ({1: 200, 8: 300, 32: 600} if quick else {1: 400, 8: 800, 32: 1600})
    top = per_level.get(max(http_levels), 0)
    need = sum(per_level.get(c, 0) for c in http_levels) + top + len(http_engines) * (per_level.get(min(http_levels), 0) + top + 20) + 200
    pool = qmod.unique_questions(n_questions or (need + 1200), settings.docs_dirs, dev)
    query_qs = pool[:150 if quick else 300]
    floor_qs = query_qs  # the floor: the same questions, encoded bare (uncached, so the answers still encode)
    batch_qs = pool[600:1000]
    scale_qs = pool[1000:1000 + (scale_queries or (100 if quick else 200))]
    http_qs = pool[1200:]
    repeat_pool = qmod.unique_questions(300, settings.docs_dirs, dev, seed=99)
    repeat = qmod.repeat_mix(per_level.get(max(http_levels), 600), repeat_pool)
    result: dict = {
        "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "machine": {"cpus": __import__("os").cpu_count(), "processor": platform.processor() or platform.machine(),
                    "python": platform.python_version()},
        "settings": {"encoder_engine": settings.encoder_engine, "microbatch_max": settings.microbatch_max,
                     "encoder_threads": settings.encoder_threads},
        "quick": quick, "load_at_start": load(),
    }
    out_file = out_dir / "bench.json"

    def save():
        write_json(out_file, result)

    if "engines" in parts:
        from bot.bench import engines

        result["engines"] = engines.run(settings, pool[:40], out_dir, quick, engine_list)
        save()
    kb = None
    if "query" in parts or "scale" in parts:
        from kb.knowledge_base import KnowledgeBase

        kb = KnowledgeBase.open(settings)
        result["encoder_engine"] = kb.encoder.engine
        result["encoder_precision"] = kb.encoder.backend.precision  # OpenVINO: bf16 / f32
    if "query" in parts:
        from bot.bench import query_path

        log("query path")
        result["query_path"] = query_path.stages(kb, query_qs, floor_qs)
        result["microbatching"] = query_path.batching(kb.encoder, batch_qs, threads=32)
        save()
    if "http" in parts:
        from bot.bench import http_bench

        from kb.encoders import Encoder
        from kb.encoders.onnx_engine import onnx_model_path

        encoder = kb.encoder if kb is not None else Encoder.from_settings(settings)  # the c=1 floor
        # The other ONNX engines, measured beside the one serving (the same requests, each its own server).
        others = tuple(e for e in http_engines if e != encoder.engine and onnx_model_path(
            settings.model_name_or_path, "int8" if e == "onnx-int8" else "fp32"))
        result["http"] = http_bench.run(settings, out_dir, http_qs, repeat, list(http_levels), per_level,
                                        compare_no_batching, others, floor=lambda texts: bare_ms(encoder, texts))
        save()
    if "ingest" in parts:
        from bot.bench import ingest_bench

        result["ingest"] = ingest_bench.run(settings, out_dir, convert_model)
        save()
    if "scale" in parts:
        from bot.bench import scale

        sizes = sizes or ([10_000, 100_000] if quick else [10_000, 100_000, 1_000_000])
        result["scale"] = scale.run(settings, kb, out_dir, list(sizes), scale_qs,
                                     {n: list(scale_kinds) for n in sizes} if scale_kinds else {})
        save()
    if kb is not None:
        kb.close()
    result["seconds"] = round(time.perf_counter() - t0, 1)
    result["load_at_end"] = load()
    save()
    return result


def _g(d, *keys, default=None):
    for k in keys:
        if not isinstance(d, dict) or k not in d:
            return default
        d = d[k]
    return d


def _level_line(label: str, c: str, x: dict) -> str:
    """One load level of the HTTP bench: latency percentiles, throughput, and /healthz when probed."""
    healthz = (x.get("healthz_during_load_ms") or {}).get("p99")
    return (f"  {label:6s} c={c:>2}: p50 {x['latency_ms']['p50']:7.1f}  p95 {x['latency_ms']['p95']:7.1f}"
            f"  p99 {x['latency_ms']['p99']:7.1f} ms  {x['rps']:6.1f} req/s  ok {x['ok']}/{x['requests']}"
            + (f"  healthz p99 {healthz} ms" if healthz is not None else "") + f"  (load {x['load']['load1']})")


def summary_lines(r: dict) -> list[str]:
    out = []
    if "engines" in r:
        out.append("Engines (single query, p50/p95 ms; batch-32 q/s):")
        for name, e in r["engines"]["engines"].items():
            if "single_ms" in e:
                out.append(f"  {name:38s} {e['single_ms']['p50']:7.1f} / {e['single_ms']['p95']:7.1f}   "
                           f"{e['throughput'].get('batch32_qps', '')}   (load {e['load']['load1']})")
            else:
                out.append(f"  {name:38s} error {e.get('error')}")
        out.append(f"  fastest: {r['engines']['fastest_single_query']}")
    if "query_path" in r:
        q = r["query_path"]
        precision = r.get("encoder_precision")
        engine = f"{q['engine']}, {precision}" if precision and precision != "fp32" else q["engine"]
        out.append(f"Query path in-process ({engine}), p50/p95 ms (load {q['load']['load1']}):")
        for k in ("normalize", "encode", "dense", "bm25", "fusion", "compose", "sum", "total", "bare_encode"):
            out.append(f"  {k:12s} {q[k]['p50']:8.2f} / {q[k]['p95']:8.2f}")
        out.append(f"  total p50 / bare encode p50 = {q['ratio_total_p50_to_bare_encode_p50']}")
    if "microbatching" in r:
        m = r["microbatching"]
        out.append(f"Micro-batching, {m['threads']} threads: {m['with_microbatching']['qps']} q/s "
                   f"(mean batch {m['with_microbatching']['mean_batch']}) vs {m['without']['qps']} q/s "
                   f"without: x{m['speedup']}")
    if "http" in r:
        h = r["http"]
        out.append(f"HTTP: cold start {h.get('cold_start_s')} s, RSS {h.get('rss_after_start_mb')} MB after start, "
                   f"{h.get('rss_after_load_mb')} MB after load")
        for label, group in (("unique", h["levels"]), ("repeat", h["repeat_mix"])):
            for c, x in group.items():
                out.append(_level_line(label, c, x))
        bare = _g(r, "query_path", "bare_encode", "p50")
        c1 = _g(h, "levels", "1", "latency_ms", "p50")
        near = _g(h, "levels", "1", "bare_encode_interleaved_ms", "p50")
        if near and c1:
            out.append(f"  /v1/ask p50 at c=1 / bare encode p50 interleaved with it = {c1} / {near} = "
                       f"{round(c1 / near, 3)}")
        if bare and c1:
            out.append(f"  /v1/ask p50 at c=1 / in-process bare encode p50 (query part) = {c1} / {bare} = "
                       f"{round(c1 / bare, 3)}")
        for engine, runs in h.get("engines", {}).items():
            if "error" in runs:
                out.append(f"  engine {engine}: error {runs['error'][:200]}")
                continue
            for c, x in runs.items():
                out.append(_level_line(f"{engine} unique", c, x))
        if "no_microbatching" in h:
            x = h["no_microbatching"]
            out.append(f"  unique c={x['concurrency']} without micro-batching: p50 {x['latency_ms']['p50']} ms, "
                       f"{x['rps']} req/s")
    if "ingest" in r:
        i = r["ingest"]
        if "model_conversion" in i:
            out.append(f"Model conversion: {i['model_conversion']['wall_s']} s")
        for k in ("cold", "incremental_no_change", "incremental_one_doc_edited"):
            x = i[k]
            out.append(f"Ingest {k}: {x['wall_s']} s wall ({x['build_s']} s build), {x['passages']} passages, "
                       f"{x['passages_per_s']} passages/s, embedded {x['embedded']}")
    if "scale" in r:
        out.append("Scale (search excludes encode; dense = top-100 + exact re-score):")
        for n, s in r["scale"]["sizes"].items():
            out.append(f"  {int(n):>9,d} passages: BM25 build {s['build_s'].get('bm25_words')}+{s['build_s'].get('bm25_chars')} s, "
                       f"disk BM25 {s['disk_mb'].get('bm25_words')}+{s['disk_mb'].get('bm25_chars')} MB")
            for kind, x in s["search"].items():
                if "error" in x:
                    out.append(f"     {kind:7s} error")
                    continue
                sm = x["search_ms"]
                out.append(f"     {kind:7s} build {s['build_s'].get('dense_' + kind)} s, disk {s['disk_mb'].get('dense_' + kind)} MB, "
                           f"RSS {x.get('rss_after_search_mb')} MB serving ({x.get('rss_after_search_file_backed_mb')} file-backed; "
                           f"{x['rss_after_queries_mb']} after the exhaustive reference), recall@10 {x['dense_recall@10']} "
                           f"({x['param_name']}={x['chosen_param']}), p50/p95 ms dense {_g(sm, 'dense', 'p50')}/{_g(sm, 'dense', 'p95')}"
                           f" words {_g(sm, 'bm25_words', 'p50')}/{_g(sm, 'bm25_words', 'p95')}"
                           f" chars {_g(sm, 'bm25_chars', 'p50')}/{_g(sm, 'bm25_chars', 'p95')}"
                           f" hybrid {_g(sm, 'hybrid', 'p50')}/{_g(sm, 'hybrid', 'p95')}"
                           f"; BM25 recall@10 vs exact {x.get('bm25_words_recall@10_vs_exact')}/"
                           f"{x.get('bm25_chars_recall@10_vs_exact')}"
                           + (f"; with the model: RSS {x['rss_with_model_mb']} MB, search incl. encode p50 "
                              f"{_g(x, 'search_with_encode_ms', 'p50')} ms" if "rss_with_model_mb" in x else ""))
    out.append(f"load: start {r['load_at_start']['load1']}, end {_g(r, 'load_at_end', 'load1')}")
    return out


def print_summary(r: dict) -> None:
    print("\n".join(summary_lines(r)))
