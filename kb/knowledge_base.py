"""`KnowledgeBase`: the one object that opens a published version and answers questions.

The service and the CLI are thin shells around it. Opening a newer version (`reload`) shares the
loaded model and the conversation store, so a live swap costs only the index loads.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from kb.blas import limit_blas_threads
from kb.index.bm25 import BM25Index
from kb.index.dense import DenseIndex
from kb.passage import KINDS, Passage
from kb.search import HybridSearcher, SearchResult
from kb.sessions import SessionStore
from kb.settings import Settings
from kb.store import PassageStore
from kb.tokenize import Tokenizer
from kb.vectors import load_rescoring
from kb.version import MANIFEST, NoVersionError, VersionStore

__all__ = ["KnowledgeBase", "NoVersionError"]


class KnowledgeBase:
    def __init__(self, settings: Settings, folder: Path, encoder, sessions: SessionStore):
        self.settings = settings
        self.folder = folder
        self.manifest: dict = json.loads((folder / MANIFEST).read_text("utf-8"))
        self.version_id: str = self.manifest["version"]
        self.encoder = encoder
        self.sessions = sessions
        if encoder.dim != self.manifest["dim"]:
            raise RuntimeError(f"model dimension {encoder.dim} does not match the KB version "
                               f"({self.manifest['dim']}); re-run `kb ingest` with this model")
        limit_blas_threads(settings.blas_threads)
        self.store = PassageStore(folder / "kb.sqlite")
        dense, dense_units = DenseIndex.load(folder, "dense"), DenseIndex.load(folder, "dense_units")
        self.vectors = load_rescoring(folder, "vectors", dense)
        self.tokenizer = Tokenizer.from_folder(folder / "dictionary")
        self.searcher = HybridSearcher(
            dense, dense_units, self.vectors,
            load_rescoring(folder, "unit_vectors", dense_units), np.load(folder / "unit_offsets.npy"),
            BM25Index.load(folder, "words", native=settings.bm25_native),
            BM25Index.load(folder, "chars", native=settings.bm25_native), self.tokenizer, encoder,
            np.load(folder / "hubs.npy"), np.load(folder / "unit_hubs.npy"),
            parallel_from=settings.parallel_search_from)
        from kb.answer import AnswerComposer

        self.composer = AnswerComposer(self)

    # --- opening -------------------------------------------------------------------------------
    @classmethod
    def open(cls, settings: Settings, encoder=None, sessions: SessionStore | None = None,
             folder: Path | None = None) -> "KnowledgeBase":
        """The current published version (or `folder`), with the model loaded if not given."""
        folder = folder or VersionStore(settings.versions_dir).current_dir()
        if encoder is None:
            from kb.encoders import Encoder

            encoder = Encoder.from_settings(settings)
        sessions = sessions or SessionStore(settings.session_ttl_seconds, settings.max_sessions,
                                            settings.session_turns)
        return cls(settings, folder, encoder, sessions)

    def reload(self) -> "KnowledgeBase":
        return KnowledgeBase.open(self.settings, self.encoder, self.sessions)

    def close(self) -> None:
        self.composer.close()
        self.searcher.close()
        self.store.close()

    # --- questions -----------------------------------------------------------------------------
    def search(self, query: str, k: int = 10, mode: str = "hybrid") -> SearchResult:
        return self.searcher.search(query, k, mode)

    def ask(self, question: str, top_k: int | None = None, session_id: str | None = None) -> dict:
        t = time.perf_counter()
        answer = self.composer.ask(question, top_k or self.settings.top_k, session_id)
        answer["timings_ms"]["total"] = round((time.perf_counter() - t) * 1000, 2)
        return answer

    # --- reading -------------------------------------------------------------------------------
    def passages(self, rows: list[int]) -> list[Passage]:
        return self.store.rows(rows)

    def get_passage(self, passage_id: str) -> dict | None:
        p = self.store.by_id(passage_id)
        return self.composer.passage_dict(p) if p else None

    def documents(self) -> list[dict]:
        return self.store.documents()

    def document_passages(self, doc_id: str) -> list[dict]:
        return [self.composer.passage_dict(p) for p in self.store.document_passages(doc_id)]

    def stats(self) -> dict:
        counts = self.manifest["counts"]
        return {
            "version": self.version_id,
            "created_at": self.manifest["created_at"],
            "model": self.manifest["model"],
            "dense_index": self.manifest["dense_index"],
            "documents": counts["documents"],
            "passages": counts["passages"],
            "by_kind": {k: counts["by_kind"].get(k, 0) for k in KINDS},
            "errors": self.manifest.get("errors", []),
        }
