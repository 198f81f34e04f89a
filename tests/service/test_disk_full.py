"""A full disk under the data folder: questions are still answered (their log waits in memory), writes
are refused with a clear bilingual 507, the admin pages keep working and say the disk is full, the log
says so once per interval, and once there is room again everything waiting is written: nothing is lost.

The service runs in a mount namespace of its own with a small tmpfs as its data folder; the test fills
and frees that file system through /proc/<pid>/root (the service's view of the file system).
"""
from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx

from tests.support.paths import REPO, SEEDS
from tests.support.service import (
    ADMIN_TOKEN,
    NEW_DOC_NAME,
    NEW_DOC_TEXT,
    OOS_QUESTION,
    copy_seed_data,
    free_port,
    wait_until_ready,
)
from tests.support.system_tools import require_root_and

HEADERS = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
START = 'mount -t tmpfs -o size=48m kb-test-data "$1" && cp -a "$2"/. "$1"/ && exec "$3" -m bot.cli serve'


def fill(folder: Path) -> Path:
    """Write a file until the file system refuses any more."""
    filler = folder / "filler.bin"
    with open(filler, "wb", buffering=0) as fh:
        for chunk in (1 << 20, 4096, 512):
            try:
                while True:
                    fh.write(b"\0" * chunk)
            except OSError as e:
                assert e.errno == errno.ENOSPC, e
    return filler


def bilingual(detail: str) -> None:
    assert "磁盘已满" in detail and "disk" in detail and "full" in detail, detail


def test_a_full_disk_refuses_writes_clearly_and_loses_nothing(tmp_path, seed_settings, seed_build, model_dir):
    require_root_and("unshare", "mount")
    seed = copy_seed_data(seed_settings, tmp_path / "seed")
    data = tmp_path / "data"
    data.mkdir()
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("KB_")}
    env.update(KB_DATA_DIR=str(data), KB_DOCS_DIRS=json.dumps([str(SEEDS)]), KB_MODEL=str(model_dir),
               KB_ADMIN_TOKEN=ADMIN_TOKEN, KB_PORT=str(port), PYTHONPATH=str(REPO))
    log_file = tmp_path / "service.log"
    with open(log_file, "w") as log:
        server = subprocess.Popen(["unshare", "--mount", "--propagation", "private", "sh", "-c", START, "sh",
                                   str(data), str(seed), sys.executable], env=env, cwd=REPO,
                                  stdout=log, stderr=subprocess.STDOUT)
    inside = Path(f"/proc/{server.pid}/root") / str(data).lstrip("/")  # the tmpfs, as the service sees it
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(url, server)
        with httpx.Client(base_url=url, timeout=60) as c:
            assert c.post("/v1/feedback", json={"question": "before", "helpful": True}).status_code == 201

            filler = fill(inside)
            logged_before = len(log_file.read_text())
            asked = [f"{OOS_QUESTION} {uuid.uuid4().hex[:6]}" for _ in range(5)]
            for q in asked:  # answered as ever; their log waits in memory
                r = c.post("/v1/ask", json={"question": q})
                assert r.status_code == 200 and r.json()["matched"] is False
            r = c.post("/v1/feedback", json={"question": asked[0], "helpful": False, "comment": "没用"})
            assert r.status_code == 507
            bilingual(r.json()["detail"])
            time.sleep(5)  # the question log's writer retries meanwhile

            status = c.get("/v1/admin/status", headers=HEADERS)
            assert status.status_code == 200
            storage = status.json()["storage"]
            assert storage["disk_full"] is True and not storage["ok"]
            bilingual(storage["problem"])
            assert status.json()["counts"]["asks_waiting"] == len(asked)
            assert c.get("/readyz").json()["disk_full"] is True
            assert c.get("/v1/admin/feedback", headers=HEADERS).status_code == 200

            r = c.post("/v1/admin/reindex", headers=HEADERS)
            if r.status_code == 202:  # recorded after all: it must show, and end failed, saying why
                job = r.json()
                while job["state"] not in ("succeeded", "failed"):
                    time.sleep(0.2)
                    job = {j["id"]: j for j in c.get("/v1/admin/jobs", headers=HEADERS).json()["jobs"]}[job["id"]]
                assert job["state"] == "failed"
                bilingual(job["error"])
            else:
                assert r.status_code == 507
                bilingual(r.json()["detail"])
            for r in (c.put("/v1/admin/synonyms", headers=HEADERS, json={"text": "快递 速递\n"}),
                      c.post("/v1/admin/documents", headers=HEADERS,
                             files={"file": (NEW_DOC_NAME, NEW_DOC_TEXT.encode("utf-8"))})):
                assert r.status_code == 507, r.text
                bilingual(r.json()["detail"])

            log_text = log_file.read_text()[logged_before:]
            assert "Traceback" not in log_text, log_text[-3000:]
            assert log_text.count("disk full") <= 2, log_text  # once per interval, not at every retry

            filler.unlink()
            r = c.post("/v1/feedback", json={"question": asked[0], "helpful": False, "comment": "没用"})
            assert r.status_code == 201
            deadline = time.time() + 30
            while (counts := c.get("/v1/admin/status", headers=HEADERS).json()["counts"])["asks_waiting"]:
                assert time.time() < deadline, counts
                time.sleep(0.3)
            status = c.get("/v1/admin/status", headers=HEADERS).json()
            assert status["storage"]["ok"] is True and status["storage"]["disk_full"] is False
            assert counts["asks_dropped"] == 0
            queue = c.get("/v1/admin/feedback", headers=HEADERS).json()["items"]
            unanswered = {i["question"] for i in queue if i["type"] == "unanswered"}
            assert set(asked) <= unanswered  # every question asked while the disk was full is in the log
            assert any(i["type"] == "feedback" and i["comment"] == "没用" for i in queue)
            assert c.get("/readyz").json()["disk_full"] is False
            r = c.post("/v1/admin/documents", headers=HEADERS, files={"file": (NEW_DOC_NAME, NEW_DOC_TEXT.encode())})
            assert r.status_code == 201, r.text
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=60)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
