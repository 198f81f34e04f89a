"""ONNX Runtime as an embedding engine: the converted model's exact function (fp32), or its int8 copy.

`kb setup-model` exports the converted e5-small (BERT + mean pooling + L2 normalisation, one graph) to
`<model>/onnx/model.onnx` (ingest/onnx_export.py); `export.json` beside it records what it was exported
from. Vectors agree with the torch model at cosine >= 0.99999 (tests/kb/test_encoder_engines_match_the_torch_model.py).

The int8 copy (`model.int8.onnx`, dynamic quantisation of the MatMuls but the FFN outputs) is faster, but
its vectors move a little (cosine ~0.999 to the fp32 model), so it is opt-in (KB_ENCODER_ENGINE=onnx-int8)
and only ever encodes questions; passages are always embedded in fp32.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from kb.encoders.exported import DATA_SUFFIX, EXPORT_RECORD, FILES, ONNX_DIR, ExportedGraphBackend


def onnx_model_path(model_dir: str | Path, precision: str = "fp32") -> Path | None:
    """The exported graph of this model folder, if `kb setup-model` wrote one for exactly these weights."""
    folder = Path(model_dir) / ONNX_DIR
    record = folder / EXPORT_RECORD
    path = folder / FILES[precision]
    if not (record.is_file() and path.is_file() and path.with_name(path.name + DATA_SUFFIX).is_file()):
        return None
    try:
        meta = json.loads(record.read_text())
        weights = Path(model_dir) / "model.safetensors"
        if meta.get("weights_size") != weights.stat().st_size or precision not in meta.get("files", {}):
            return None
    except (OSError, ValueError):
        return None
    return path


def onnx_available(model_dir: str | Path) -> bool:
    import importlib.util

    return importlib.util.find_spec("onnxruntime") is not None and onnx_model_path(model_dir) is not None


class OnnxBackend(ExportedGraphBackend):
    lane_run = 8  # measured best for ONNX Runtime's lanes (runs of 8 questions)

    def __init__(self, model_dir: str | Path, query_prompt: str, passage_prompt: str, threads: int = 0,
                 batch_size: int = 32, precision: str = "fp32", wait_policy: str = ""):
        self._path = onnx_model_path(model_dir, precision)
        if self._path is None:
            raise FileNotFoundError(f"no ONNX export in {model_dir}; run `kb setup-model`")
        self.name = "onnx" if precision == "fp32" else f"onnx-{precision}"
        self.precision = precision
        self._wait_policy = wait_policy
        super().__init__(model_dir, query_prompt, passage_prompt, threads, batch_size)

    def _runners(self, model_dir: Path, threads: int):
        import onnxruntime as ort

        lane = _OrtRunner(ort, self._path, 1, self._wait_policy) if self.lanes > 1 else None
        return _OrtRunner(ort, self._path, threads, self._wait_policy), lane


class _OrtRunner:
    def __init__(self, ort, path: Path, threads: int, wait_policy: str):
        self.session = _session(ort, path, threads, wait_policy)
        self.dim = int(self.session.get_outputs()[0].shape[-1])

    def __call__(self, input_ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        return self.session.run(None, {"input_ids": input_ids, "attention_mask": mask})[0]


def _session(ort, path: Path, threads: int, wait_policy: str):
    opts = ort.SessionOptions()
    if threads:
        opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    if wait_policy:  # ORT's idle threads spin like OpenMP's: same switch (KB_OMP_WAIT_POLICY)
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0" if wait_policy == "PASSIVE" else "1")
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
