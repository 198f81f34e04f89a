"""Backups where the state is in PostgreSQL (KB_DATABASE_URL): `kb backup` dumps the database with pg_dump in
one snapshot while the service writes on, and `kb restore` puts it into an empty database: every table holds
the rows the manifest counts, the audit log is still append-only and a service on the copy answers as the
original did. A database that is not empty and an archive of the other backend are refused, the URL's password
is written nowhere, and pg_dump is looked for where Debian installs it. pg_dump and pg_restore by hand (the
alternative docs/operations.md shows) carry every record over too."""
from __future__ import annotations

import gzip
import hashlib
import io
import json
import subprocess
import tarfile
import threading
import time

import httpx
import psycopg
import pytest
from pydantic import SecretStr

from bot.backup import archive
from bot.backup.pg_archive import DUMP
from bot.backup.pg_programs import newest
from bot.backup.tarball import BackupError, read_manifest
from bot.cli import main
from bot.migrate import COPIED, Backend, settings_on
from bot.state.access import Account, ApiToken, AuditEntry, Site
from bot.state.base import AskerIdentity
from deploy.pg import server_binary
from kb.settings import Settings
from kb.state.pg_db import migration_files
from tests.support.accounts import ADMIN, PASSWORD
from tests.support.backup import QUESTIONS, RESTORED_ACCOUNT, answers, fill
from tests.support.paths import REPO
from tests.support.postgres import database_for, server
from tests.support.service import LiveServer, service_settings_for

PASSWORD_IN_URL = "hunter2-never-written"  # the test server trusts 127.0.0.1: a password is accepted, unused


def _settings(url: str, folder) -> Settings:
    return Settings(data_dir=folder, docs_dirs=[], database_url=SecretStr(url))


def _contents(backend: Backend) -> dict:
    return {name: list(backend.store(pick).export_records()) for name, pick in COPIED}


def _empty_database(key) -> str:
    """A new database without any table (not even kb migrate's): what a restore goes into."""
    return server().create_database("restored_" + hashlib.sha1(str(key).encode()).hexdigest()[:12])


