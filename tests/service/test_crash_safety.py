"""Crash safety: a real `kb ingest` (and a real `kb serve` re-index) is SIGKILLed at chosen points of the
build; the previous version stays intact and served, and the next start removes what the build left.

The kill points are hit deterministically: the commands run under tests/service/crash_at.py, which makes the
process SIGKILL itself when the build's progress report for a stage reaches a count ("stage:n").
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.support.paths import REPO, SEEDS, make_settings
from tests.support.service import ADMIN_TOKEN, copy_seed_data, free_port

KB = [sys.executable, "-m", "bot.cli"]
CRASHING_KB = [sys.executable, str(REPO / "tests" / "service" / "crash_at.py")]  # + "stage:n", then kb's arguments
EXCLUDED_SEED = "004_4d7c340c2a0258ff.txt"
NEW_DOC = """退货运费险理赔规范

一、运费险理赔的处理原则
客户申请退货运费险理赔时，坐席应先核实订单是否投保运费险，再确认退货物流单号已上传。理赔款一般在退货签收后七十二小时内到账，超过时限未到账的，坐席应登记工单并在二十四小时内回复客户。
"""


def _env(data: Path, model_dir: Path, **extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KB_")}
    env.update(KB_DATA_DIR=str(data), KB_DOCS_DIRS=json.dumps([str(SEEDS)]), KB_MODEL=str(model_dir),
               KB_ENCODER_THREADS="1", HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false",
               PYTHONPATH=str(REPO), **extra)
    return env


def _kb(crash_at: str | None) -> list[str]:
    return [*CRASHING_KB, crash_at] if crash_at else KB


def _ingest(data: Path, model_dir: Path, crash_at: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*_kb(crash_at), "ingest", "--json"], env=_env(data, model_dir), cwd=REPO,
                          capture_output=True, text=True, timeout=300)


def _state(versions: Path) -> dict:
    current = (versions / "CURRENT").read_text().strip() if (versions / "CURRENT").exists() else None
    names = sorted(p.name for p in versions.iterdir()) if versions.exists() else []
    return {"current": current, "names": names}


def _leftovers(versions: Path) -> list[str]:
    """Anything that is not a published-or-older complete version, CURRENT or the lock file."""
    current = (versions / "CURRENT").read_text().strip()
    out = []
    for p in versions.iterdir():
        if p.name in ("CURRENT", ".build.lock"):
            continue
        if p.is_dir() and not p.name.startswith(".") and (p / "manifest.json").exists() and p.name <= current:
            continue
        out.append(p.name)
    return sorted(out)


@pytest.fixture(scope="module")
def seed_counts(seed_kb):
    return {"version": seed_kb.version_id, "passages": seed_kb.store.count}


# (kill point, what the build changes, the version served afterwards: "old" or "new").
# Each point costs one `kb ingest` process (~5-10 s on 2 cores): the other half run in `make soak` (slow).
SLOW = pytest.mark.slow
KILL_POINTS = [
    pytest.param("load:2", "exclude", "old", id="load:2", marks=SLOW),  # reading documents
    pytest.param("embed:1", "add", "old", id="embed:1"),  # a new document embedded, nothing written yet
    pytest.param("index:1", "exclude", "old", id="index:1", marks=SLOW),  # dense index in .build-<id>
    pytest.param("index:2", "exclude", "old", id="index:2"),  # BM25 written too
    pytest.param("index:3", "exclude", "old", id="index:3", marks=SLOW),  # passage store, no manifest yet
    pytest.param("publish:1", "exclude", "old", id="publish:1", marks=SLOW),  # manifest sealed in .build-<id>
    pytest.param("publish:2", "exclude", "old", id="publish:2"),  # moved in place, CURRENT not swapped yet
    pytest.param("publish:3", "exclude", "new", id="publish:3"),  # CURRENT swapped: the new one is published
]


@pytest.mark.parametrize("crash_at,change,served", KILL_POINTS)
def test_kill_ingest_keeps_the_previous_version(tmp_path, seed_settings, seed_counts, model_dir, encoder,
                                               crash_at, change, served):
    from ingest.pipeline import cleanup_leftovers
    from kb.knowledge_base import KnowledgeBase

    data = copy_seed_data(seed_settings, tmp_path / "data")
    settings = make_settings(data, model_dir, docs_dirs=[SEEDS])
    versions = settings.versions_dir
    if change == "add":
        (settings.uploads_dir).mkdir(parents=True)
        (settings.uploads_dir / "运费险.txt").write_text(NEW_DOC, "utf-8")
    else:  # an editor deleted a seed document: the new version would have fewer passages
        (data / "excluded.json").write_text(json.dumps([EXCLUDED_SEED]))
    before = _state(versions)
    assert before["current"] == seed_counts["version"]

    proc = _ingest(data, model_dir, crash_at)
    assert proc.returncode == -signal.SIGKILL, (proc.returncode, proc.stderr[-2000:])

    after = _state(versions)
    if served == "old":
        assert after["current"] == before["current"]
    else:
        assert after["current"] != before["current"]
    if crash_at.startswith(("index", "publish:1", "publish:2")):
        assert _leftovers(versions), after  # the kill really left a half-built or unpublished version

    # The KB opens on a complete version: the old one, with the old passages (or the new, complete one).
    kb = KnowledgeBase.open(settings, encoder=encoder)
    try:
        if served == "old":
            assert kb.version_id == seed_counts["version"]
            assert kb.store.count == seed_counts["passages"]
        else:
            assert kb.store.count < seed_counts["passages"]
            assert EXCLUDED_SEED not in {d["doc_id"] for d in kb.documents()}
        assert kb.ask("客户投诉快递晚到怎么办").version == kb.version_id
    finally:
        kb.close()

    if crash_at == "publish:2":
        # The worst moment: a plain `kb ingest` cleans up at its start and publishes the change.
        proc = _ingest(data, model_dir)
        assert proc.returncode == 0, proc.stderr[-2000:]
        report = json.loads(proc.stdout)
        assert report["changed"] and report["passages"] < seed_counts["passages"]
        assert _state(versions)["current"] == report["version_id"] != before["current"]
    # The next start cleans up: no half-built folder, no temp file, no never-published version.
    removed = cleanup_leftovers(settings)
    assert _leftovers(versions) == [], removed
    assert all(not p.name.endswith(".tmp") for p in versions.iterdir())


def test_kill_the_service_during_a_reindex(tmp_path, seed_settings, seed_counts, model_dir, encoder):
    """`kb serve` dies (SIGKILL) in the middle of an admin re-index; the next start serves the old version
    and has removed the half-published one."""
    import httpx

    from bot.app import create_app

    data = copy_seed_data(seed_settings, tmp_path / "data")
    settings = make_settings(data, model_dir, docs_dirs=[SEEDS], admin_token=ADMIN_TOKEN, rate_limit_per_minute=0)
    port = free_port()
    env = _env(data, model_dir, KB_ADMIN_TOKEN=ADMIN_TOKEN, KB_PORT=str(port))
    server = subprocess.Popen([*_kb("publish:2"), "serve"], env=env, cwd=REPO, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True)
    try:
        url = f"http://127.0.0.1:{port}"
        headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        deadline = time.time() + 180
        while True:
            assert server.poll() is None, server.stderr.read()[-2000:]
            try:
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.time() < deadline, "kb serve did not become ready"
            time.sleep(0.3)
        with httpx.Client(base_url=url, headers=headers, timeout=30) as c:
            assert c.post("/v1/ask", json={"question": "客户投诉怎么办"}).json()["version"] == seed_counts["version"]
            r = c.post("/v1/admin/documents", files={"file": ("运费险.txt", NEW_DOC.encode())})
            assert r.status_code == 201, r.text
            assert c.post("/v1/admin/reindex").status_code == 202
        assert server.wait(timeout=180) == -signal.SIGKILL
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    assert _leftovers(settings.versions_dir)  # the re-index died between moving its folder and CURRENT

    # Restart (in-process here): cleanup at startup, the old version served, the upload kept.
    with TestClient(create_app(settings, encoder=encoder)) as c:
        ready = c.get("/readyz").json()
        assert ready["version"] == seed_counts["version"]
        assert _leftovers(settings.versions_dir) == []
        a = c.post("/v1/ask", json={"question": "运费险理赔款多久到账？"}).json()
        assert a["version"] == seed_counts["version"]
        docs = c.get("/v1/admin/documents", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}).json()
        pending = [d for d in docs["documents"] if d["doc_id"] == "运费险.txt"]
        assert pending and pending[0]["status"] == "pending"  # nothing lost: indexed at the next re-index


def test_upload_temp_files_of_dead_processes_are_removed(tmp_path, model_dir):
    from ingest.pipeline import cleanup_leftovers

    settings = make_settings(tmp_path / "data", model_dir)
    settings.uploads_dir.mkdir(parents=True)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = settings.uploads_dir / f".upload-{dead.pid}-a.txt"
    live = settings.uploads_dir / f".upload-{os.getpid()}-b.txt"
    keep = settings.uploads_dir / "c.txt"
    for p in (stale, live, keep):
        p.write_text("x")
    removed = cleanup_leftovers(settings)
    assert f"documents/{stale.name}" in removed
    assert not stale.exists() and live.exists() and keep.exists()
