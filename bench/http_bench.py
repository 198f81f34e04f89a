"""The service over loopback: cold start, RSS, latency and requests/s at several concurrencies.

The server is the real `kb serve` (uvicorn, one worker) in its own process, over a private copy of the
current KB version (so the bench's questions never land in the real app database); the rate limiter is
switched off (it would refuse a load test from one address). The load comes from bench/loadgen.py in
another process.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

from bench.common import child_env, free_port, load, log, pct, rss_mb
from bench.questions import repeat_share


def private_data_dir(settings, dest: Path) -> Path:
    """dest/ with a copy of the current version (and the editors' dictionary): what the server serves."""
    from kb.state import open_content
    from kb.state.embedded import CURRENT

    src = open_content(settings).versions.current_folder()
    if dest.exists():
        shutil.rmtree(dest)
    (dest / "versions").mkdir(parents=True)
    shutil.copytree(src, dest / "versions" / src.name)
    (dest / "versions" / CURRENT).write_text(src.name)
    if settings.dictionary_dir.is_dir():
        shutil.copytree(settings.dictionary_dir, dest / "dictionary")
    if (settings.root / "calibration.json").exists():
        shutil.copy2(settings.root / "calibration.json", dest / "calibration.json")
    return dest


class Server:
    def __init__(self, settings, data_dir: Path, log_file: Path, env_extra: dict | None = None):
        self.port = free_port()
        env = child_env()
        env.update({
            "KB_DATA_DIR": str(data_dir),
            "KB_MODEL": settings.model_name_or_path,
            "KB_DOCS_DIRS": json.dumps([str(Path(d).resolve()) for d in settings.docs_dirs]),
            "KB_RATE_LIMIT_PER_MINUTE": "0",
            "KB_ENCODER_ENGINE": settings.encoder_engine,
        })
        env.update(env_extra or {})
        self.log_file = open(log_file, "w")
        self.t0 = time.perf_counter()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "serve", "--host", "127.0.0.1", "--port", str(self.port)],
            env=env, stdout=self.log_file, stderr=subprocess.STDOUT)
        self.ready_s: float | None = None

    def wait_ready(self, timeout: float = 120.0) -> float:
        import httpx

        deadline = time.perf_counter() + timeout
        with httpx.Client(timeout=2.0) as client:
            while time.perf_counter() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"server exited with {self.proc.returncode}; see {self.log_file.name}")
                try:
                    if client.get(f"http://127.0.0.1:{self.port}/readyz").status_code == 200:
                        self.ready_s = time.perf_counter() - self.t0
                        return self.ready_s
                except httpx.HTTPError:
                    pass
                time.sleep(0.02)
        raise TimeoutError("server not ready")

    def rss(self) -> float:
        return rss_mb(self.proc.pid)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log_file.close()


