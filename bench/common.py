"""Small helpers shared by the benchmark parts: percentiles, machine load, RSS, a free port, JSON."""
from __future__ import annotations

import json
import os
import socket
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]  # the checkout the bench belongs to (seeds/, tests/data/)


def child_env(base: dict | None = None, **extra: str) -> dict:
    """The environment for a child process (`python -m bench.…`, `python -m bot.cli …`): this checkout
    first on PYTHONPATH, so the children run the same code as the bench wherever it was started from."""
    env = dict(os.environ if base is None else base)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
    env.update(extra)
    return env


def pct(values, *ps: float) -> dict:
    """{"p50": …, "p95": …} in the values' unit, rounded; empty input gives None."""
    arr = np.asarray(list(values), dtype=np.float64)
    out = {}
    for p in ps or (50, 95):
        out[f"p{int(p) if float(p).is_integer() else p}"] = round(float(np.percentile(arr, p)), 3) if arr.size else None
    return out


def load() -> dict:
    """The machine's load while a figure was taken (2 shared cores: anything above ~0.5 means noise)."""
    one, five, fifteen = os.getloadavg()
    return {"load1": round(one, 2), "load5": round(five, 2), "cpus": os.cpu_count()}


def rss_mb(pid: int | None = None) -> float:
    import psutil

    return round(psutil.Process(pid or os.getpid()).memory_info().rss / 2**20, 1)


def peak_rss_mb() -> float:
    import resource

    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def dir_size_mb(path: Path) -> float:
    path = Path(path)
    if path.is_file():
        return round(path.stat().st_size / 2**20, 2)
    return round(sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 2**20, 2)


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def write_json(path: Path, data) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, ensure_ascii=False, indent=1, default=_default), "utf-8")


def _default(o):
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, Path):
        return str(o)
    raise TypeError(type(o).__name__)


class Timer:
    def __init__(self):
        self.t0 = time.perf_counter()

    @property
    def ms(self) -> float:
        return (time.perf_counter() - self.t0) * 1000

    @property
    def s(self) -> float:
        return time.perf_counter() - self.t0


def bare_ms(encoder, texts: list[str]) -> list[float]:
    """Milliseconds of each text's bare query encode (no cache, no batcher): the floor of an answer."""
    out = []
    for text in texts:
        t = time.perf_counter()
        encoder.encode_query_uncached(text)
        out.append((time.perf_counter() - t) * 1000)
    return out
