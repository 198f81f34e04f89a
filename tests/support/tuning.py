"""Tuning as the tests do it: a few steps on the small KB's labels (tests/conftest.py `small_settings`), the
model written as `kb tune` writes it, and a data folder of its own holding a copy of a built KB."""
from __future__ import annotations

import shutil
from pathlib import Path

from ingest.tune.recipe import Recipe
from tests.support.paths import REPO

TRAIN = REPO / "seeds" / "labels" / "train.jsonl"
SMALL_DOCS = ("003_948dd19706f84a15.txt", "004_4d7c340c2a0258ff.txt")  # 38 passages: tuning tests embed it often
TINY = Recipe(epochs=1, max_seq_length=64)  # the recipe's loop, a fraction of its work: tests stay short
NAME = "tuned-test0000000"


def small_labels(limit: int = 20):
    """The seeds' in-scope labels whose passages are in the small KB (its two documents)."""
    from kb.labels.model import read_label_file

    return [label for label in read_label_file(TRAIN) if label.item.get("doc") in SMALL_DOCS][:limit]


def tiny_tune(settings, encoder, seed: int, labels=None):
    """A `Trained` model: one epoch over the small labels on the small KB (2 steps)."""
    from ingest.tune.space import FoldTuner
    from kb.crossval.space import base_space
    from kb.knowledge_base import KnowledgeBase

    kb = KnowledgeBase.open(settings, encoder=encoder)
    try:
        tuner = FoldTuner(kb, settings, base_space(kb), TINY, seed, [])
        return tuner.train(labels or small_labels(), "train")
    finally:
        kb.close()


def write_tuned(trained, settings, models_dir: Path) -> Path:
    """The folder `kb tune` would write (no export), under models_dir."""
    from ingest.tune.folder import write_model
    from kb.encoders import model_fingerprint

    record = {"base_fingerprint": model_fingerprint(settings.model_name_or_path), "seed": 0, "labels": 20}
    return write_model(trained, Path(settings.model_name_or_path), models_dir, NAME, record, export=False)


def copy_kb(settings, dest: Path, tuned: Path | None = None, **extra):
    """Settings of a private copy of a built KB's data folder (its versions), with `tuned` linked into its
    models folder."""
    from tests.support.paths import make_settings

    data = dest / "data"
    shutil.copytree(settings.versions_dir, data / "versions", symlinks=True)
    if tuned is not None:
        (data / "models").mkdir(parents=True)
        (data / "models" / tuned.name).symlink_to(tuned)
    return make_settings(data, Path(settings.model_name_or_path), list(settings.docs_dirs), **extra)