def _load(port: int, questions: list[str], concurrency: int, tmp: Path, probe: bool = True, **more) -> dict:
    """One run of the load generator: its raw latencies, statuses and requests/s (probe: /healthz every
    50 ms on a connection of its own; `more`: further keys of its spec, e.g. method and path)."""
    spec = tmp / f"load-{port}-{concurrency}-{len(questions)}.json"
    spec.write_text(json.dumps({"port": port, "questions": questions, "concurrency": concurrency,
                                "probe": probe, **more}, ensure_ascii=False), "utf-8")
    proc = subprocess.run([sys.executable, "-m", "bench.loadgen", str(spec)], capture_output=True, text=True,
                          env=child_env(), timeout=3600)
    if proc.returncode != 0:
        raise RuntimeError(f"load generator failed: {proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _summary(raw: dict, questions: list[str], concurrency: int) -> dict:
    return {
        "concurrency": concurrency,
        "requests": len(raw["latencies_ms"]),
        "ok": raw["statuses"].get("200", 0),
        "statuses": raw["statuses"],
        "errors": raw["n_errors"],
        "latency_ms": pct(raw["latencies_ms"], 50, 95, 99),
        "rps": round(raw["rps"], 1),
        "healthz_during_load_ms": pct(raw["healthz_ms"], 50, 95, 99),
        "repeat_share": repeat_share(questions),
        "load": load(),
    }


def drive(port: int, questions: list[str], concurrency: int, tmp: Path) -> dict:
    """One level; /healthz is probed only beside concurrent requests (see `drive_with_floor`)."""
    return _summary(_load(port, questions, concurrency, tmp, probe=concurrency > 1), questions, concurrency)


def drive_with_floor(port: int, questions: list[str], tmp: Path, floor, blocks: int = 8) -> dict:
    """Concurrency 1 in `blocks` runs, with the same questions encoded bare (`floor`: texts -> ms each, in
    this process, while the server idles) before each run and after the last. On shared vCPUs the speed
    moves by 10-25 % within minutes; bare encodes taken in the same minutes as the requests make their
    ratio a measurement of the service, not of the machine's mood.

    No /healthz probe here: it would make this level concurrency 2 for a quarter of the requests (a probe
    every 50 ms, ~12 ms a question), and on 2 cores any other work during an encode delays it. Measured
    on the same server, 400 questions each way: p50 12.55 ms with the probe, 11.96 without. The probe
    runs at the levels above, where the event loop's stalls are the question."""
    size = -(-len(questions) // blocks)
    chunks = [questions[i:i + size] for i in range(0, len(questions), size)]
    bare: list[float] = []
    merged: dict = {"latencies_ms": [], "statuses": {}, "n_errors": 0, "healthz_ms": [], "wall_s": 0.0}
    for chunk in chunks:
        bare += floor(chunk)
        raw = _load(port, chunk, 1, tmp, probe=False)
        merged["latencies_ms"] += raw["latencies_ms"]
        merged["healthz_ms"] += raw["healthz_ms"]
        merged["n_errors"] += raw["n_errors"]
        merged["wall_s"] += raw["wall_s"]
        for k, v in raw["statuses"].items():
            merged["statuses"][k] = merged["statuses"].get(k, 0) + v
    bare += floor(chunks[-1])
    merged["rps"] = len(merged["latencies_ms"]) / merged["wall_s"] if merged["wall_s"] else 0.0
    out = _summary(merged, questions, 1)
    out["bare_encode_interleaved_ms"] = pct(bare, 50, 95)
    out["ratio_p50_to_bare_encode_interleaved_p50"] = round(
        out["latency_ms"]["p50"] / out["bare_encode_interleaved_ms"]["p50"], 3)
    return out


def run(settings, out_dir: Path, unique: list[str], repeat: list[str], levels: list[int],
        per_level: dict[int, int], compare_no_batching: bool = True, other_engines: tuple[str, ...] = (),
        floor=None) -> dict:
    """unique: distinct questions (consumed in order, never reused); repeat: the repeat mix;
    other_engines: encoder engines also measured (lowest and highest level, unique questions);
    floor: texts -> bare encode ms each (this process's model), interleaved with the c=1 run."""
    tmp = out_dir / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    data = private_data_dir(settings, tmp / "http-data")
    result: dict = {"levels": {}, "repeat_mix": {}}
    cursor = 0

    def take(n: int) -> list[str]:
        nonlocal cursor
        chunk = unique[cursor:cursor + n]
        cursor += n
        if len(chunk) < n:
            raise ValueError("not enough distinct questions for the HTTP bench")
        return chunk

    server = Server(settings, data, tmp / "server.log")
    try:
        result["cold_start_s"] = round(server.wait_ready(), 3)
        result["rss_after_start_mb"] = server.rss()
        log(f"http: ready in {result['cold_start_s']} s, RSS {result['rss_after_start_mb']} MB")
        drive(server.port, take(20), 4, tmp)  # warm-up (first requests pay for lazy imports)
        for c in levels:
            if c == 1 and floor is not None:
                r = drive_with_floor(server.port, take(per_level[c]), tmp, floor)
                log(f"http unique c=1: bare encode p50 {r['bare_encode_interleaved_ms']['p50']} ms interleaved, "
                    f"ratio {r['ratio_p50_to_bare_encode_interleaved_p50']}")
            else:
                r = drive(server.port, take(per_level[c]), c, tmp)
            result["levels"][str(c)] = r
            log(f"http unique c={c}: p50 {r['latency_ms']['p50']} ms, {r['rps']} req/s")
        for c in [x for x in levels if x > 1]:
            r = drive(server.port, repeat, c, tmp)
            result["repeat_mix"][str(c)] = r
            log(f"http repeat-mix c={c}: p50 {r['latency_ms']['p50']} ms, {r['rps']} req/s")
        result["rss_after_load_mb"] = server.rss()
    finally:
        server.stop()
    if compare_no_batching and levels:
        c = max(levels)
        server = Server(settings, data, tmp / "server-nobatch.log", {"KB_MICROBATCH_MAX": "1"})
        try:
            server.wait_ready()
            drive(server.port, take(20), 4, tmp)
            r = drive(server.port, take(per_level[c]), c, tmp)
            result["no_microbatching"] = r
            log(f"http unique c={c} without micro-batching: p50 {r['latency_ms']['p50']} ms, {r['rps']} req/s")
        finally:
            server.stop()
    for engine in other_engines:
        server = Server(settings, data, tmp / f"server-{engine}.log", {"KB_ENCODER_ENGINE": engine})
        try:
            server.wait_ready()
            drive(server.port, take(20), 4, tmp)
            runs = {}
            for c in sorted({min(levels), max(levels)}):
                runs[str(c)] = r = drive(server.port, take(per_level[c]), c, tmp)
                log(f"http unique c={c} engine {engine}: p50 {r['latency_ms']['p50']} ms, {r['rps']} req/s")
            result.setdefault("engines", {})[engine] = runs
        except (RuntimeError, TimeoutError) as exc:  # e.g. no int8 export: the other figures still count
            result.setdefault("engines", {})[engine] = {"error": str(exc)}
        finally:
            server.stop()
    return result
