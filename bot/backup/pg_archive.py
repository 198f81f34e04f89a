"""`kb backup` / `kb restore` where PostgreSQL holds the state (KB_DATABASE_URL): the database dumped by
pg_dump into the same kind of archive as a data folder's (tarball.py), restored by pg_restore into an empty
database.

Backup: a REPEATABLE READ, READ ONLY transaction exports its snapshot and counts every table's rows in it;
pg_dump --snapshot dumps that same snapshot while the service goes on writing, so the manifest's counts are
exactly the dump's. The archive holds database.dump (pg_dump's custom format) and manifest.json: the backend
("postgresql"), the database named without its password, the server's and pg_dump's versions, the schema
migrations applied, the published version, and rows per table.

Restore: the archive's backend and files are checked against the manifest in a temporary folder; a database
that holds any of the archive's tables, or schema_migrations, is refused; pg_restore runs in one transaction
that stops at the first error (all or nothing), owners and grants left to the target server (its roles may
differ); then every table's rows are counted against the manifest.
"""
from __future__ import annotations

import os
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

from bot.backup.pg_programs import Connection, connection, newest, run
from bot.backup.tarball import (FORMAT, POSTGRESQL, BackupError, Writer, file_problems, read_checked_manifest,
                                refuse_if, unpack)

DUMP = "database.dump"
SCHEMA_TABLE = "schema_migrations"  # kb migrate's record of the schema: there in every database of this product
# Every table of the database: what pg_dump dumps (the system's own schemas, pg_*, left out).
TABLES = """SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind IN ('r', 'p') AND n.nspname <> 'information_schema' AND n.nspname !~ '^pg_'
            ORDER BY 1, 2"""


def _name(schema: str, table: str) -> str:
    """A table as the manifest names it: bare in the public schema, else schema.table."""
    return table if schema == "public" else f"{schema}.{table}"


def _connect(url: str, via: Connection):
    import psycopg

    try:
        return psycopg.connect(url, autocommit=True, connect_timeout=10, application_name="kefu-kb-backup")
    except psycopg.OperationalError as e:
        raise BackupError(f"无法连接数据库 / cannot reach the database {via.label}: {e}") from None


def _tables(conn) -> list[tuple[str, str]]:
    return [(schema, table) for schema, table in conn.execute(TABLES)]


def _counts(conn, tables: list[tuple[str, str]]) -> dict[str, int]:
    from psycopg import sql

    query = sql.SQL("SELECT count(*) FROM {}.{}")
    return {_name(schema, table): conn.execute(query.format(sql.Identifier(schema), sql.Identifier(table))).fetchone()[0]
            for schema, table in tables}


def _major(version: str) -> int:
    digits = version.split(".")[0]
    return int("".join(c for c in digits if c.isdigit()) or 0)


