"""The embedded backend of who may change the KB: accounts, signed-in browsers, API tokens, the audit log, the
widget sites and sign-in attempts, as tables of app.sqlite (bot/state/sqlite.py opens them with the rest).

The SQL is kept portable (plain types, ON CONFLICT, no SQLite functions) so another backend can reuse it; the
audit log's append-only triggers are SQLite's own.
"""
from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import fields, replace
from typing import TYPE_CHECKING, Any

from bot.state.access import (Account, AccountStore, AlreadyExists, ApiToken, ApiTokenStore, Attempts, AuditEntry,
                              AuditLog, LoginAttemptStore, LoginSession, LoginSessionStore, Site, SiteStore)

if TYPE_CHECKING:  # pragma: no cover
    from bot.state.sqlite import SQLiteDatabase

ACCESS_SCHEMA = """
CREATE TABLE IF NOT EXISTS accounts (
    name TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at REAL NOT NULL,
    disabled INTEGER NOT NULL DEFAULT 0,
    last_login REAL
);
CREATE TABLE IF NOT EXISTS login_sessions (
    id_hash TEXT PRIMARY KEY,
    account TEXT NOT NULL,
    csrf TEXT NOT NULL,
    created_at REAL NOT NULL,
    expires_at REAL NOT NULL,
    ip TEXT NOT NULL,
    user_agent TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS login_sessions_account ON login_sessions (account);
CREATE TABLE IF NOT EXISTS api_tokens (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_by TEXT NOT NULL,
    created_at REAL NOT NULL,
    last_used REAL,
    revoked_at REAL
);
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ts REAL NOT NULL,
    actor TEXT NOT NULL,
    role TEXT,
    ip TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    status INTEGER NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_ts ON audit (ts);
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TABLE IF NOT EXISTS sites (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    origins TEXT NOT NULL,
    secret TEXT,
    created_at REAL NOT NULL,
    created_by TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS login_attempts (
    key TEXT PRIMARY KEY,
    failures INTEGER NOT NULL DEFAULT 0,
    lockouts INTEGER NOT NULL DEFAULT 0,
    locked_until REAL NOT NULL DEFAULT 0,
    tokens REAL,
    taken_at REAL NOT NULL DEFAULT 0,
    updated REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS login_attempts_updated ON login_attempts (updated);
"""


def _insert_new(db: "SQLiteDatabase", sql: str, args: tuple, what: str) -> int:
    try:
        return db.write(sql, args, what)
    except sqlite3.IntegrityError:
        raise AlreadyExists(f"已存在 / already exists: {args[0]}") from None


class _Table:
    """One table whose columns are a record dataclass's fields, in order, keyed by the first."""

    table: str
    record: type
    what: str  # for messages about a failed write

    def __init__(self, db: "SQLiteDatabase"):
        self.db = db
        self.columns = [f.name for f in fields(self.record)]
        self.key = self.columns[0]

    def _row(self, record: Any) -> tuple:
        return tuple(getattr(record, c) for c in self.columns)

    def _record(self, row: sqlite3.Row) -> Any:
        return self.record(*(row[c] for c in self.columns))

    def _insert(self, record: Any) -> None:
        _insert_new(self.db, f"INSERT INTO {self.table} ({', '.join(self.columns)})"
                             f" VALUES ({', '.join('?' * len(self.columns))})", self._row(record), self.what)

    def _select(self, where: str = "1 = 1", args: tuple = (), order: str = "") -> list[Any]:
        order = f" ORDER BY {order}" if order else ""
        rows = self.db.read(f"SELECT {', '.join(self.columns)} FROM {self.table} WHERE {where}{order}", args)
        return [self._record(r) for r in rows]

    def _get(self, value: str) -> Any | None:
        found = self._select(f"{self.key} = ?", (value,))
        return found[0] if found else None

    def _update(self, value: str, changes: dict[str, Any]) -> bool:
        """UPDATE the given columns of one row; whether the row exists."""
        if self._get(value) is None:
            return False
        if changes:
            assignments = ", ".join(f"{name} = ?" for name in changes)
            self.db.write(f"UPDATE {self.table} SET {assignments} WHERE {self.key} = ?", (*changes.values(), value),
                          self.what)
        return True

    def _delete(self, value: str) -> bool:
        if self._get(value) is None:
            return False
        self.db.write(f"DELETE FROM {self.table} WHERE {self.key} = ?", (value,), self.what)
        return True


