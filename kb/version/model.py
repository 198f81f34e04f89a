"""Which embedding model a version's vectors come from, and so which model must encode its questions.

A version is embedded with the base model (KB_MODEL, or the e5-small `kb setup-model` converted) or with a
model tuned on the labels (`kb tune`): a folder under data_dir/models holding TUNED_RECORD, which the
manifest names (`tuned_model`, a folder name, so that a data folder can move). A build keeps the tuned model
of the version it replaces, as long as labels are in use and it was tuned from today's base model
(`model_for_build`); KB_USE_LABELS=false always embeds with the base model and refuses to serve a version
embedded with a tuned one (`model_for_version`), whose vectors only the tuned model's questions match.
"""
from __future__ import annotations

import contextlib
import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from kb.folders import file_lock, writer_gone
from kb.settings import Settings
from kb.version.manifest import Manifest

TUNED_RECORD = "tuned.json"  # in a tuned model's folder, written last: what it was tuned from and on
TUNED_PREFIX = "tuned:"  # of a tuned model's fingerprint (kb.encoders.model_fingerprint)
TUNED_FOLDER_PREFIX = "tuned-"  # of a tuned model's folder name under data_dir/models
MODELS_LOCK = ".tune.lock"  # in data_dir/models: held by `kb tune` while it writes a model and publishes it
DOWNLOAD_MARK = ".download-"  # `.<name>.download-<pid>`: a tuned model being fetched from the database


class VersionModelError(RuntimeError):
    """The model a version was embedded with cannot encode questions in this process; message for people."""


def tuned_record(folder: Path | str) -> dict | None:
    """What a tuned model was tuned from and on, or None for any other folder (or a half-written one)."""
    try:
        record = json.loads((Path(folder) / TUNED_RECORD).read_text("utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) and record.get("weights_sha256") else None


def is_tuned_fingerprint(fingerprint: str) -> bool:
    return fingerprint.startswith(TUNED_PREFIX)


@dataclass(frozen=True)
class BuildModel:
    """The model a build embeds with."""

    path: str  # a folder or a sentence-transformers name, as the Encoder takes it
    tuned: str | None = None  # the tuned model's folder name under data_dir/models; None: the base model
    note: str = ""  # why a tuned model the current version names is not kept (shown in the build's report)


def tuned_path(settings: Settings, name: str) -> Path:
    return settings.models_dir / name


def model_for_version(settings: Settings, manifest: Manifest) -> str:
    """The model whose question vectors match the version's passage vectors; VersionModelError when this
    process may not or cannot run it."""
    if not manifest.tuned_model:
        return settings.model_name_or_path
    if not settings.use_labels:
        raise VersionModelError(
            f"版本 {manifest.version} 使用在标注上微调的模型 {manifest.tuned_model}，KB_USE_LABELS=false 只用基础模型："
            "请重新索引（kb ingest 或管理页“重新索引”）以基础模型生成新版本 / version "
            f"{manifest.version} is embedded with {manifest.tuned_model}, a model tuned on the labels, and "
            "KB_USE_LABELS=false serves the base model only: re-index (`kb ingest`, or re-index in /admin) to "
            "build a version with the base model")
    path = tuned_path(settings, manifest.tuned_model)
    if tuned_record(path) is None:
        raise VersionModelError(
            f"版本 {manifest.version} 使用的微调模型 {manifest.tuned_model} 不在本机 {settings.models_dir}：请用相同的"
            "标注和种子重新运行 kb tune，或用 kb ingest --base-model 以基础模型重建 / version "
            f"{manifest.version} is embedded with the tuned model {manifest.tuned_model}, which is not in "
            f"{settings.models_dir} on this machine: run `kb tune` again (same labels and seed give the same "
            "model), or rebuild with the base model (`kb ingest --base-model`)")
    return str(path)


def model_for_build(settings: Settings, current: Manifest | None, base_fingerprint: str,
                    base_model: bool = False) -> BuildModel:
    """The model a new version is embedded with: the tuned model of the current version when labels are in
    use, its folder is here and it was tuned from today's base model (base_fingerprint); else the base one.
    base_model: the base model whatever the current version is (`kb ingest --base-model`)."""
    base = BuildModel(settings.model_name_or_path)
    name = current.tuned_model if current is not None else None
    if base_model or not name:
        return base
    if not settings.use_labels:
        return BuildModel(base.path, None, f"KB_USE_LABELS=false: embedded with the base model, not {name}")
    record = tuned_record(tuned_path(settings, name))
    if record is None:
        return BuildModel(base.path, None, f"the tuned model {name} is not in {settings.models_dir}: embedded "
                                           "with the base model")
    if record.get("base_fingerprint") != base_fingerprint:
        return BuildModel(base.path, None, f"the tuned model {name} was tuned from another base model than "
                                           "KB_MODEL: embedded with the base model")
    return BuildModel(str(tuned_path(settings, name)), name)


def hubs_against_questions(manifest: Manifest) -> bool:
    """Whether a version with labels in use measures its hub scores against the label questions: only with the
    base model. A model tuned on those questions brings each close to its passages, which measured against them
    then look like hubs and are pushed down (5-fold held-out MRR@10 on the seeds' labels: 0.647 with, 0.671
    without; docs/quality.md)."""
    return not manifest.tuned_model


@contextlib.contextmanager
def models_lock(models_dir: Path) -> Iterator[bool]:
    """The models folder's lock, without waiting: True while held, False when a `kb tune` holds it."""
    with file_lock(models_dir / MODELS_LOCK, wait=False) as mine:
        yield mine


def _leftover(folder: Path) -> bool:
    """A tuned model's half-written folder (a killed `kb tune`: call with the models lock held) or the
    download of a process that is gone (a live one is fetching it)."""
    name = folder.name
    if not name.startswith(f".{TUNED_FOLDER_PREFIX}"):
        return False
    if DOWNLOAD_MARK not in name:
        return ".tmp-" in name
    return writer_gone(name.rsplit(DOWNLOAD_MARK, 1)[1])


def remove_unused_models(models_dir: Path, keep: set[str]) -> list[str]:
    """Tuned model folders (1.4 GB each) no kept version names, and leftovers of killed tunes and downloads;
    call with the models lock held. Returns the names removed."""
    removed = []
    if not models_dir.is_dir():
        return removed
    for p in models_dir.iterdir():
        unused = p.name.startswith(TUNED_FOLDER_PREFIX) and p.name not in keep
        if p.is_dir() and (unused or _leftover(p)):
            shutil.rmtree(p, ignore_errors=True)
            removed.append(p.name)
    return removed
