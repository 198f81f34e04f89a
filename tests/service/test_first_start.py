"""`kb serve` as `make run` starts it, with no KB_ADMIN_TOKEN and no account: the log shows the sign-in address
and the admin's password once, and they sign in; a restart makes no second account and prints no password."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import time

import httpx

from tests.support.paths import REPO, SEEDS
from tests.support.service import copy_seed_data, free_port, wait_until_ready


def _serve(data, model_dir, port: int) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KB_")}
    env.update(KB_DATA_DIR=str(data), KB_DOCS_DIRS=f'["{SEEDS}"]', KB_MODEL=str(model_dir), HF_HUB_OFFLINE="1",
               PYTHONPATH=str(REPO))
    return subprocess.Popen([sys.executable, "-m", "bot.cli", "serve", "--port", str(port)], env=env, cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _stop(proc: subprocess.Popen) -> str:
    proc.terminate()
    try:
        _, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
    return err


def test_the_first_start_prints_a_sign_in_that_works(tmp_path, seed_settings, seed_build, model_dir):
    data = copy_seed_data(seed_settings, tmp_path / "data")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = _serve(data, model_dir, port)
    try:
        wait_until_ready(url, proc)
        time.sleep(0.5)
    finally:
        log = _stop(proc)
    assert f"{url}/admin" in log, log[-3000:]
    password = re.search(r"password: (\S+)", log).group(1)
    assert password not in (data / "app.sqlite").read_bytes().decode("latin-1")  # only its hash is stored

    proc = _serve(data, model_dir, port)
    try:
        wait_until_ready(url, proc)
        r = httpx.post(f"{url}/v1/auth/login", json={"name": "admin", "password": password}, timeout=30)
        assert r.status_code == 200 and r.json()["role"] == "admin"
        assert httpx.get(f"{url}/v1/admin/status", cookies=r.cookies, timeout=30).status_code == 200
    finally:
        again = _stop(proc)
    assert "first start" not in again and password not in again
