"""OpenVINO as an embedding backend: the exported e5-small, in bfloat16 where the CPU has it (AMX, AVX512-BF16).

`kb setup-model` writes, beside the ONNX graphs, the fp32 graph's body without the word-embedding table
(`onnx/body.onnx`, ingest/onnx_export.py). This backend reads the token rows from the table in the fp32
graph's own weights file (located by `export.json`; `TokenTable`) and runs the body on OpenVINO's CPU plugin,
which on such CPUs computes the MatMuls in bfloat16 with fp32 accumulation. Tokenisation, length-sorted
runs and the single-threaded lanes are shared with the ONNX Runtime engine (kb/encoders/exported.py); only
the runners differ.

On an Intel Xeon with AMX (docs/changelog.md, 2026-12-06): batches of questions 2-2.7x ONNX Runtime's fp32
throughput on the lanes, passages ~2x; a lone question about as fast.
Vectors agree with the fp32 graph at cosine >= 0.99999 (tests/kb/test_encoder_engines_match_the_torch_model.py)
- bfloat16's rounding, averaged over the tokens - against ~0.999 for the int8 graph. Without bfloat16
hardware OpenVINO computes in fp32.
"""
from __future__ import annotations

import json
import os
import threading
import weakref
from pathlib import Path

import numpy as np

from kb.encoders.exported import DATA_SUFFIX, EXPORT_RECORD, ONNX_DIR, ExportedGraphBackend

BODY = "body.onnx"
BODY_INPUT = "token_embeddings"
RUNTIME_CACHE_SHAPES = 32


def openvino_body(model_dir: str | Path) -> tuple[Path, dict] | None:
    """(the body graph, where its word-embedding table lies) if `kb setup-model` wrote them for these
    weights; None otherwise."""
    folder = Path(model_dir) / ONNX_DIR
    try:
        meta = json.loads((folder / EXPORT_RECORD).read_text())
        table = meta["token_embeddings"]
        body = folder / meta["body"]
        rows, dim = (int(d) for d in table["shape"])
        end = int(table["offset"]) + rows * dim * 4
        if (meta.get("weights_size") != (Path(model_dir) / "model.safetensors").stat().st_size
                or table.get("dtype") != "float32" or not (body.is_file()
                                                           and body.with_name(body.name + DATA_SUFFIX).is_file())
                or (folder / table["file"]).stat().st_size < end):
            return None
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return body, table


def openvino_available(model_dir: str | Path) -> bool:
    import importlib.util

    return importlib.util.find_spec("openvino") is not None and openvino_body(model_dir) is not None


