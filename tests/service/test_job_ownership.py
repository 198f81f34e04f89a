"""A re-index job is alive exactly as long as the process running it: the process holds the job lock
(bot/state/file_lock.py), the kernel lets it go when the process dies. A killed job then reads as failed with
the reason, and never blocks a later re-index: not even when the restarted service has the dead one's
PID again, as the PID 1 of a container does.
"""
from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.support.paths import REPO, SEEDS
from tests.support.service import ADMIN_TOKEN, copy_seed_data, free_port, wait_until_ready
from tests.support.system_tools import require_root_and

KB = [sys.executable, "-m", "bot.cli"]
HEADERS = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
BIG_DOC = "售后服务细则.txt"


def big_document(sections: int = 160) -> str:
    """Enough new passages that embedding them takes seconds (time to kill the service in the middle)."""
    topics = ["退货", "换货", "运费", "发票", "积分", "会员", "优惠券", "物流", "破损", "延误", "投诉", "保价", "签收"]
    acts = ["核实订单号", "安抚客户情绪", "登记工单", "联系仓库", "上报主管", "发送短信", "回访客户", "补发商品"]
    lines = ["售后服务细则汇编", ""]
    for i in range(1, sections + 1):
        t = [topics[(i * k) % len(topics)] for k in (1, 3, 5)]
        a = [acts[(i * k) % len(acts)] for k in (1, 3, 7)]
        lines += [f"第{i}条 {t[0]}与{t[1]}的处理",
                  f"客户咨询{t[0]}问题（编号{i:03d}）时，坐席应先{a[0]}，再{a[1]}；涉及{t[1]}和{t[2]}的，须在"
                  f"{i % 48 + 1}小时内{a[2]}，并在系统中记录处理结果与客户反馈，不得推诿。", ""]
    return "\n".join(lines)


def _env(data: Path, model_dir: Path, **extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KB_")}
    env.update(KB_DATA_DIR=str(data), KB_DOCS_DIRS=json.dumps([str(SEEDS)]), KB_MODEL=str(model_dir),
               KB_ADMIN_TOKEN=ADMIN_TOKEN, PYTHONPATH=str(REPO), **extra)
    return env


class Pid1Service:
    """`kb serve` as PID 1 of a PID namespace of its own, as a container's entrypoint runs."""

    def __init__(self, data: Path, model_dir: Path, port: int):
        self.url = f"http://127.0.0.1:{port}"
        self.unshare = subprocess.Popen(["unshare", "--pid", "--fork", "--mount-proc", *KB, "serve"],
                                        env=_env(data, model_dir, KB_PORT=str(port)), cwd=REPO,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.pid = self._child()
        status = Path(f"/proc/{self.pid}/status").read_text()
        assert [line.split()[-1] for line in status.splitlines() if line.startswith("NSpid:")] == ["1"]

    def _child(self) -> int:
        deadline = time.time() + 30
        while time.time() < deadline:
            children = Path(f"/proc/{self.unshare.pid}/task/{self.unshare.pid}/children").read_text().split()
            if children:
                return int(children[0])
            time.sleep(0.05)
        raise AssertionError("unshare did not start the service")

    def wait_ready(self) -> None:
        wait_until_ready(self.url, self.unshare)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.unshare.poll() is None:
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:
                pass
            try:
                self.unshare.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.unshare.kill()  # with the namespace's PID 1 gone, the kernel ends the rest
                self.unshare.wait()


def test_a_service_killed_during_a_reindex_as_pid_1_restarts_with_reindexing_working(
        tmp_path, seed_settings, seed_build, model_dir):
    require_root_and("unshare")
    data = copy_seed_data(seed_settings, tmp_path / "data")
    (data / "documents").mkdir()
    (data / "documents" / BIG_DOC).write_text(big_document(), "utf-8")
    port = free_port()

    first = Pid1Service(data, model_dir, port)
    try:
        first.wait_ready()
        with httpx.Client(base_url=first.url, headers=HEADERS, timeout=30) as c:
            job = c.post("/v1/admin/reindex").json()
            deadline = time.time() + 240
            while not c.get(f"/v1/admin/jobs/{job['id']}").json()["stage"].startswith("embed"):
                assert time.time() < deadline, "the re-index never reached the embedding"
                time.sleep(0.05)
        first.stop(signal.SIGKILL)
    finally:
        first.stop(signal.SIGKILL)
    with sqlite3.connect(data / "app.sqlite") as db:  # what the killed process left: a running job of PID 1
        assert db.execute("SELECT state, pid FROM jobs WHERE id = ?", (job["id"],)).fetchone() == ("running", 1)

    second = Pid1Service(data, model_dir, port)
    try:
        second.wait_ready()
        with httpx.Client(base_url=second.url, headers=HEADERS, timeout=30) as c:
            dead = c.get(f"/v1/admin/jobs/{job['id']}").json()
            assert dead["state"] == "failed"
            assert "killed or crashed" in dead["error"] and "被终止或崩溃" in dead["error"]
            listed = {j["id"]: j for j in c.get("/v1/admin/jobs").json()["jobs"]}
            assert listed[job["id"]]["state"] == "failed"
            assert c.get("/readyz").json()["reindexing"] is None

            # The refresh loop picks up a version that `kb ingest` publishes.
            before = c.get("/readyz").json()["version"]
            ingest = subprocess.run([*KB, "ingest", "--json"], env=_env(data, model_dir), cwd=REPO,
                                    capture_output=True, text=True, timeout=600)
            assert ingest.returncode == 0, ingest.stderr[-2000:]
            published = json.loads(ingest.stdout)["version_id"]
            assert published != before
            deadline = time.time() + 60
            while c.get("/readyz").json()["version"] != published:
                assert time.time() < deadline, "the service did not pick up the version kb ingest published"
                time.sleep(0.3)

            # And a re-index is accepted, runs and ends.
            r = c.post("/v1/admin/reindex")
            assert r.status_code == 202, r.text
            deadline = time.time() + 300
            while (state := c.get(f"/v1/admin/jobs/{r.json()['id']}").json())["state"] not in ("succeeded", "failed"):
                assert time.time() < deadline
                time.sleep(0.2)
            assert state["state"] == "succeeded", state
    finally:
        second.stop()
