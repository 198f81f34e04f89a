"""Where the tests find the checkout's files: the repository, the seed documents, the dev set, artifacts."""
from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SEEDS = REPO / "seeds"
DEV_SET = REPO / "tests" / "data" / "dev.jsonl"
ARTIFACTS = REPO / "test-artifacts"


def make_settings(data_dir: Path, model_dir: Path, docs_dirs: list[Path] | None = None, **extra):
    """Settings for a KB in `data_dir` built from `docs_dirs` (the seeds by default) with the model in `model_dir`."""
    from kb.settings import Settings

    return Settings(data_dir=data_dir, docs_dirs=docs_dirs or [SEEDS], model=str(model_dir), **extra)
