"""The files inside a version folder, besides its manifest: the only code that names them.

    vectors.npy, unit_vectors.npy      float32 passage and sentence vectors (reused by the next ingest)
    *.f16.npy                          their float16 re-scoring copy, for large KBs (vectors.py)
    vector_keys.npy, unit_keys.npy     what each vector embedded (sha1 of the model input), for reuse
    unit_offsets.npy                   passage i's sentences are unit rows offsets[i]:offsets[i + 1]
    hubs.npy, unit_hubs.npy            each vector's hub score (kb.search.hub_scores)
    reference_vectors.npy, reference_keys.npy
                                       the label questions the version was built with, encoded as questions
                                       (kb/labels/reference.py), when there are labels
    question_hubs.npy, question_unit_hubs.npy
                                       hub scores against those questions (kb.search.question_hub_scores),
                                       when there are at least QUESTION_HUB_K of them
    dense.*, dense_units.*             the FAISS indexes (kb/index/dense.py)
    bm25_words.*, bm25_chars.*         the BM25 indexes (kb/index/bm25.py)
    kb.sqlite                          documents and passages (kb/store.py)
    dictionary/                        the dictionary files the tokens were cut with

Passage row i is row i of every passage-level file.
"""
from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kb.index.bm25 import BM25Index
from kb.index.dense import DenseIndex, choose_kind, holds_vectors
from kb.labels.reference import Reference
from kb.npyfile import save_array
from kb.passage import Passage
from kb.search import QUESTION_HUB_K, hub_scores, question_hub_scores
from kb.settings import Settings
from kb.store import PassageStore, write_store
from kb.tokenize import DICTIONARY_FILES, Tokenizer
from kb.version.vectors import load_rescoring, write_half_copy

KEY_BYTES = 20  # sha1
_STORE = "kb.sqlite"
_DICTIONARY = "dictionary"


@dataclass
class VersionContent:
    """What ingest built, in memory: everything a version folder holds besides its manifest."""

    documents: list[dict]
    passages: list[Passage]
    vectors: np.ndarray
    vector_keys: list[bytes]  # what vector i embedded: KEY_BYTES each
    unit_vectors: np.ndarray
    unit_keys: list[bytes]
    unit_offsets: np.ndarray
    words: BM25Index
    chars: BM25Index
    dictionary: Path  # the folder of dictionary files the tokens were cut with
    reference: Reference | None = None  # the label questions, when labels are in use


@dataclass
class SearchParts:
    """What a version gives hybrid search: `HybridSearcher`'s arguments of these names."""

    dense: DenseIndex
    units: DenseIndex
    vectors: np.ndarray
    unit_vectors: np.ndarray
    unit_offsets: np.ndarray
    words: BM25Index
    chars: BM25Index
    hubs: np.ndarray
    unit_hubs: np.ndarray


def _key_array(keys: list[bytes]) -> np.ndarray:
    """(n, KEY_BYTES) uint8: numpy's fixed-width bytes type would drop a digest's trailing NUL bytes."""
    return np.frombuffer(b"".join(keys), dtype=np.uint8).reshape(len(keys), KEY_BYTES)


def write_contents(folder: Path, content: VersionContent, settings: Settings,
                   progress: Callable[[str, int, int], None]) -> str:
    """Every file but the manifest; returns the passages' dense index kind. Reports ("index", n, 3) after
    the dense indexes (1), the BM25 indexes (2), the passage store and dictionary (3)."""
    kinds = {}
    for name, vectors in (("vectors", content.vectors), ("unit_vectors", content.unit_vectors)):
        save_array(folder / f"{name}.npy", vectors)  # memory-mapped when served (kb/npyfile.py)
        kinds[name] = choose_kind(settings.dense_index, len(vectors), settings.hnsw_from,
                                  settings.hnsw_float16_from)
        if not holds_vectors(kinds[name]):  # an hnswf16 index serves its own float16 vectors
            write_half_copy(folder, name, vectors, settings.half_vectors_from)
    np.save(folder / "unit_offsets.npy", content.unit_offsets)
    np.save(folder / "vector_keys.npy", _key_array(content.vector_keys))
    np.save(folder / "unit_keys.npy", _key_array(content.unit_keys))
    np.save(folder / "hubs.npy", hub_scores(content.vectors))
    np.save(folder / "unit_hubs.npy", hub_scores(content.unit_vectors))
    ref = content.reference
    if ref is not None and len(ref.texts):
        np.save(folder / "reference_vectors.npy", ref.vectors)
        np.save(folder / "reference_keys.npy", _key_array(ref.keys))
        if len(ref.texts) >= QUESTION_HUB_K:
            np.save(folder / "question_hubs.npy", question_hub_scores(content.vectors, ref.vectors))
            np.save(folder / "question_unit_hubs.npy", question_hub_scores(content.unit_vectors, ref.vectors))
    DenseIndex.build(content.vectors, kinds["vectors"]).save(folder, "dense")
    DenseIndex.build(content.unit_vectors, kinds["unit_vectors"]).save(folder, "dense_units")
    progress("index", 1, 3)
    content.words.save(folder)
    content.chars.save(folder)
    progress("index", 2, 3)
    write_store(folder / _STORE, content.documents, content.passages)
    (folder / _DICTIONARY).mkdir()
    for name in DICTIONARY_FILES:
        shutil.copy2(content.dictionary / name, folder / _DICTIONARY / name)
    progress("index", 3, 3)
    return kinds["vectors"]


class VersionFolder:
    """Reads a version folder's files."""

    def __init__(self, folder: Path):
        self.folder = folder

    def passage_store(self) -> PassageStore:
        return PassageStore(self.folder / _STORE)

    def tokenizer(self) -> Tokenizer:
        return Tokenizer.from_folder(self.folder / _DICTIONARY)

    def search_parts(self, question_hubs: bool = False) -> SearchParts:
        """question_hubs: hub scores measured against the label questions when the version has them (labels
        in use), else against the passages themselves."""
        f = self.folder
        dense, units = DenseIndex.load(f, "dense"), DenseIndex.load(f, "dense_units")
        prefix = "question_" if question_hubs and self.has_question_hubs() else ""
        return SearchParts(
            dense, units, load_rescoring(f, "vectors", dense), load_rescoring(f, "unit_vectors", units),
            np.load(f / "unit_offsets.npy"), BM25Index.load(f, "words"),
            BM25Index.load(f, "chars"), np.load(f / f"{prefix}hubs.npy"), np.load(f / f"{prefix}unit_hubs.npy"))

    def has_question_hubs(self) -> bool:
        return (self.folder / "question_hubs.npy").exists()

    def reference_vectors(self) -> dict[bytes, np.ndarray]:
        """Question-text key -> vector of the label questions the version was built with (none without)."""
        f = self.folder
        if not (f / "reference_keys.npy").exists():
            return {}
        rows = np.load(f / "reference_vectors.npy")
        return {key.tobytes(): rows[i] for i, key in enumerate(np.load(f / "reference_keys.npy"))}

    def embedded_vectors(self) -> dict[bytes, np.ndarray]:
        """Embedding key -> vector, passages and sentences: what a new version can reuse without the model."""
        f = self.folder
        out: dict[bytes, np.ndarray] = {}
        for keys, vectors in (("vector_keys.npy", "vectors.npy"), ("unit_keys.npy", "unit_vectors.npy")):
            rows = np.load(f / vectors, mmap_mode="r")
            for i, key in enumerate(np.load(f / keys)):
                out[key.tobytes()] = rows[i]
        return out
