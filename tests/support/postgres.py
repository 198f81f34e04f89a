"""The test session's PostgreSQL server (deploy/pg.py): started at the first test that needs it, in a folder
of its own under /tmp on a free loopback port, stopped when the session ends (tests/conftest.py). Each test
(or test module) gets a fresh database, a copy of a template with every migration applied."""
from __future__ import annotations

import hashlib
import shutil
import tempfile
import threading
from pathlib import Path

from deploy.pg import PgServer
from tests.support.service import free_port

TEMPLATE = "kb_template"
_lock = threading.Lock()
_server: PgServer | None = None


def server() -> PgServer:
    """The session's server, started on first use."""
    global _server
    with _lock:
        if _server is None:
            folder = Path(tempfile.mkdtemp(prefix="kb-test-pg-"))
            started = PgServer(folder, free_port(), fast=True).start()
            from kb.state.pg_db import migrate

            migrate(started.create_database(TEMPLATE))
            _server = started
        return _server


def database_for(key: object) -> str:
    """The URL of the database of `key` (a test's tmp_path, a module's name): created from the migrated
    template the first time, the same one after."""
    name = "t_" + hashlib.sha1(str(key).encode()).hexdigest()[:20]
    pg = server()
    with _lock:
        if not pg.has_database(name):
            import psycopg

            with psycopg.connect(pg.url(), autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{TEMPLATE}"')
    return pg.url(name)


def stop() -> None:
    global _server
    with _lock:
        if _server is not None:
            _server.stop("immediate")
            shutil.rmtree(_server.folder, ignore_errors=True)
            _server = None