class SQLiteAccountStore(_Table, AccountStore):
    table, record, what = "accounts", Account, "an account"

    def _row(self, record: Account) -> tuple:
        return tuple(int(record.disabled) if c == "disabled" else getattr(record, c) for c in self.columns)

    def _record(self, row: sqlite3.Row) -> Account:
        return replace(super()._record(row), disabled=bool(row["disabled"]))

    def add(self, account: Account) -> None:
        self._insert(account)

    def add_first(self, account: Account) -> bool:
        self.db.write(f"INSERT INTO accounts ({', '.join(self.columns)}) SELECT ?,?,?,?,?,?"
                      " WHERE NOT EXISTS (SELECT 1 FROM accounts)", self._row(account), "the first account")
        stored = self.get(account.name)
        return stored is not None and stored.password_hash == account.password_hash

    def get(self, name: str) -> Account | None:
        return self._get(name)

    def list(self) -> list[Account]:
        return self._select(order="name")

    def update(self, name: str, *, role: str | None = None, password_hash: str | None = None,
               disabled: bool | None = None, last_login: float | None = None) -> bool:
        changes: dict[str, Any] = {k: v for k, v in (("role", role), ("password_hash", password_hash),
                                                     ("last_login", last_login)) if v is not None}
        if disabled is not None:
            changes["disabled"] = 1 if disabled else 0
        return self._update(name, changes)

    def delete(self, name: str) -> bool:
        return self._delete(name)


class SQLiteLoginSessionStore(_Table, LoginSessionStore):
    table, record, what = "login_sessions", LoginSession, "a sign-in"

    def add(self, session: LoginSession) -> None:
        self._insert(session)

    def get(self, id_hash: str) -> LoginSession | None:
        return self._get(id_hash)

    def list(self, account: str | None = None) -> list[LoginSession]:
        if account is None:
            return self._select("expires_at > ?", (time.time(),), "created_at DESC")
        return self._select("expires_at > ? AND account = ?", (time.time(), account), "created_at DESC")

    def revoke(self, id_hash: str) -> bool:
        return self._delete(id_hash)

    def revoke_account(self, account: str) -> int:
        n = len(self._select("account = ?", (account,)))
        self.db.write("DELETE FROM login_sessions WHERE account = ?", (account,), self.what)
        return n

    def remove_expired(self, now: float) -> int:
        n = len(self._select("expires_at <= ?", (now,)))
        if n:
            self.db.write("DELETE FROM login_sessions WHERE expires_at <= ?", (now,), "expired sign-ins")
        return n


class SQLiteApiTokenStore(_Table, ApiTokenStore):
    table, record, what = "api_tokens", ApiToken, "an API token"

    def add(self, token: ApiToken) -> None:
        self._insert(token)

    def find(self, token_hash: str) -> ApiToken | None:
        found = self._select("token_hash = ? AND revoked_at IS NULL", (token_hash,))
        return found[0] if found else None

    def list(self) -> list[ApiToken]:
        return self._select(order="created_at DESC")

    def revoke(self, token_id: str) -> bool:
        if not self._select("id = ? AND revoked_at IS NULL", (token_id,)):
            return False
        return self._update(token_id, {"revoked_at": time.time()})

    def used(self, token_id: str, ts: float) -> None:
        self._update(token_id, {"last_used": ts})


