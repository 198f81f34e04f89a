"""The figures of a bench run as text lines, one block per part."""
from __future__ import annotations


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


def _cluster_lines(c: dict) -> list[str]:
    out = [f"Cluster (PostgreSQL + nginx, c={c['concurrency']}): replica start to ready {c['start_to_ready_s']} s"]
    for n, x in c["replicas"].items():
        out.append(f"  {n} replica(s): {x['rps']:6.1f} req/s  p50 {x['latency_ms']['p50']:7.1f} ms  "
                   f"{x['cpu_ms_per_request']} ms CPU a request  ok {x['ok']}/{x['requests']}")
    hop = c["nginx_hop_ms"]
    out.append(f"  nginx hop: /healthz p50 {hop['direct_p50']} ms direct, {hop['through_nginx_p50']} ms through "
               f"nginx: +{hop['added_p50']} ms")
    if "tuned_model" in c:
        m = c["tuned_model"]
        out.append(f"  tuned model ({m['mb']} MB): stored in the database {m['store_s']} s, fetched {m['fetch_s']} s")
    return out


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
    if "cluster" in r:
        out += _cluster_lines(r["cluster"])
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
