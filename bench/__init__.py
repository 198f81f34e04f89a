"""The performance figures of this machine: `python -m bench` (or `make bench`) prints them and writes
--out/bench.json and --out/bench.png.

Outside the runtime package: the service never imports it, and its own dependencies (matplotlib, psutil)
are the `bench` optional group of pyproject.toml. It drives the product through public kb APIs and the
`kb` command line, as a user would.

Parts: engines (which engine encodes a query fastest, each in its own process), query_path (where one
answer's milliseconds go; micro-batching in-process), http_bench (the real service over loopback with a
separate load-generator process: cold start, RSS, p50/p95/p99 and requests/s at concurrency 1/8/32 with
distinct questions and with a repeat mix), ingest_bench (model conversion, seeds ingest cold and
incremental), scale (synthetic corpora of 10k/100k/1M passages; --quick stops at 100k).

Every figure carries the machine's load average when it was taken: on 2 shared cores, numbers taken
while something else runs are noise.
"""