def _table_counts(url: str) -> dict[str, int]:
    with psycopg.connect(url) as conn:
        tables = [r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
        return {t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in sorted(tables)}


def _kb(url: str | None, folder, *args: str, monkeypatch) -> int:
    if url is None:
        monkeypatch.delenv("KB_DATABASE_URL", raising=False)
    else:
        monkeypatch.setenv("KB_DATABASE_URL", url)
    return main(["--data-dir", str(folder), *args])


def _fill_records(settings: Settings) -> None:
    source = Backend.open(settings)
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
    finally:
        source.close()


# ------------------------------------------------------------------ the round trip, a service running on it
@pytest.fixture(scope="module")
def running(tmp_path_factory, seed_settings, seed_build, model_dir, encoder):
    """A live service on its own database (the seed KB published in it) with something in every store."""
    from bot.app import create_app

    settings = service_settings_for(tmp_path_factory.mktemp("pgbackup"), seed_settings, model_dir,
                                    backend="postgresql")
    install = Backend.open(settings)
    try:
        install.content.calibration.put(json.loads((REPO / "kb" / "resources" / "calibration.json").read_text()))
        install.records.decisions.decide(["客户要发票"], "dismiss", None, "admin", ts=1_700_000_002.0)
    finally:
        install.close()
    with LiveServer(create_app(settings, encoder=encoder)) as live:
        assert httpx.post(live.url + "/v1/admin/tokens", headers=ADMIN,
                          json={"name": "ci", "role": "viewer"}).status_code == 201
        fill(live.url)
        yield live, settings


def test_a_backup_taken_while_questions_are_answered_restores_whole(running, tmp_path, encoder, monkeypatch,
                                                                    capsys):
    from fastapi.testclient import TestClient

    from bot.app import create_app

    live, settings = running
    expected = answers(live.url)
    stop, asked = threading.Event(), []

    def keep_asking():
        while not stop.is_set() and len(asked) < 2000:
            r = httpx.post(live.url + "/v1/ask", json={"question": QUESTIONS[len(asked) % 3]}, timeout=60)
            asked.append(r.status_code)

    asker = threading.Thread(target=keep_asking, daemon=True)
    asker.start()
    time.sleep(0.5)  # questions are being answered (and logged) when the snapshot is taken
    archive_file = tmp_path / "kb-backup.tar.gz"
    url = settings.database_url.get_secret_value()
    try:
        started = time.monotonic()
        assert _kb(url, tmp_path / "cli", "backup", str(archive_file), monkeypatch=monkeypatch) == 0
        backup_seconds = time.monotonic() - started
    finally:
        time.sleep(0.5)  # and after
        stop.set()
        asker.join(timeout=60)
    assert asked and set(asked) == {200}
    manifest = read_manifest(archive_file)
    counts = manifest["counts"]
    assert manifest["backend"] == "postgresql" and list(manifest["files"]) == [DUMP]
    assert manifest["migrations"] == [n for n, _, _ in migration_files()] and manifest["current_version"]
    assert counts["documents"] == counts["excluded_documents"] == counts["labels"] == counts["calibration"] == 1
    assert counts["dictionary_files"] == 2 and counts["review_decisions"] == 1 and counts["feedback"] == 1
    assert counts["accounts"] == 2 and counts["api_tokens"] == 1 and counts["sites"] == 1
    assert counts["audit"] >= 8 and counts["current_version"] == 1 and counts["version_chunks"] > 0
    assert counts["asks"] >= len(QUESTIONS) * 2
    deadline = time.monotonic() + 10  # the service wrote on after the snapshot (its ask log, within ~0.2 s)
    while _table_counts(url)["asks"] <= counts["asks"]:
        assert time.monotonic() < deadline, "no question was logged after the snapshot"
        time.sleep(0.2)

    restored = _empty_database(tmp_path)
    started = time.monotonic()
    assert _kb(restored, tmp_path / "cache", "restore", str(archive_file), monkeypatch=monkeypatch) == 0
    restore_seconds = time.monotonic() - started
    assert "every table checked against the manifest" in capsys.readouterr().out
    assert _table_counts(restored) == counts  # every table, as the snapshot held it
    with psycopg.connect(restored, autocommit=True) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
            conn.execute("UPDATE audit SET actor = 'someone else'")
        following = conn.execute("INSERT INTO audit (ts, actor, ip, action, target, status, detail) "
                                 "VALUES (1, 'x', 'ip', 'login', '', 200, '{}') RETURNING id").fetchone()[0]
        assert following == conn.execute("SELECT max(id) FROM audit WHERE id < %s", (following,)).fetchone()[0] + 1

    copy = settings_on(settings, restored, tmp_path / "replica")
    with LiveServer(create_app(copy, encoder=encoder)) as again:
        assert answers(again.url) == expected
    with TestClient(create_app(copy, encoder=encoder)) as c:
        assert c.post("/v1/auth/login", json={"name": RESTORED_ACCOUNT, "password": PASSWORD}).status_code == 200
    print(f"\nPostgreSQL backup of the seeds: {archive_file.stat().st_size / 1e6:.1f} MB, backup {backup_seconds:.1f} s, "
          f"restore {restore_seconds:.1f} s")


# ------------------------------------------------------------------------ refusals, without the model
@pytest.fixture(scope="module")
def small_archive(tmp_path_factory):
    """A database with a few records, backed up through a URL that carries a password; (archive, URL)."""
    folder = tmp_path_factory.mktemp("small")
    url = database_for(folder)
    _fill_records(_settings(url, folder / "data"))
    archive_file = folder / "small.tar.gz"
    with pytest.MonkeyPatch.context() as mp:
        with_password = url.replace("postgresql://kb@", f"postgresql://kb:{PASSWORD_IN_URL}@")
        assert with_password != url
        assert _kb(with_password, folder / "data", "backup", str(archive_file), monkeypatch=mp) == 0
    return archive_file, url


def test_the_urls_password_is_written_nowhere(small_archive):
    archive_file, url = small_archive
    manifest = read_manifest(archive_file)
    assert manifest["database"] == url.split("//", 1)[1]  # kb@127.0.0.1:port/name
    assert PASSWORD_IN_URL.encode() not in gzip.decompress(archive_file.read_bytes())
    assert manifest["counts"] == _table_counts(url)


def test_a_restore_into_a_database_that_is_not_empty_is_refused_and_changes_nothing(small_archive, tmp_path,
                                                                                    monkeypatch, capsys):
    archive_file, _ = small_archive
    occupied = database_for(tmp_path)  # kb migrate's tables, and an account
    _fill_records(_settings(occupied, tmp_path / "data"))
    before = _table_counts(occupied)
    assert _kb(occupied, tmp_path / "data", "restore", str(archive_file), monkeypatch=monkeypatch) == 2
    err = capsys.readouterr().err
    assert "not empty" in err and "不是空的" in err and "accounts" in err and "schema_migrations" in err
    assert _table_counts(occupied) == before


def test_an_archive_of_the_other_backend_is_refused_by_name(small_archive, tmp_path, monkeypatch, capsys):
    archive_file, _ = small_archive
    folder = tmp_path / "data"
    assert _kb(None, folder, "restore", str(archive_file), monkeypatch=monkeypatch) == 2
    err = capsys.readouterr().err
    assert "backup of a PostgreSQL database" in err and "KB_DATABASE_URL is unset" in err
    assert not folder.exists() or list(folder.iterdir()) == []

    embedded = tmp_path / "embedded"
    (embedded / "dictionary").mkdir(parents=True)
    (embedded / "dictionary" / "synonyms.txt").write_text("退款 退钱\n", "utf-8")
    archive.backup(embedded, tmp_path / "embedded.tar.gz")
    empty = _empty_database(tmp_path)
    assert _kb(empty, tmp_path / "cache", "restore", str(tmp_path / "embedded.tar.gz"), monkeypatch=monkeypatch) == 2
    err = capsys.readouterr().err
    assert "backup of the embedded backend" in err and "KB_DATABASE_URL is set" in err and "kb migrate --to" in err
    assert _table_counts(empty) == {}


def test_a_damaged_dump_is_refused_before_the_database_is_touched(small_archive, tmp_path, monkeypatch, capsys):
    archive_file, _ = small_archive
    damaged = tmp_path / "damaged.tar.gz"
    with tarfile.open(archive_file, "r:gz") as src, tarfile.open(damaged, "w:gz") as dst:
        for member in src.getmembers():
            data = src.extractfile(member).read()
            if member.name == DUMP:
                data = data[:-1] + bytes([data[-1] ^ 1])
            dst.addfile(member, io.BytesIO(data))
    empty = _empty_database(tmp_path)
    assert _kb(empty, tmp_path / "cache", "restore", str(damaged), monkeypatch=monkeypatch) == 2
    assert f"damaged (size or SHA-256 differs): {DUMP}" in capsys.readouterr().err
    assert _table_counts(empty) == {}


def test_a_restore_that_fails_part_way_leaves_nothing_behind(small_archive, tmp_path, monkeypatch, capsys):
    archive_file, _ = small_archive
    empty = _empty_database(tmp_path)
    with psycopg.connect(empty, autocommit=True) as conn:  # no table, but the name of an index made after the data
        conn.execute("CREATE VIEW audit_ts AS SELECT 1 AS one")
    assert _kb(empty, tmp_path / "cache", "restore", str(archive_file), monkeypatch=monkeypatch) == 2
    err = capsys.readouterr().err
    assert "pg_restore failed" in err and 'relation "audit_ts" already exists' in err
    assert _table_counts(empty) == {}  # one transaction: the tables made before the error are gone with it


# ------------------------------------------------------------------------------ finding pg_dump
def _fake_program(folder, name: str, version: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(f"#!/bin/sh\necho '{name} (PostgreSQL) {version}'\n")
    (folder / name).chmod(0o755)


def test_the_newest_pg_dump_is_taken_from_path_or_debians_folders(tmp_path):
    _fake_program(tmp_path / "bin", "pg_dump", "13.4")
    for major in ("12", "16"):
        _fake_program(tmp_path / "lib" / major / "bin", "pg_dump", f"{major}.1")
    found = newest("pg_dump", 15, ("服务器", "the server"), search_path=str(tmp_path / "bin"), lib_root=tmp_path / "lib")
    assert (found.major, found.version, found.path) == (16, "16.1", str(tmp_path / "lib" / "16" / "bin" / "pg_dump"))
    found = newest("pg_dump", 12, ("服务器", "the server"), search_path=str(tmp_path / "bin"), lib_root=tmp_path / "none")
    assert found.version == "13.4"
    assert newest("pg_dump", 15, ("数据库服务器", "the database server")).major >= 15  # this machine's


def test_a_missing_or_older_pg_dump_is_named_with_what_to_install(tmp_path):
    with pytest.raises(BackupError, match="pg_dump was not found") as missing:
        newest("pg_dump", 15, ("服务器", "the server"), search_path=str(tmp_path), lib_root=tmp_path)
    assert "postgresql-client-15" in str(missing.value) and "找不到" in str(missing.value)
    _fake_program(tmp_path / "bin", "pg_dump", "13.4")
    with pytest.raises(BackupError, match=r"pg_dump 13.4 .* is older than the database server \(version 15\)") as old:
        newest("pg_dump", 15, ("数据库服务器", "the database server"), search_path=str(tmp_path / "bin"),
               lib_root=tmp_path)
    assert "比数据库服务器旧" in str(old.value) and "postgresql-client-15" in str(old.value)


# ------------------------------------------------------------- by hand: the alternative docs/operations.md shows
def test_pg_dump_and_pg_restore_carry_every_record_over(tmp_path):
    _fill_records(_settings(database_for(tmp_path / "source"), tmp_path / "source"))
    source = Backend.open(_settings(database_for(tmp_path / "source"), tmp_path / "source"))
    try:
        before = _contents(source)
    finally:
        source.close()
    dump = tmp_path / "kefu.dump"
    subprocess.run([server_binary("pg_dump"), "--format=custom", f"--file={dump}",
                    database_for(tmp_path / "source")], check=True, capture_output=True)
    empty = _empty_database(tmp_path)
    subprocess.run([server_binary("pg_restore"), f"--dbname={empty}", "--no-owner", str(dump)], check=True,
                   capture_output=True)
    restored = Backend.open(_settings(empty, tmp_path / "restored"))  # the schema is this build's: it opens
    try:
        assert _contents(restored) == before
        assert [e.id for e in restored.records.audit.query()] == [3, 2, 1]
        assert restored.records.audit.append(AuditEntry(1.0, "x", None, "ip", "login", "", 200, {})) == 4
    finally:
        restored.close()
    with psycopg.connect(empty, autocommit=True) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
            conn.execute("DELETE FROM audit")
