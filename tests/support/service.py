"""What the service tests share (tests/bot, tests/service): the admin token, the questions and the new
document they ask about, a private copy of the seed KB for each service, waiting for jobs and for a
started `kb serve`, and a real uvicorn server in a thread.

Each service gets its own copy of the seed KB's data folder (built once by the session fixtures in
tests/conftest.py), so uploads and re-indexes in one test module never change what another module sees,
and nothing is embedded twice. The fixtures built on these are in tests/bot/conftest.py (in-process
clients) and tests/service/conftest.py (live servers, browsers).
"""
from __future__ import annotations

import shutil
import socket
import threading
import time
from pathlib import Path

from tests.support.paths import SEEDS, make_settings

ADMIN_TOKEN = "test-admin-token-0123456789"

# A document about something the seeds never mention: only it can answer NEW_DOC_QUESTION.
NEW_DOC_NAME = "宠物托运服务规范.txt"
NEW_DOC_TEXT = """宠物托运服务规范

一、活体宠物寄递的处理原则
本公司不承接猫、狗等活体宠物的快递寄递。客户询问能否寄送活体宠物时，坐席应礼貌说明活体动物不在收寄范围内，并推荐具备资质的专业宠物托运机构，不得私下答应收寄。

二、宠物用品寄递
宠物粮、猫砂、宠物玩具等宠物用品可以正常寄递，液体类宠物药品需按液体物品规定包装。

【案例】
客户想把一只布偶猫寄到外地
一位客户来电，说要搬家到外地，想把家里的布偶猫用快递寄过去，并表示愿意多付运费。坐席小王耐心解释：活体宠物不在公司收寄范围内，长途运输也可能危及猫咪安全。随后小王为客户推荐了专业的宠物托运机构，并主动帮客户寄送猫砂和猫粮。客户对小王的建议表示感谢。
"""
NEW_DOC_QUESTION = "客户想用快递寄一只活的猫，可以吗？"
SEED_QUESTION = "客户说快递晚到了，文件已经没用了，非要赔钱，怎么回？"
SEED_CASE_TITLE = "难以解决的投诉"  # as SEED_QUESTION, a Simplified question, shows it
SEED_CASE_TITLE_ORIGINAL = "難以解決的投訴"  # its document's own script
OOS_QUESTION = "最近有什么好看的电影推荐一下，下班想放松放松"


def all_quoted(answer: dict) -> list[dict]:
    """Every card an answer quotes: principles, cases and further passages."""
    return answer["principles"] + answer["cases"] + answer["passages"]


def copy_seed_data(seed_settings, dest: Path) -> Path:
    """A private copy of the built seed KB (versions with their vectors; no uploads, no app DB)."""
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copytree(seed_settings.versions_dir, dest / "versions", symlinks=True)
    return dest


def service_settings_for(tmp: Path, seed_settings, model_dir, backend: str = "embedded", **extra):
    """Settings for a service on its own copy of the seed KB: in a data folder of its own (embedded), or
    published into a database of its own on the session's PostgreSQL server (postgresql; the data folder
    then only caches versions)."""
    extra.setdefault("admin_token", ADMIN_TOKEN)
    extra.setdefault("rate_limit_per_minute", 0)  # 0 = off; the limiter is tested on its own
    extra.setdefault("admin_lockout_failures", 0)  # 0 = off; tested on its own (tests/bot/test_admin_token_guards.py)
    if backend == "postgresql":
        from pydantic import SecretStr

        from tests.support.postgres import database_for

        settings = make_settings(tmp / "data", model_dir, docs_dirs=[SEEDS],
                                 database_url=SecretStr(database_for(tmp)), **extra)
        publish_seed_versions(seed_settings, settings)
        return settings
    data = copy_seed_data(seed_settings, tmp / "data")
    return make_settings(data, model_dir, docs_dirs=[SEEDS], **extra)


def publish_seed_versions(seed_settings, settings) -> None:
    """The seed KB's versions published into `settings`' backend (as `kb migrate --to` copies them)."""
    from deploy.cluster import publish_versions

    publish_versions(seed_settings, settings)


def stored_document(settings, name: str) -> bytes | None:
    """A document as the service's document store holds it (whichever backend)."""
    from kb.state import open_content

    content = open_content(settings)
    try:
        return content.documents.get(name)
    finally:
        content.close()


def wait_job(client, job_id: str, headers: dict, timeout: float = 300) -> dict:
    deadline = time.time() + timeout
    while time.time() < deadline:
        job = client.get(f"/v1/admin/jobs/{job_id}", headers=headers).json()
        if job["state"] in ("succeeded", "failed"):
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not finish in {timeout}s")


def wait_until_ready(url: str, process, times: int = 1, timeout: float = 180) -> None:
    """Until `times` answers of /readyz were 200 (a service started as `process`, a subprocess.Popen)."""
    import httpx

    deadline = time.time() + timeout
    while times > 0:
        if process.poll() is not None:
            err = process.stderr.read()[-3000:] if process.stderr else ""
            raise AssertionError(f"the service exited with {process.returncode}: {err}")
        try:
            times -= httpx.get(f"{url}/readyz", timeout=2).status_code == 200
        except httpx.HTTPError:
            pass
        assert time.time() < deadline, "the service did not become ready"
        time.sleep(0.2)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    """A real uvicorn server on 127.0.0.1 in a background thread."""

    def __init__(self, app):
        import uvicorn

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                                    lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, name="uvicorn-test", daemon=True)

    def __enter__(self) -> "LiveServer":
        self.thread.start()
        deadline = time.time() + 120
        while not self.server.started:
            if not self.thread.is_alive() or time.time() > deadline:
                raise RuntimeError("the test server did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)
