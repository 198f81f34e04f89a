"""A PostgreSQL server of our own: initdb into a folder, pg_ctl start and stop on a loopback port.

The server refuses to run as root, so as root it runs as the `postgres` system user (created by Debian's
`postgresql` package) and the folder is given to that user. It listens on 127.0.0.1 only and trusts
connections from there (a test or `make cluster` instance; a real deployment uses a managed server or one
set up with passwords, docs/deploying.md).
"""
from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import time
from pathlib import Path

SUPERUSER = "kb"
RUN_AS = "postgres"
# Durability traded for speed, for the test session's throwaway server only.
FAST_SETTINGS = ("fsync=off", "synchronous_commit=off", "full_page_writes=off")


def server_binary(name: str) -> str:
    """A PostgreSQL server program: the newest version Debian installed, else one on PATH."""
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name)
                      if p.parent.name.isdigit() else 0)
    for folder in reversed(versions):
        if (folder / name).exists():
            return str(folder / name)
    found = shutil.which(name)
    if found is None:
        raise RuntimeError(f"PostgreSQL's {name} is not installed: run `make cluster-tools` "
                           "(Debian: apt-get install postgresql)")
    return found


class PgServer:
    def __init__(self, folder: Path, port: int, fast: bool = False, max_connections: int = 200):
        self.folder = Path(folder).resolve()
        self.data = self.folder / "data"
        self.log = self.folder / "server.log"
        self.port = port
        self.fast = fast
        self.max_connections = max_connections

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        prefix = ["runuser", "-u", RUN_AS, "--"] if os.geteuid() == 0 else []
        return subprocess.run([*prefix, *args], check=check, capture_output=True, text=True, cwd="/")

    def _own(self) -> None:
        if os.geteuid() == 0:
            user = pwd.getpwnam(RUN_AS)
            for path in (self.folder, *self.folder.rglob("*")):
                os.chown(path, user.pw_uid, user.pw_gid, follow_symlinks=False)

    def init(self) -> None:
        """initdb, once (a folder that holds a cluster already is kept)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        if (self.data / "PG_VERSION").exists():
            return
        self._own()
        self._run(server_binary("initdb"), "-D", str(self.data), "-U", SUPERUSER, "--auth=trust",
                  "--encoding=UTF8", "--locale=C.UTF-8")

    def running(self) -> bool:
        return (self.data / "PG_VERSION").exists() and self._run(
            server_binary("pg_ctl"), "-D", str(self.data), "status", check=False).returncode == 0

    def start(self) -> "PgServer":
        """Start the server (initialised first if need be); a running one is left as it is."""
        self.init()
        if self.running():
            return self
        self._own()
        options = [f"-p {self.port}", "-c listen_addresses=127.0.0.1", f"-k {self.folder}",
                   f"-c max_connections={self.max_connections}",
                   *(f"-c {setting}" for setting in (FAST_SETTINGS if self.fast else ()))]
        done = self._run(server_binary("pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60",
                         "-o", " ".join(options), "start", check=False)
        if done.returncode != 0:
            tail = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise RuntimeError(f"PostgreSQL did not start on port {self.port}: {done.stderr}{tail}")
        return self

    def stop(self, mode: str = "fast") -> None:
        if (self.data / "postmaster.pid").exists():
            self._run(server_binary("pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop", check=False)

    def pid(self) -> int | None:
        try:
            return int((self.data / "postmaster.pid").read_text().split()[0])
        except (FileNotFoundError, ValueError, IndexError):
            return None

    def create_database(self, name: str) -> str:
        """A new empty database; its URL."""
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def has_database(self, name: str) -> bool:
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as conn:
            return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is not None

    def wait_ready(self, timeout: float = 30) -> None:
        import psycopg

        deadline = time.monotonic() + timeout
        while True:
            try:
                with psycopg.connect(self.url(), connect_timeout=2):
                    return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
