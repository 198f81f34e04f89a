"""A version's manifest: what it was built from and what it holds (the last file written into the folder)."""
from __future__ import annotations

import json
import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

MANIFEST = "manifest.json"


class Counts(BaseModel):
    documents: int
    passages: int
    by_kind: dict[str, int]
    sentences: int


class Manifest(BaseModel):
    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    version: str
    created_at: str
    pipeline_version: str = Field(description="bumped by ingest when what a version holds changes")
    model: str
    model_fingerprint: str = Field(description="the weights the vectors come from (kb.encoders.model_fingerprint)")
    tuned_model: str | None = Field(None, description="the folder under data_dir/models of the model tuned on the "
                                                      "labels (`kb tune`) the vectors come from; None: the base "
                                                      "model (kb/version/model.py)")
    dim: int
    dense_index: str
    query_prompt: str
    passage_prompt: str
    counts: Counts
    documents: dict[str, str] = Field(description="document id -> sha256 of its file")
    corpus_fingerprint: str = Field(description="files, dictionary, pipeline and model: equal means no rebuild")
    embedded: int
    reused: int
    errors: list[dict] = Field(default_factory=list)


def read_manifest(folder: Path) -> Manifest:
    return Manifest.model_validate_json((folder / MANIFEST).read_text("utf-8"))


def write_manifest(folder: Path, manifest: Manifest) -> None:
    """Written to a temporary name, synced, then renamed: a reader finds the whole manifest or none."""
    write_json_atomic(folder / MANIFEST, manifest.model_dump(mode="json"))


def write_json_atomic(path: Path, data: dict) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f, ensure_ascii=False, indent=1, sort_keys=True)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
