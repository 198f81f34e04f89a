"""bench.png: query-path stages, HTTP latency/throughput by concurrency, and cost against corpus size
(log-log)."""
from __future__ import annotations

from pathlib import Path


def plot(r: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(13, 9))
    ax = axes[0][0]
    if "query_path" in r:
        q = r["query_path"]
        names = [k for k in ("normalize", "encode", "dense", "bm25", "fusion", "compose", "total", "bare_encode")]
        ax.bar(names, [q[k]["p50"] for k in names], label="p50")
        ax.bar(names, [q[k]["p95"] - q[k]["p50"] for k in names], bottom=[q[k]["p50"] for k in names],
               alpha=0.4, label="p95")
        ax.set_ylabel("ms")
        ax.set_title(f"query path in-process ({q.get('engine')})")
        ax.tick_params(axis="x", rotation=30)
        ax.legend()
    ax = axes[0][1]
    if "http" in r:
        h = r["http"]
        for label, group, style in (("unique", h["levels"], "o-"), ("repeat mix", h["repeat_mix"], "s--")):
            cs = sorted(group, key=int)
            if cs:
                ax.plot([int(c) for c in cs], [group[c]["latency_ms"]["p50"] for c in cs], style, label=f"{label} p50")
                ax.plot([int(c) for c in cs], [group[c]["latency_ms"]["p95"] for c in cs], style, alpha=0.5,
                        label=f"{label} p95")
        ax.set_xscale("log", base=2)
        ax.set_xlabel("concurrency")
        ax.set_ylabel("latency ms")
        ax2 = ax.twinx()
        cs = sorted(h["levels"], key=int)
        ax2.bar([int(c) for c in cs], [h["levels"][c]["rps"] for c in cs], width=[int(c) * 0.3 for c in cs],
                alpha=0.2, color="g")
        ax2.set_ylabel("req/s (unique, bars)")
        ax.set_title("/v1/ask over loopback")
        ax.legend(fontsize=8)
    if "scale" in r:
        sizes = r["scale"]["sizes"]
        ns = sorted(sizes, key=int)
        ax = axes[1][0]
        for kind in ("flat", "hnsw", "hnswsq", "hnswf16", "ivfpq", "ivfsq"):
            pts = [(int(n), sizes[n]["search"][kind]) for n in ns if kind in sizes[n]["search"]
                   and "search_ms" in sizes[n]["search"][kind]]
            if pts:
                ax.plot([p[0] for p in pts], [p[1]["search_ms"]["dense"]["p50"] for p in pts], "o-",
                        label=f"dense {kind} p50")
                if all("hybrid" in p[1]["search_ms"] for p in pts):
                    ax.plot([p[0] for p in pts], [p[1]["search_ms"]["hybrid"]["p50"] for p in pts], "^:",
                            label=f"hybrid ({kind}) p50")
        for ch in ("bm25_words", "bm25_chars"):
            pts = []
            for n in ns:
                any_kind = next((x for x in sizes[n]["search"].values() if "search_ms" in x), None)
                if any_kind:
                    pts.append((int(n), any_kind["search_ms"][ch]["p50"]))
            if pts:
                ax.plot([p[0] for p in pts], [p[1] for p in pts], "s--", label=f"{ch} p50")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("passages")
        ax.set_ylabel("search ms (excl. encode)")
        ax.set_title("search cost vs corpus size")
        ax.legend(fontsize=7)
        ax = axes[1][1]
        for kind in ("flat", "hnsw", "hnswsq", "hnswf16", "ivfpq", "ivfsq"):
            pts = [(int(n), sizes[n]) for n in ns if kind in sizes[n]["search"]]
            if pts:
                ax.plot([p[0] for p in pts], [p[1]["build_s"].get(f"dense_{kind}", 0) + 1e-3 for p in pts], "o-",
                        label=f"build s {kind}")
                key = lambda x: x.get("rss_after_search_mb") or x.get("rss_after_queries_mb")  # noqa: E731
                ok = [(n, s) for n, s in pts if key(s["search"][kind])]
                ax.plot([n for n, _ in ok], [key(s["search"][kind]) for _, s in ok], "x--",
                        label=f"RSS MB serving ({kind} + BM25)")
        ax.plot([int(n) for n in ns], [sizes[n]["build_s"]["bm25_words"] + sizes[n]["build_s"]["bm25_chars"]
                                       for n in ns], "s:", label="build s BM25")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("passages")
        ax.set_title("build time (s) and RSS (MB) vs corpus size")
        ax.legend(fontsize=7)
    load1 = r.get("load_at_start", {}).get("load1")
    fig.suptitle(f"python -m bench {r.get('created', '')} · load at start {load1}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