def _dump_one_snapshot(url: str, via: Connection, dump: Path) -> dict[str, Any]:
    """Dump the database into `dump` and count its rows, both in one snapshot; what the manifest says of it."""
    import psycopg

    conn = _connect(url, via)
    try:
        server_version = conn.execute("SHOW server_version").fetchone()[0].split()[0]  # "15.18 (Debian …)"
        pg_dump = newest("pg_dump", conn.info.server_version // 10000, ("数据库服务器", "the database server"))
        # The transaction stays open, idle, while pg_dump reads its snapshot: no timeout may end it.
        conn.execute("SET idle_in_transaction_session_timeout = 0")
        conn.execute("SET statement_timeout = 0")
        conn.autocommit = False
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        with conn.transaction():
            snapshot = conn.execute("SELECT pg_export_snapshot()").fetchone()[0]
            tables = _tables(conn)
            if ("public", SCHEMA_TABLE) not in tables:
                raise BackupError(f"数据库里没有 kb 的表，未备份 / the database holds no kb schema (no {SCHEMA_TABLE}): "
                                  f"nothing was backed up. Is KB_DATABASE_URL the service's database ({via.label})?")
            counts = _counts(conn, tables)
            migrations = [row[0] for row in conn.execute(f"SELECT number FROM {SCHEMA_TABLE} ORDER BY number")]
            current = None
            if ("public", "current_version") in tables:
                row = conn.execute("SELECT version_id FROM current_version").fetchone()
                current = row[0] if row else None
            run(pg_dump, ["--format=custom", f"--snapshot={snapshot}", f"--file={dump}"], via)
    except psycopg.Error as e:
        raise BackupError(f"备份时数据库出错，未备份 / the database failed during the backup ({via.label}); nothing was "
                          f"backed up: {e}") from None
    finally:
        conn.close()
    return {"database": via.label, "server_version": server_version, "pg_dump_version": pg_dump.version,
            "migrations": migrations, "current_version": current, "counts": counts}


def backup(url: str, out: Path) -> dict[str, Any]:
    """Write the archive of the database at `url` to `out` (via a temporary name); its manifest."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    via = connection(url)
    try:
        with tempfile.TemporaryDirectory(prefix=".kb-backup-", dir=out.parent) as tmp:
            dump = Path(tmp) / DUMP
            taken = _dump_one_snapshot(url, via, dump)
            with tarfile.open(partial, "w:gz") as tar:
                w = Writer(tar)
                w.add_file(DUMP, dump)
                manifest = {"format": FORMAT, "backend": POSTGRESQL, "created_at": time.time(), "items": [DUMP],
                            **taken}
                w.add_manifest(manifest)
        os.replace(partial, out)
    finally:
        partial.unlink(missing_ok=True)
    return {**manifest, "files": w.files}


def _refuse_unless_empty(url: str, via: Connection, manifest: dict[str, Any]) -> None:
    with _connect(url, via) as conn:
        present = {_name(schema, table) for schema, table in _tables(conn)}
    held = sorted(present & (set(manifest["counts"]) | {SCHEMA_TABLE}))
    if held:
        raise BackupError(f"目标数据库不是空的，未恢复（只能恢复到空数据库，以免覆盖现有数据） / the target database is not "
                          f"empty; nothing was restored (a backup is only restored into an empty database, so that "
                          f"nothing is overwritten): {via.label} holds {', '.join(held)}. Create an empty database "
                          "for it (and do not run `kb migrate` on it first: the archive brings its schema)")


def restore(archive: Path, url: str, workdir: Path) -> dict[str, Any]:
    """Restore `archive` into the empty database at `url` (unpacked in a temporary folder inside `workdir`);
    the manifest, once every file and every table's rows were checked."""
    import psycopg

    archive, workdir = Path(archive), Path(workdir)
    manifest = read_checked_manifest(archive, POSTGRESQL)
    via = connection(url)
    pg_restore = newest("pg_restore", _major(manifest["pg_dump_version"]),
                        ("写这个备份的 pg_dump", "the pg_dump that wrote this archive"))
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        with tempfile.TemporaryDirectory(prefix=".kb-restore-", dir=workdir) as tmp:
            unpack(archive, Path(tmp))
            refuse_if(file_problems(Path(tmp), manifest))
            _refuse_unless_empty(url, via, manifest)
            run(pg_restore, ["--no-owner", "--no-acl", "--exit-on-error", "--single-transaction",
                             str(Path(tmp) / DUMP)], via)
        with _connect(url, via) as conn:
            restored = _counts(conn, [t for t in _tables(conn) if _name(*t) in manifest["counts"]])
    except psycopg.Error as e:
        raise BackupError(f"恢复时数据库出错 / the database failed during the restore ({via.label}): {e}") from None
    differ = [f"{table}: {rows} in the archive, {restored.get(table, 'no table')} restored"
              for table, rows in sorted(manifest["counts"].items()) if restored.get(table) != rows]
    if differ:
        raise BackupError("恢复后的行数与清单不符 / restored, but row counts differ from the manifest:\n  "
                          + "\n  ".join(differ[:20]))
    return manifest


def migrations_missing(manifest: dict[str, Any]) -> list[int]:
    """The migrations of this build the archive's schema lacks (`kb migrate` applies them after a restore)."""
    from kb.state.pg_db import migration_files

    return [number for number, _, _ in migration_files() if number not in manifest["migrations"]]
