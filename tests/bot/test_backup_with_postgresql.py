"""Backups where the state is in PostgreSQL (KB_DATABASE_URL): `kb backup` and `kb restore` refuse and name
pg_dump, whose dump and pg_restore into an empty database, as docs/operations.md shows them, carry every record
over, the audit log still append-only."""
from __future__ import annotations

import hashlib
import subprocess

import pytest
from pydantic import SecretStr

from bot.cli import main
from bot.migrate import COPIED, Backend
from bot.state.base import Account, ApiToken, AskerIdentity, AuditEntry, Site
from deploy.pg import server_binary
from kb.settings import Settings
from tests.support.postgres import database_for, server


def test_kb_backup_and_restore_refuse_a_database_and_name_pg_dump(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("KB_DATABASE_URL", database_for(tmp_path))
    archive = tmp_path / "kb.tar.gz"
    for command in ("backup", "restore"):
        assert main(["--data-dir", str(tmp_path / "data"), command, str(archive)]) == 2
        err = capsys.readouterr().err
        assert "pg_dump" in err and "KB_DATABASE_URL" in err
    assert not archive.exists()


def _settings(url: str, folder) -> Settings:
    return Settings(data_dir=folder, docs_dirs=[], database_url=SecretStr(url))


def _contents(backend: Backend) -> dict:
    return {name: list(backend.store(pick).export_records()) for name, pick in COPIED}


def test_pg_dump_and_pg_restore_carry_every_record_over(tmp_path):
    source = Backend.open(_settings(database_for(tmp_path / "source"), tmp_path / "source"))
    try:
        records, who = source.records, AskerIdentity("agent-7", "售后一组", "shop")
        records.accounts.add(Account("admin", "admin", "$argon2id$hash", 1_700_000_000.0))
        records.tokens.add(ApiToken("t1", "nightly import", "editor", "sha-1", "admin", 1_700_000_000.0))
        records.sites.add(Site("shop", "网店", ("https://shop.example",), "s3cret", 1_700_000_000.0, "admin"))
        for n in range(3):
            records.audit.append(AuditEntry(1_700_000_000.0 + n, "admin", "admin", "10.0.0.1", "login", "admin",
                                            200, {"n": n}))
        records.feedback.add("客户要发票", "p1", False, "缺发票流程", who=who)
        records.asks.log({"question": "怎么退款", "matched": True, "confidence": 0.9}, 3.0, who)
        before = _contents(source)
    finally:
        source.close()
    dump = tmp_path / "kefu.dump"
    subprocess.run([server_binary("pg_dump"), "--format=custom", f"--file={dump}",
                    database_for(tmp_path / "source")], check=True, capture_output=True)
    empty = server().create_database("restored_" + hashlib.sha1(str(tmp_path).encode()).hexdigest()[:12])
    subprocess.run([server_binary("pg_restore"), f"--dbname={empty}", "--no-owner", str(dump)], check=True,
                   capture_output=True)
    restored = Backend.open(_settings(empty, tmp_path / "restored"))  # the schema is this build's: it opens
    try:
        assert _contents(restored) == before
        assert [e.id for e in restored.records.audit.query()] == [3, 2, 1]
        assert restored.records.audit.append(AuditEntry(1.0, "x", None, "ip", "login", "", 200, {})) == 4
    finally:
        restored.close()
    import psycopg

    with psycopg.connect(empty, autocommit=True) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
            conn.execute("DELETE FROM audit")