class OpenVinoBackend(ExportedGraphBackend):
    name = "openvino"
    # bfloat16 tiles pay off on more rows: the seeds' 184 passages + 966 sentences take 10.2 s in runs of 8,
    # 7.8 s in runs of 16, 8.2 s in 32; 64 questions 195 / 260 / 297 q/s (ONNX Runtime: 8 is best).
    lane_run = 16
    # OpenVINO keeps each attention buffer at the largest shape it has run (dynamic shapes are not planned):
    # after 184 seed-like passages in runs of 16, +1.2 GB stayed resident (ONNX Runtime's arena: +0.7 GB).
    # Runs of texts x tokens^2 <= 512^2 (one 512-token passage, 16 of 128 tokens) keep +0.24 GB at the same
    # speed (4 x 512^2: +0.6 GB); questions (16 x 45^2) are never split.
    attention_budget = 512 * 512

    def __init__(self, model_dir: str | Path, query_prompt: str, passage_prompt: str, threads: int = 0,
                 batch_size: int = 32):
        self._body = openvino_body(model_dir)
        if self._body is None:
            raise FileNotFoundError(f"no OpenVINO body graph in {model_dir}; run `kb setup-model`")
        super().__init__(model_dir, query_prompt, passage_prompt, threads, batch_size)
        self.precision = self.session.precision

    def _runners(self, model_dir: Path, threads: int):
        """KB_OMP_WAIT_POLICY does not apply: OpenVINO's TBB workers have no spinning switch (a two-thread
        search right after an encode was not slowed, where ONNX Runtime's spinning cost it ~10 ms)."""
        import openvino as ov

        body, spec = self._body
        table = TokenTable(model_dir / ONNX_DIR / spec["file"], int(spec["offset"]),
                           tuple(int(d) for d in spec["shape"]))
        core = ov.Core()
        graph = core.read_model(str(body))
        # The lone question: one stream over every core. The lanes: one stream, one thread each. Each
        # compiled model keeps kernels per input shape; the default 5,000 shapes grew a question-only process
        # by ~0.75 GB over 2,500 questions in batches of 1-16, 32 shapes by ~0.3 GB at the same speed.
        cache = {"CPU_RUNTIME_CACHE_CAPACITY": RUNTIME_CACHE_SHAPES}
        single = core.compile_model(graph, "CPU", {"PERFORMANCE_HINT": "LATENCY", "NUM_STREAMS": 1,
                                                   "INFERENCE_NUM_THREADS": threads or self.lanes, **cache})
        lane = None
        if self.lanes > 1:
            lane = _OpenVinoRunner(core.compile_model(graph, "CPU", {
                "PERFORMANCE_HINT": "THROUGHPUT", "NUM_STREAMS": self.lanes,
                "INFERENCE_NUM_THREADS": self.lanes, **cache}), table)
        return _OpenVinoRunner(single, table), lane


class TokenTable:
    """The word-embedding rows a batch uses, read with pread from the weights file.

    Not memory-mapped: the file is written in large writes and the page cache keeps it in large folios
    (Linux 6.18, ext4), and a mapped read maps a whole folio, so 100 questions left 254 MB of the table
    resident in the process (~5 MB of rows). Read, the rows stay in the page cache, outside the process;
    ~25 reads of 1.5 KB a question cost ~0.05 ms."""

    def __init__(self, path: Path, offset: int, shape: tuple[int, int]):
        self.rows, self.dim = shape
        self._offset = offset
        self._row_bytes = self.dim * 4
        self._fd = os.open(path, os.O_RDONLY)
        weakref.finalize(self, os.close, self._fd)

    def __getitem__(self, ids: np.ndarray) -> np.ndarray:
        ids = np.asarray(ids)
        if ids.size and (ids.min() < 0 or ids.max() >= self.rows):
            raise IndexError(f"token id out of range 0..{self.rows - 1}")
        unique, where = np.unique(ids, return_inverse=True)
        rows = np.empty((len(unique), self.dim), dtype=np.float32)
        for k, row in enumerate(unique.tolist()):
            got = os.preadv(self._fd, [rows[k]], self._offset + row * self._row_bytes)
            if got != self._row_bytes:
                raise OSError(f"short read of token row {row}: {got} of {self._row_bytes} bytes")
        return rows[where.reshape(ids.shape)]


class _OpenVinoRunner:
    """A compiled model and its infer requests: a request runs one inference at a time, so each caller takes
    a free one (made when none is free: as many as callers ever ran at once)."""

    def __init__(self, compiled, table: TokenTable):
        self.compiled = compiled
        self.table = table
        self.dim = int(compiled.outputs[0].get_partial_shape()[-1].get_length())
        self.precision = compiled.get_property("INFERENCE_PRECISION_HINT").to_string()  # bf16 / f32
        self._free: list = []
        self._lock = threading.Lock()

    def __call__(self, input_ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        with self._lock:
            request = self._free.pop() if self._free else None
        if request is None:
            request = self.compiled.create_infer_request()
        try:
            # The rows are a fresh array: OpenVINO may read it in place. Outputs are copied out (the default).
            return request.infer({BODY_INPUT: self.table[input_ids], "attention_mask": mask},
                                 share_inputs=True)[0]
        finally:
            with self._lock:
                self._free.append(request)