class SQLiteAuditLog(AuditLog):
    _INSERT = "INSERT INTO audit (ts, actor, role, ip, action, target, status, detail) VALUES (?,?,?,?,?,?,?,?)"
    _COLUMNS = "id, ts, actor, role, ip, action, target, status, detail"

    def __init__(self, db: "SQLiteDatabase"):
        self.db = db

    @staticmethod
    def _row(e: AuditEntry) -> tuple:
        return (e.ts, e.actor, e.role, e.ip, e.action, e.target, e.status,
                json.dumps(e.detail, ensure_ascii=False, default=str))

    @staticmethod
    def _entry(r: sqlite3.Row) -> AuditEntry:
        return AuditEntry(r["ts"], r["actor"], r["role"], r["ip"], r["action"], r["target"], r["status"],
                          json.loads(r["detail"]), r["id"])

    def append(self, entry: AuditEntry) -> int:
        return self.db.write(self._INSERT, self._row(entry), "the audit log")

    def query(self, *, actor: str | None = None, action: str | None = None, since: float | None = None,
              until: float | None = None, limit: int = 1000) -> list[AuditEntry]:
        where, args = ["1 = 1"], []
        for clause, value in (("actor = ?", actor), ("ts >= ?", since), ("ts < ?", until)):
            if value is not None:
                where.append(clause)
                args.append(value)
        if action:  # a prefix, compared as text (LIKE would treat % and _ in it as wildcards)
            where.append("substr(action, 1, ?) = ?")
            args += [len(action), action]
        rows = self.db.read(f"SELECT {self._COLUMNS} FROM audit WHERE {' AND '.join(where)}"
                            f" ORDER BY ts DESC, id DESC LIMIT ?", (*args, limit))
        return [self._entry(r) for r in rows]

    def rows(self) -> Iterator[AuditEntry]:
        return (self._entry(r) for r in self.db.read(f"SELECT {self._COLUMNS} FROM audit ORDER BY id"))

    def insert(self, rows: list[AuditEntry]) -> None:
        self.db.write_many(self._INSERT, [self._row(e) for e in rows])

    def counts(self) -> dict[str, int]:
        return {"audit": self.db.read("SELECT COUNT(*) FROM audit")[0][0]}


class SQLiteSiteStore(_Table, SiteStore):
    table, record, what = "sites", Site, "a site"

    def _row(self, record: Site) -> tuple:
        return tuple(json.dumps(list(record.origins)) if c == "origins" else getattr(record, c) for c in self.columns)

    def _record(self, row: sqlite3.Row) -> Site:
        return replace(super()._record(row), origins=tuple(json.loads(row["origins"])))

    def add(self, site: Site) -> None:
        self._insert(site)

    def get(self, site_id: str) -> Site | None:
        return self._get(site_id)

    def list(self) -> list[Site]:
        return self._select(order="id")

    def update(self, site_id: str, *, name: str | None = None, origins: tuple[str, ...] | None = None,
               secret: str | None = None, clear_secret: bool = False) -> bool:
        changes: dict[str, Any] = {}
        if name is not None:
            changes["name"] = name
        if origins is not None:
            changes["origins"] = json.dumps(list(origins))
        if secret is not None or clear_secret:
            changes["secret"] = None if clear_secret else secret
        return self._update(site_id, changes)

    def delete(self, site_id: str) -> bool:
        return self._delete(site_id)


class SQLiteLoginAttemptStore(LoginAttemptStore):
    _FIGURES = "failures, lockouts, locked_until, tokens, taken_at"

    def __init__(self, db: "SQLiteDatabase"):
        self.db = db

    def get(self, key: str) -> Attempts:
        rows = self.db.read(f"SELECT {self._FIGURES} FROM login_attempts WHERE key = ?", (key,))
        return Attempts(*rows[0]) if rows else Attempts()

    def change(self, key: str, change: Callable[[Attempts], Attempts]) -> Attempts:
        def run(conn: sqlite3.Connection) -> Attempts:
            row = conn.execute(f"SELECT {self._FIGURES} FROM login_attempts WHERE key = ?", (key,)).fetchone()
            new = change(Attempts(*row) if row else Attempts())
            conn.execute(f"INSERT INTO login_attempts (key, {self._FIGURES}, updated) VALUES (?,?,?,?,?,?,?)"
                         " ON CONFLICT(key) DO UPDATE SET failures = excluded.failures, lockouts = excluded.lockouts,"
                         " locked_until = excluded.locked_until, tokens = excluded.tokens,"
                         " taken_at = excluded.taken_at, updated = excluded.updated",
                         (key, new.failures, new.lockouts, new.locked_until, new.tokens, new.taken_at, time.time()))
            return new

        return self.db.transaction("sign-in attempts", run)

    def remove_stale(self, before: float, now: float) -> int:
        return self.db.transaction("sign-in attempts", lambda conn: conn.execute(
            "DELETE FROM login_attempts WHERE updated < ? AND locked_until <= ?", (before, now)).rowcount)
