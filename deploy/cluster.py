"""`make cluster` / `make cluster-stop`: PostgreSQL, three replicas and nginx on this machine, as they would
run on several (docs/deploying.md, "Several machines").

    python -m deploy.cluster start     PostgreSQL under data/cluster/pg (127.0.0.1:5433), the schema
                                       (`kb migrate`), a first version built from the seeds when the
                                       database has none (`kb ingest`), replicas on 127.0.0.1:8001-8003
                                       (each its own cache folder data/cluster/replica-<port>), nginx on
                                       127.0.0.1:8080; PIDs in data/cluster/*.pid
    python -m deploy.cluster stop      the replicas (SIGTERM: their ask logs are written), nginx, PostgreSQL

The tests (tests/service/test_cluster.py) run the same `Cluster` on ports and folders of their own.
"""
from __future__ import annotations

import argparse
import os
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from deploy.nginx import Nginx
from deploy.pg import PgServer

REPO = Path(__file__).resolve().parents[1]
DATABASE = "kb"


@dataclass
class Layout:
    root: Path = REPO / "data" / "cluster"
    pg_port: int = 5433
    replica_ports: list[int] = field(default_factory=lambda: [8001, 8002, 8003])
    nginx_port: int = 8080
    rate_per_second: int = 20  # nginx's limit per client address on /v1/ask and /v1/feedback
    burst: int = 40
    model: Path = REPO / "data" / "models" / "multilingual-e5-small"
    replica_env: dict[str, str] = field(default_factory=dict)  # more KB_... settings for every replica


