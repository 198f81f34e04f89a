"""The query path in one process: where the milliseconds of one answer go, and what micro-batching buys.

- stages: p50/p95 of each entry of the answer's timings_ms (normalise, encode, dense, bm25, fusion,
  compose) and of their sum, over distinct questions (no cache hits), next to the bare query encode
  (Encoder.encode_query_uncached) measured in the same loop: the floor a dense answer cannot beat.
- batching: N threads asking distinct questions at once through Encoder.encode_query, with the
  micro-batcher (settings) and with an encoder of batches of one; queries/s and the batch sizes each saw.
"""
from __future__ import annotations

import threading
import time

from bench.common import load, log, pct

STAGES = ("normalize", "encode", "dense", "bm25", "fusion", "compose")


def stages(kb, questions: list[str], floor_questions: list[str]) -> dict:
    enc = kb.encoder
    for q in ("热身问题一", "热身问题二", "客户投诉怎么处理"):  # first calls pay for lazy setup
        kb.ask(q)
        enc.encode_query_uncached(q)
    rows: dict[str, list[float]] = {k: [] for k in (*STAGES, "sum", "total", "bare_encode", "wall")}
    for q, f in zip(questions, floor_questions):
        t = time.perf_counter()
        enc.encode_query_uncached(f)
        rows["bare_encode"].append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        ans = kb.ask(q)
        rows["wall"].append((time.perf_counter() - t) * 1000)
        tm = ans.timings_ms
        for k in STAGES:
            rows[k].append(float(tm.get(k, 0.0)))
        rows["sum"].append(sum(float(tm.get(k, 0.0)) for k in STAGES))
        rows["total"].append(float(tm.get("total", 0.0)))
    out = {k: pct(v, 50, 95) for k, v in rows.items()}
    out["n"] = len(questions)
    out["engine"] = getattr(enc, "engine", "torch")
    out["ratio_total_p50_to_bare_encode_p50"] = round(out["total"]["p50"] / out["bare_encode"]["p50"], 3)
    out["load"] = load()
    return out


def _hammer(enc, questions: list[str], threads: int) -> dict:
    chunks = [questions[i::threads] for i in range(threads)]
    before = dict(enc.stats)
    barrier = threading.Barrier(threads + 1)

    def work(chunk):
        barrier.wait()
        for q in chunk:
            enc.encode_query(q)

    ts = [threading.Thread(target=work, args=(c,)) for c in chunks]
    for t in ts:
        t.start()
    barrier.wait()
    t0 = time.perf_counter()
    for t in ts:
        t.join()
    dt = time.perf_counter() - t0
    batches = enc.stats["query_batches"] - before["query_batches"]
    encoded = enc.stats["queries_encoded"] - before["queries_encoded"]
    return {"queries": len(questions), "seconds": round(dt, 3), "qps": round(len(questions) / dt, 1),
            "batches": batches, "mean_batch": round(encoded / max(batches, 1), 2), "load": load()}


def batching(settings, enc, questions: list[str], threads: int = 32) -> dict:
    """Throughput of distinct queries from `threads` concurrent callers: through `enc` (the micro-batcher
    as configured) and through an encoder built with batches of one (the service with
    KB_MICROBATCH_MAX=1; a second model instance, loaded for this comparison)."""
    from kb.encoders import Encoder

    half = len(questions) // 2
    enc.clear_cache()
    with_b = _hammer(enc, questions[:half], threads)
    unbatched = Encoder.from_settings(settings.model_copy(update={"microbatch_max": 1}))
    without = _hammer(unbatched, questions[half:], threads)
    log(f"batching: {with_b['qps']} q/s with, {without['qps']} q/s without")
    return {"threads": threads, "with_microbatching": with_b, "without": without,
            "speedup": round(with_b["qps"] / max(without["qps"], 1e-9), 2)}
