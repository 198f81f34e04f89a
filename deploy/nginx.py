"""nginx in front of the replicas: deploy/nginx.conf rendered for given ports and folders, started as a
master process of its own (`nginx -c <conf> -p <folder>`), stopped through its pid file."""
from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import time
from pathlib import Path

TEMPLATE = Path(__file__).with_name("nginx.conf")
TEMP_FOLDERS = ("body", "proxy", "fastcgi", "uwsgi", "scgi")
WORKER_USER = "www-data"  # Debian's nginx user, when started as root


def binary() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if found is None:
        raise RuntimeError("nginx is not installed: run `make cluster-tools` (Debian: apt-get install nginx)")
    return found


def render(folder: Path, listen: str, replicas: list[str], rate: int, burst: int) -> str:
    root = os.geteuid() == 0
    values = {
        "@USER@": f"user {WORKER_USER};" if root else "",
        "@PID@": str(folder / "nginx.pid"),
        "@LOGS@": str(folder / "logs"),
        "@TEMP@": str(folder / "temp"),
        "@LISTEN@": listen,
        "@SERVERS@": "\n".join(f"        server {r} max_fails=1 fail_timeout=5s;" for r in replicas),
        "@RATE@": str(rate),
        "@BURST@": str(burst),
    }
    text = TEMPLATE.read_text("utf-8")
    for name, value in values.items():
        text = text.replace(name, value)
    return text


class Nginx:
    def __init__(self, folder: Path, port: int, replica_ports: list[int], rate: int = 20, burst: int = 40):
        self.folder = Path(folder).resolve()
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.conf = self.folder / "nginx.conf"
        self.replicas = [f"127.0.0.1:{p}" for p in replica_ports]
        self.rate, self.burst = rate, burst

    def _command(self, *more: str) -> list[str]:
        return [binary(), "-c", str(self.conf), "-p", str(self.folder), "-e", str(self.folder / "logs" / "error.log"),
                *more]

    def start(self) -> "Nginx":
        for sub in ("logs", *(f"temp/{t}" for t in TEMP_FOLDERS)):
            (self.folder / sub).mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:  # the workers write buffered request bodies there
            user = pwd.getpwnam(WORKER_USER)
            for t in TEMP_FOLDERS:
                os.chown(self.folder / "temp" / t, user.pw_uid, user.pw_gid)
        self.conf.write_text(render(self.folder, f"127.0.0.1:{self.port}", self.replicas, self.rate, self.burst))
        checked = subprocess.run(self._command("-t", "-q"), capture_output=True, text=True)
        if checked.returncode != 0:
            raise RuntimeError(f"nginx refused its configuration {self.conf}: {checked.stderr}")
        subprocess.run(self._command(), check=True, capture_output=True, text=True)
        deadline = time.monotonic() + 10
        while self.pid() is None:
            if time.monotonic() > deadline:
                raise RuntimeError(f"nginx did not start: {(self.folder / 'logs' / 'error.log').read_text()[-2000:]}")
            time.sleep(0.05)
        return self

    def pid(self) -> int | None:
        try:
            return int((self.folder / "nginx.pid").read_text().strip())
        except (FileNotFoundError, ValueError):
            return None

    def stop(self) -> None:
        pid = self.pid()
        if pid is None:
            return
        try:
            os.kill(pid, signal.SIGQUIT)  # graceful: requests in flight finish
        except ProcessLookupError:
            return
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)
        os.kill(pid, signal.SIGKILL)