class Cluster:
    def __init__(self, layout: Layout, fast_database: bool = False):
        self.layout = layout
        self.root = Path(layout.root).resolve()
        self.pg = PgServer(self.root / "pg", layout.pg_port, fast=fast_database)
        self.nginx = Nginx(self.root / "nginx", layout.nginx_port, layout.replica_ports, layout.rate_per_second,
                           layout.burst)
        self.processes: dict[int, subprocess.Popen] = {}

    @property
    def database_url(self) -> str:
        return self.pg.url(DATABASE)

    def replica_url(self, port: int) -> str:
        return f"http://127.0.0.1:{port}"

    def admin_token(self) -> str:
        """The cluster's admin token, made at the first start (data/cluster/admin_token)."""
        path = self.root / "admin_token"
        if not path.exists():
            self.root.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(24))
            path.chmod(0o600)
        return path.read_text().strip()

    def env(self, data_dir: Path) -> dict[str, str]:
        """What a `kb` process of this cluster runs with."""
        return {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
                "KB_DATABASE_URL": self.database_url, "KB_DATA_DIR": str(data_dir), "KB_MODEL": str(self.layout.model),
                "KB_ADMIN_TOKEN": self.admin_token(), "KB_FORWARDED_ALLOW_IPS": "127.0.0.1",
                **self.layout.replica_env}

    # --- the database -----------------------------------------------------------------------------
    def start_database(self) -> None:
        from kb.state.pg_db import migrate

        self.pg.start()
        if not self.pg.has_database(DATABASE):
            self.pg.create_database(DATABASE)
        migrate(self.database_url)

    def publish_versions_of(self, settings) -> None:
        """The versions of another install (`settings`) published into this cluster's database."""
        from kb.settings import Settings

        publish_versions(settings, Settings(data_dir=self.root / "publishing", database_url=self.database_url))

    def has_version(self) -> bool:
        import psycopg

        with psycopg.connect(self.database_url) as conn:
            return conn.execute("SELECT count(*) FROM current_version").fetchone()[0] > 0

    def build_first_version(self) -> None:
        """`kb ingest` of the seeds into the database (its build folder data/cluster/builder)."""
        subprocess.run([sys.executable, "-m", "bot.cli", "ingest"], check=True, cwd=REPO,
                       env=self.env(self.root / "builder"))

    # --- replicas ---------------------------------------------------------------------------------
    def _pid_file(self, port: int) -> Path:
        return self.root / f"replica-{port}.pid"

    def start_replica(self, port: int) -> subprocess.Popen:
        data = self.root / f"replica-{port}"
        data.mkdir(parents=True, exist_ok=True)
        log = open(self.root / f"replica-{port}.log", "ab")
        process = subprocess.Popen([sys.executable, "-m", "bot.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
                                   cwd=REPO, env=self.env(data), stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        log.close()
        self.processes[port] = process
        self._pid_file(port).write_text(str(process.pid))
        return process

    def replica_pid(self, port: int) -> int | None:
        try:
            return int(self._pid_file(port).read_text())
        except (FileNotFoundError, ValueError):
            return None

    def stop_replica(self, port: int, sig: int = signal.SIGTERM, timeout: float = 40) -> None:
        pid = self.replica_pid(port)
        if pid is None:
            return
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + timeout
        while _alive(pid, self.processes.get(port)) and time.monotonic() < deadline:
            time.sleep(0.05)
        if _alive(pid, self.processes.get(port)):
            os.kill(pid, signal.SIGKILL)
        self._pid_file(port).unlink(missing_ok=True)
        self.processes.pop(port, None)

    def wait_ready(self, port: int, timeout: float = 180) -> float:
        """Seconds until the replica's /readyz answered 200."""
        import httpx

        t0 = time.monotonic()
        while True:
            process = self.processes.get(port)
            if process is not None and process.poll() is not None:
                tail = (self.root / f"replica-{port}.log").read_text(errors="replace")[-3000:]
                raise RuntimeError(f"replica {port} exited with {process.returncode}:\n{tail}")
            try:
                if httpx.get(f"{self.replica_url(port)}/readyz", timeout=2).status_code == 200:
                    return time.monotonic() - t0
            except httpx.HTTPError:
                pass
            if time.monotonic() - t0 > timeout:
                raise RuntimeError(f"replica {port} was not ready within {timeout} s")
            time.sleep(0.1)

    # --- all of it --------------------------------------------------------------------------------
    def start(self, build: bool = True) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.start_database()
        if build and not self.has_version():
            self.build_first_version()
        for port in self.layout.replica_ports:
            self.start_replica(port)
        for port in self.layout.replica_ports:
            self.wait_ready(port)
        self.nginx.start()

    def stop(self) -> None:
        self.nginx.stop()
        for port in self.layout.replica_ports:
            self.stop_replica(port)
        self.pg.stop()


def publish_versions(source, target) -> None:
    """The versions of one install published into another's backend, each under its own id, the current
    one last (as `kb migrate --to` copies them)."""
    from kb.state import open_content

    origin, destination = open_content(source), open_content(target)
    try:
        destination.versions.import_records(origin.versions.export_records())
    finally:
        destination.close()
        origin.close()


def _alive(pid: int, process: subprocess.Popen | None) -> bool:
    if process is not None:  # our child: reap it, or it stays a zombie that kill(0) still finds
        return process.poll() is None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.cluster", description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=["start", "stop"])
    args = parser.parse_args(argv)
    cluster = Cluster(Layout())
    running = [p for p in cluster.layout.replica_ports if (pid := cluster.replica_pid(p)) and _alive(pid, None)]
    if args.action == "start" and running:
        print(f"the cluster is running already (replicas on {', '.join(map(str, running))}): "
              "`make cluster-stop` first", file=sys.stderr)
        return 1
    if args.action == "stop":
        cluster.stop()
        print("stopped: nginx, the replicas, PostgreSQL")
        return 0
    try:
        cluster.start()
    except BaseException:
        cluster.stop()
        raise
    print(f"PostgreSQL  {cluster.database_url}  (data/cluster/pg)")
    for port in cluster.layout.replica_ports:
        print(f"replica     {cluster.replica_url(port)}  pid {cluster.replica_pid(port)}")
    print(f"nginx       {cluster.nginx.url}  <- agents and editors use this one")
    print("admin token in data/cluster/admin_token; logs in data/cluster/*.log; `make cluster-stop` stops it all")
    return 0


if __name__ == "__main__":
    sys.exit(main())
