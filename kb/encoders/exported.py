"""What the ONNX Runtime and OpenVINO engines share: the files `kb setup-model` exports beside the model
(ingest/onnx_export.py), tokenisation with the folder's own tokenizer, length-sorted runs, and the
single-threaded lanes. Each engine supplies its two runners (the all-cores one and the 1-thread lane one):
callables (input_ids, attention_mask) -> vectors, safe to call from several threads at once."""
from __future__ import annotations

import json
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from kb.encoders.base import EncoderBackend

ONNX_DIR = "onnx"
EXPORT_RECORD = "export.json"
FILES = {"fp32": "model.onnx", "int8": "model.int8.onnx"}
DATA_SUFFIX = ".data"  # each graph's weights, beside it: memory-mapped by the runtime, not copied
TOKENIZER_CACHE = "tokenizer.vocab"  # the parsed Unigram vocabulary (kb/unigram.py write_cache), from setup


class ExportedGraphBackend(EncoderBackend):
    """The exported e5 graph (BERT + mean pooling + L2 normalisation), run by a subclass's runners.

    Batches run on single-threaded "lanes": one 1-thread runner used concurrently by `lanes` callers, each
    on its own core. A multi-threaded runner stalls at every operator's barrier whenever a request thread
    takes one of its cores, and one lane per core is also more throughput on an idle machine. The lone
    question keeps the all-cores runner (lowest latency)."""

    # At most this many texts x tokens^2 in one run (what an attention layer's buffers grow with); None: no
    # bound beyond the run size.
    attention_budget: int | None = None

    def __init__(self, model_dir: str | Path, query_prompt: str, passage_prompt: str, threads: int = 0,
                 batch_size: int = 32):
        folder = Path(model_dir)
        self.lanes = threads or os.cpu_count() or 1
        self.session, self._lane_session = self._runners(folder, threads)
        self._lane_pool = (ThreadPoolExecutor(self.lanes - 1, thread_name_prefix=f"{self.name}-lane")
                           if self._lane_session is not None else None)
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

    def _runners(self, model_dir: Path, threads: int):
        """(the all-cores runner, the 1-thread lane runner or None when lanes == 1)."""
        raise NotImplementedError

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

        Texts go in length-sorted runs of at most `lane_run`: on 2 cores, 32 questions of 10-45 tokens
        cost 22 ms of CPU each in one padded batch, 16 ms in runs of 8, 22 ms again one by one. One text
        runs on the all-cores runner; more are spread over the single-threaded lanes."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        ids = self._ids(texts, is_query)
        if len(ids) == 1 or self._lane_session is None:
            return self._serial(ids)
        return self._on_lanes(ids)

    def encode_lane(self, texts: list[str], is_query: bool) -> np.ndarray:
        """Encodes on the calling thread alone (the 1-thread runner): for callers that are themselves one
        of `lanes` concurrent workers (the query batcher)."""
        ids = self._ids(texts, is_query)
        return self._serial(ids, self._lane_session or self.session)

    def _runs(self, ids: list[list[int]], size: int) -> list[list[int]]:
        """Length-sorted runs of at most `size` texts and, with an attention budget, at most that many
        texts x tokens^2."""
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
        """Runs of the batch taken in turn by `lanes` callers of the 1-thread runner (this thread is one)."""
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
        return len(self.tokenizer.encode(self.prompts[is_query] + text))


class _LibraryTokenizer:
    """`tokenizers` itself, for folders whose tokenizer.json is not a plain Unigram model."""

    def __init__(self, path: Path):
        from tokenizers import Tokenizer

        self._tok = Tokenizer.from_file(str(path))
        self._tok.no_padding()
        self._tok.no_truncation()  # truncation is done on the ids (see ExportedGraphBackend._ids)

    def token_to_id(self, piece: str) -> int | None:
        return self._tok.token_to_id(piece)

    def encode(self, text: str) -> list[int]:
        return self._tok.encode(text).ids

    def encode_batch(self, texts: list[str]) -> list[list[int]]:
        return [e.ids for e in self._tok.encode_batch(texts)]


def _tokenizer(path: Path, cache: Path | None = None):
    """e5's 250k-piece Unigram vocabulary costs 282 MB of RSS in `tokenizers` and ~47 MB in kb/unigram.py
    (same ids, tests/kb/test_tokenizer_gives_the_librarys_ids.py); any other tokenizer.json goes to `tokenizers`."""
    from kb.unigram import UnigramTokenizer, UnsupportedTokenizer

    try:
        return UnigramTokenizer.from_file(path, cache)
    except UnsupportedTokenizer:
        return _LibraryTokenizer(path)
