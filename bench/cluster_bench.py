"""The cluster part: PostgreSQL, up to three replicas and nginx on this machine (deploy/cluster.py), fed
the version of this data folder through the database.

    start_to_ready_s        a replica with an empty cache: start to /readyz 200, the version pulled from
                            the database (target <= 10 s for the seeds)
    replicas[n]             requests/s and latency through nginx with n = 1, 2, 3 replicas (16 connections),
                            and the CPU seconds the replicas and nginx spent per request (on 2 cores more
                            replicas cannot add throughput: the figure to watch is CPU per request)
    nginx_hop_ms            GET /healthz at concurrency 1, straight to a replica and through nginx: the p50
                            difference is what the proxy adds (target <= 1 ms)
    tuned_model             a model folder the size of the base model's (a copy of it, marked tuned) stored in
                            the database and fetched into an empty folder, as a replica fetches a tuned model
                            (kb/state/pg_models.py)
"""
from __future__ import annotations

import json
import shutil
import tempfile
import time
from pathlib import Path

from bench.common import free_port, load, log, pct
from bench.http_bench import _load, _summary


def _cpu_seconds(pids: list[int]) -> float:
    import psutil

    total = 0.0
    for pid in pids:
        try:
            proc = psutil.Process(pid)
            for p in (proc, *proc.children(recursive=True)):
                times = p.cpu_times()
                total += times.user + times.system
        except psutil.NoSuchProcess:
            pass
    return total


def _model_transfer(url: str, model: Path, root: Path) -> dict:
    from kb.state.pg_db import Database
    from kb.state.pg_models import PgModelStore
    from kb.version.model import TUNED_RECORD

    name = "tuned-bench0000000"
    built, replica = root / "models-built", root / "models-replica"
    shutil.copytree(model, built / name)
    (built / name / TUNED_RECORD).write_text(json.dumps({"weights_sha256": "bench"}))
    size = sum(p.stat().st_size for p in (built / name).rglob("*") if p.is_file())
    db = Database(url, name="kefu-kb-bench")
    try:
        t = time.perf_counter()
        PgModelStore(db, built).store(name)
        stored = time.perf_counter() - t
        t = time.perf_counter()
        PgModelStore(db, replica).fetch(name)
        fetched = time.perf_counter() - t
    finally:
        db.close()
    log(f"cluster: a {size >> 20} MB model stored in {stored:.1f} s, fetched in {fetched:.1f} s")
    return {"mb": size >> 20, "store_s": round(stored, 2), "fetch_s": round(fetched, 2)}


def run(settings, out_dir: Path, questions: list[str], concurrency: int = 16, per_level: int = 600) -> dict:
    from deploy.cluster import Cluster, Layout
    from deploy.nginx import Nginx

    root = Path(tempfile.mkdtemp(prefix="kb-bench-cluster-"))
    root.chmod(0o755)  # PostgreSQL runs as its own user inside it
    ports = [free_port() for _ in range(3)]
    layout = Layout(root=root, pg_port=free_port(), replica_ports=ports, nginx_port=free_port(),
                    rate_per_second=100_000, burst=100_000, model=Path(settings.model_name_or_path),
                    replica_env={"KB_RATE_LIMIT_PER_MINUTE": "0"})
    cluster = Cluster(layout)
    tmp = out_dir / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    result: dict = {"concurrency": concurrency}
    try:
        cluster.start_database()
        cluster.publish_versions_of(settings)
        log("cluster: replica start to ready, version pulled from PostgreSQL")
        cluster.start_replica(ports[0])
        result["start_to_ready_s"] = round(cluster.wait_ready(ports[0]), 2)
        for port in ports[1:]:
            cluster.start_replica(port)
            cluster.wait_ready(port)
        levels, used = {}, 0
        for n in (1, 2, 3):
            nginx = Nginx(root / f"nginx-{n}", free_port(), ports[:n], rate=100_000, burst=100_000).start()
            try:
                chunk = questions[used:used + per_level]
                used += per_level
                pids = [cluster.replica_pid(p) for p in ports[:n]] + [nginx.pid()]
                cpu0 = _cpu_seconds(pids)
                x = _summary(_load(nginx.port, chunk, concurrency, tmp, probe=False), chunk, concurrency)
                x["cpu_ms_per_request"] = round((_cpu_seconds(pids) - cpu0) * 1000 / max(1, x["requests"]), 2)
                levels[n] = x
                log(f"cluster: {n} replica(s): {x['rps']} req/s, p50 {x['latency_ms']['p50']} ms, "
                    f"{x['cpu_ms_per_request']} ms CPU a request")
            finally:
                nginx.stop()
        result["replicas"] = levels
        nginx = Nginx(root / "nginx-hop", free_port(), ports[:1]).start()
        try:
            pings = ["healthz"] * 3000
            direct = _load(ports[0], pings, 1, tmp, probe=False, method="GET", path="/healthz")
            proxied = _load(nginx.port, pings, 1, tmp, probe=False, method="GET", path="/healthz")
        finally:
            nginx.stop()
        d, p = pct(direct["latencies_ms"], 50)["p50"], pct(proxied["latencies_ms"], 50)["p50"]
        result["nginx_hop_ms"] = {"direct_p50": d, "through_nginx_p50": p, "added_p50": round(p - d, 3)}
        result["tuned_model"] = _model_transfer(cluster.database_url, Path(settings.model_name_or_path), root)
        result["load"] = load()
    finally:
        cluster.stop()
        shutil.rmtree(root, ignore_errors=True)
    return result
