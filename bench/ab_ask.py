"""`/v1/ask` latency of two checkouts side by side: `python -m bench.ab_ask --a /path/to/main --b .`.

Each checkout serves (`kb serve`, one worker) a copy of this checkout's data folder (--a gets only the versions
and dictionary: what a KB without labels has; --b also the labels and the fitted no-answer model). The
labelled seed questions (train, dev, paraphrases: 345 distinct) are asked once per server, alternating A/B
one question at a time, never concurrently, so both see the same machine load; every question is new to the
question-vector cache. Prints p50/p90 of the client's wall time and of the server's own `timings_ms.total`.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
SETS = [REPO / "seeds" / "labels" / "train.jsonl", REPO / "tests" / "data" / "dev.jsonl",
        REPO / "tests" / "data" / "paraphrases.jsonl"]
PLAIN = ("versions", "dictionary")
LABELLED = (*PLAIN, "labels.sqlite", "calibration.json")


def _serve(code: Path, data: Path, port: int, model: str) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KB_")}
    env.update(PYTHONPATH=str(code), KB_DATA_DIR=str(data), KB_MODEL=model, KB_PORT=str(port),
               KB_RATE_LIMIT_PER_MINUTE="0", HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    return subprocess.Popen([sys.executable, "-m", "bot.cli", "serve"], cwd=code, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _copy(source: Path, dest: Path, names: tuple[str, ...]) -> Path:
    dest.mkdir(parents=True)
    for name in names:
        src = source / name
        if src.is_dir():
            shutil.copytree(src, dest / name)
        elif src.exists():
            shutil.copy2(src, dest / name)
    return dest


def _ready(port: int, timeout: float = 300) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"the server on port {port} did not become ready")


def main(argv: list[str] | None = None) -> int:
    from bench.common import free_port

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--a", required=True, help="checkout A (e.g. the main branch's)")
    p.add_argument("--b", default=str(REPO), help="checkout B (default: this one)")
    p.add_argument("--data", default=str(REPO / "data"), help="the data folder to copy (built with labels)")
    args = p.parse_args(argv)
    data = Path(args.data)
    model = str(data / "models" / "multilingual-e5-small")
    questions = [json.loads(line)["question"] for f in SETS for line in f.read_text("utf-8").splitlines() if line]
    with tempfile.TemporaryDirectory(prefix="ab-ask-") as tmp:
        arms = {"A": (Path(args.a), _copy(data, Path(tmp) / "a", PLAIN)),
                "B": (Path(args.b), _copy(data, Path(tmp) / "b", LABELLED))}
        ports = {name: free_port() for name in arms}
        procs = {name: _serve(code, folder, ports[name], model) for name, (code, folder) in arms.items()}
        try:
            for port in ports.values():
                _ready(port)
            clients = {name: httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) for name, port in ports.items()}
            for c in clients.values():  # warm-up, with texts that are not measured
                for i in range(20):
                    c.post("/v1/ask", json={"question": f"热身问题 {i}：客户服务怎么做"})
            wall = {n: [] for n in clients}
            server = {n: [] for n in clients}
            for i, q in enumerate(questions):
                for name in (["A", "B"] if i % 2 == 0 else ["B", "A"]):
                    t = time.perf_counter()
                    answer = clients[name].post("/v1/ask", json={"question": q}).json()
                    wall[name].append((time.perf_counter() - t) * 1000)
                    server[name].append(answer["timings_ms"]["total"])
        finally:
            for proc in procs.values():
                proc.terminate()
                proc.wait(60)

    def pct(values: list[float], q: float) -> float:
        return round(sorted(values)[int(q * (len(values) - 1))], 1)

    out = {name: {"checkout": str(arms[name][0]), "questions": len(wall[name]),
                  "p50_ms": round(statistics.median(wall[name]), 1), "p90_ms": pct(wall[name], 0.9),
                  "server_p50_ms": round(statistics.median(server[name]), 1)} for name in wall}
    out["load_average"] = [round(x, 1) for x in os.getloadavg()]
    print(json.dumps(out, ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
