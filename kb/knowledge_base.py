"""`KnowledgeBase`: the one object that opens a published version and answers questions.

The service and the CLI are thin shells around it. Opening a newer version (`reload`) shares the
loaded model and the deployment's stores (kb/state: versions, conversations), so a live swap costs only
the index loads.
"""
from __future__ import annotations

import time
from pathlib import Path

from kb.answer import Answer, AnswerComposer, PassageView
from kb.blas import limit_blas_threads
from kb.labels.live import LiveLabels
from kb.passage import KINDS, Passage
from kb.search import HybridSearcher, SearchResult
from kb.settings import Settings
from kb.state import Content, SessionStore, open_content
from kb.version import NoVersionError, VersionFolder, model_for_version, read_manifest
from kb.version.model import hubs_against_questions

__all__ = ["KnowledgeBase", "NoVersionError"]


class KnowledgeBase:
    def __init__(self, settings: Settings, folder: Path, encoder, content: Content):
        self.settings = settings
        self.folder = folder
        manifest = read_manifest(folder)
        self.manifest: dict = manifest.model_dump(mode="json")
        self.version_id: str = manifest.version
        self.encoder = encoder
        self.content = content
        if encoder.dim != manifest.dim:
            raise RuntimeError(f"model dimension {encoder.dim} does not match the KB version "
                               f"({manifest.dim}); re-run `kb ingest` with this model")
        limit_blas_threads()
        files = VersionFolder(folder)
        self.store = files.passage_store()
        self.tokenizer = files.tokenizer()
        use_labels = settings.use_labels
        question_hubs = use_labels and hubs_against_questions(manifest)
        parts = files.search_parts(question_hubs=question_hubs)
        self.question_hubs = question_hubs and files.has_question_hubs()
        self.vectors = parts.vectors
        self.searcher = HybridSearcher(**vars(parts), tokenizer=self.tokenizer, encoder=encoder)
        # With labels in use: the similar-question keys, kept up to date by a thread of their own
        self.labels = LiveLabels(content.labels, self.all_passages, lambda texts: encoder.encode_queries(texts),
                                 encoder.dim, files.reference_vectors()) if use_labels else None
        self.composer = AnswerComposer(self)
        if self.labels is not None:
            self.labels.after_change(self.composer.refresh_calibration)
            self.labels.start()

    # --- opening -------------------------------------------------------------------------------
    @classmethod
    def open(cls, settings: Settings, encoder=None, content: Content | None = None,
             folder: Path | None = None) -> "KnowledgeBase":
        """The current published version (or `folder`), with the model loaded if not given. `content`: the
        deployment's stores, opened from the settings if not given (never closed by the KB: whoever opens
        them closes them). The model is the one the version was embedded with (kb/version/model.py): an
        `encoder` of another model (a tuned one, or the base one for a tuned version) is not used, the
        version's own is loaded instead; VersionModelError when that cannot be."""
        from kb.encoders import Encoder, encodes_for

        content = content or open_content(settings)
        folder = folder or content.versions.current_folder()
        model = model_for_version(settings, read_manifest(folder))
        if encoder is None or not encodes_for(encoder, model):
            encoder = Encoder.from_settings(settings, model=model)
        return cls(settings, folder, encoder, content)

    def reload(self) -> "KnowledgeBase":
        return KnowledgeBase.open(self.settings, self.encoder, self.content)

    @property
    def sessions(self) -> SessionStore:
        return self.content.sessions

    def close(self) -> None:
        if self.labels is not None:
            self.labels.close()
        self.composer.close()
        self.searcher.close()
        self.store.close()

    # --- questions -----------------------------------------------------------------------------
    def search(self, query: str, k: int = 10, mode: str = "hybrid") -> SearchResult:
        return self.searcher.search(query, k, mode)

    def ask(self, question: str, top_k: int | None = None, session_id: str | None = None) -> Answer:
        t = time.perf_counter()
        answer = self.composer.ask(question, top_k or self.settings.top_k, session_id)
        answer.timings_ms["total"] = round((time.perf_counter() - t) * 1000, 2)
        return answer

    # --- reading -------------------------------------------------------------------------------
    def passages(self, rows: list[int]) -> list[Passage]:
        return self.store.rows(rows)

    def all_passages(self) -> list[Passage]:
        return self.store.rows(list(range(len(self.store.kinds))))

    def get_passage(self, passage_id: str) -> PassageView | None:
        p = self.store.by_id(passage_id)
        return self.composer.passage_view(p) if p else None

    def documents(self) -> list[dict]:
        return self.store.documents()

    def document_passages(self, doc_id: str) -> list[PassageView]:
        return [self.composer.passage_view(p) for p in self.store.document_passages(doc_id)]

    def stats(self) -> dict:
        counts = self.manifest["counts"]
        return {
            "version": self.version_id,
            "created_at": self.manifest["created_at"],
            "model": self.manifest["model"],
            "tuned_model": self.manifest.get("tuned_model"),  # None: the base model (kb/version/model.py)
            "dense_index": self.manifest["dense_index"],
            "documents": counts["documents"],
            "passages": counts["passages"],
            "by_kind": {k: counts["by_kind"].get(k, 0) for k in KINDS},
            "errors": self.manifest.get("errors", []),
            "labels": self.label_stats(),
        }

    def label_stats(self) -> dict:
        """Whether labels are in use, the keys answers use and the labels no passage of this version answers."""
        if self.labels is None:
            return {"in_use": False}
        keys = self.labels.keys
        return {"in_use": True, "keys": len(keys), "out_of_scope": sum(1 for label in keys.labels if not label.in_scope),
                "unresolved": len(keys.unresolved), "question_hubs": self.question_hubs}
