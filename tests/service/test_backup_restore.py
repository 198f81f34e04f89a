"""`kb backup` while a real server answers questions, then `kb restore` into an empty data folder: every count
the same as in the archive's manifest, every file the same, the accounts, tokens and sites working, and the
same answers to a set of questions. A non-empty folder and a tampered archive are refused, and every store a
running service writes in its data folder is either in the backup list or left out on purpose."""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
import threading

import httpx
import pytest
from fastapi.testclient import TestClient

from bot.backup.archive import read_manifest, sqlite_counts
from bot.backup.items import BACKED_UP, NOT_BACKED_UP
from tests.support.accounts import ADMIN, PASSWORD
from tests.support.backup import DELETED_SEED, QUESTIONS, RESTORED_ACCOUNT, answers, fill
from tests.support.paths import REPO, SEEDS, make_settings
from tests.support.service import NEW_DOC_NAME, LiveServer, service_settings_for
from tests.support.sites import mint


def _kb(data_dir, model_dir, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KB_")}
    env.update(KB_DATA_DIR=str(data_dir), KB_MODEL=str(model_dir), HF_HUB_OFFLINE="1", PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], env=env, cwd=REPO, capture_output=True,
                          text=True, timeout=600)


def _every_file(folder) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def running(tmp_path_factory, seed_settings, seed_build, model_dir, encoder):
    """A live server over its own data folder, with something in every store."""
    from bot.app import create_app

    settings = service_settings_for(tmp_path_factory.mktemp("backup"), seed_settings, model_dir)
    (settings.root / "calibration.json").write_text(
        (REPO / "kb" / "resources" / "calibration.json").read_text("utf-8"), "utf-8")
    with LiveServer(create_app(settings, encoder=encoder)) as server:
        token = httpx.post(server.url + "/v1/admin/tokens", headers=ADMIN, json={"name": "ci", "role": "viewer"}).json()["token"]
        yield server, settings, fill(server.url), token


def test_a_backup_taken_while_questions_are_answered_restores_whole(running, tmp_path, model_dir, encoder):
    from bot.app import create_app

    server, settings, secret, token = running
    expected_answers = answers(server.url)
    stop, asked = threading.Event(), []

    def keep_asking():
        while not stop.is_set() and len(asked) < 2000:
            r = httpx.post(server.url + "/v1/ask", json={"question": QUESTIONS[len(asked) % 3]}, timeout=60)
            asked.append(r.status_code)

    asker = threading.Thread(target=keep_asking, daemon=True)
    asker.start()
    archive = tmp_path / "kb-backup.tar.gz"
    try:
        backed = _kb(settings.data_dir, model_dir, "backup", str(archive))
    finally:
        stop.set()
        asker.join(timeout=60)
    assert backed.returncode == 0, backed.stderr
    assert asked and set(asked) == {200}  # questions were answered all along
    manifest = read_manifest(archive)

    target = tmp_path / "restored"
    restored = _kb(target, model_dir, "restore", str(archive))
    assert restored.returncode == 0, restored.stderr
    counts = manifest["counts"]
    assert sqlite_counts(target / "app.sqlite") == counts["app.sqlite"]
    db = counts["app.sqlite"]
    assert db["asks"] >= len(QUESTIONS) * 2 and db["feedback"] == 1 and db["sites"] == 1 and db["api_tokens"] == 1
    assert db["accounts"] == 2 and db["audit"] > 0 and counts["documents"] == 1
    assert sqlite_counts(target / "labels.sqlite") == counts["labels.sqlite"] and counts["labels.sqlite"]["labels"] == 1
    for name in ("documents", "dictionary"):
        assert _every_file(target / name) == _every_file(settings.root / name)
    for name in ("excluded.json", "calibration.json", "versions/CURRENT"):
        assert (target / name).read_bytes() == (settings.root / name).read_bytes()
    current = (settings.root / "versions" / "CURRENT").read_text().strip()
    assert sorted(p.name for p in (target / "versions").iterdir()) == sorted([current, "CURRENT"])
    assert _every_file(target / "versions" / current) == _every_file(settings.root / "versions" / current)

    # the restored folder serves: same answers, the account signs in, the token and the site's tokens work
    again = make_settings(target, model_dir, docs_dirs=[SEEDS], admin_token=None, rate_limit_per_minute=0)
    with LiveServer(create_app(again, encoder=encoder)) as copy:
        assert answers(copy.url, {"X-KB-Token": mint(secret, "shop")}) == expected_answers
        with TestClient(create_app(again, encoder=encoder)) as c:
            assert c.post("/v1/auth/login", json={"name": RESTORED_ACCOUNT, "password": PASSWORD}).status_code == 200
            assert c.get("/v1/admin/status", headers={"Authorization": f"Bearer {token}"}).status_code == 200
            names = {d["doc_id"] for d in c.get("/v1/admin/documents", headers={"Authorization": f"Bearer {token}"}).json()["documents"]}
            assert NEW_DOC_NAME in names
            assert c.get("/v1/admin/dictionary", headers={"Authorization": f"Bearer {token}"}).json()["text"].startswith("保价")

    # only into an empty folder
    twice = _kb(target, model_dir, "restore", str(archive))
    assert twice.returncode == 2 and "not empty" in twice.stderr and "不是空的" in twice.stderr


def test_a_tampered_archive_is_refused_and_nothing_restored(running, tmp_path, model_dir):
    _, settings, _, _ = running
    archive = tmp_path / "good.tar.gz"
    assert _kb(settings.data_dir, model_dir, "backup", str(archive)).returncode == 0
    tampered = tmp_path / "tampered.tar.gz"
    with tarfile.open(archive, "r:gz") as src, tarfile.open(tampered, "w:gz") as dst:
        for member in src.getmembers():
            data = src.extractfile(member).read()
            if member.name == f"documents/{NEW_DOC_NAME}":
                data = data.replace("活体".encode(), "死物".encode())
            member.size = len(data)
            dst.addfile(member, io.BytesIO(data))
    target = tmp_path / "restored"
    r = _kb(target, model_dir, "restore", str(tampered))
    assert r.returncode == 2 and f"damaged (size or SHA-256 differs): documents/{NEW_DOC_NAME}" in r.stderr
    assert not target.exists() or list(target.iterdir()) == []


def test_every_store_of_a_running_service_is_in_the_backup_list(running):
    _, settings, _, _ = running
    listed = {item.path for item in BACKED_UP} | set(NOT_BACKED_UP)
    present = {p.name for p in settings.root.iterdir()}
    assert present - listed == set(), "add these to bot/backup/items.py (BACKED_UP or NOT_BACKED_UP)"
    assert json.loads((settings.root / "excluded.json").read_text()) == [DELETED_SEED]
