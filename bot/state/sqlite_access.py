"""The embedded backend of who may change the KB: accounts, signed-in browsers, API tokens, the audit log and
the widget sites, as tables of app.sqlite (bot/state/sqlite.py opens them with the rest).

The SQL is kept portable (plain types, ON CONFLICT, no SQLite functions) so another backend can reuse it; the
audit log's append-only triggers are SQLite's own.
"""
from __future__ import annotations

import json
import sqlite3
import time
from typing import TYPE_CHECKING, Any

from bot.state.base import (Account, AccountStore, AlreadyExists, ApiToken, ApiTokenStore, AuditEntry, AuditLog,
                            LoginSession, LoginSessionStore, Site, SiteStore)

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
"""


def _insert_new(db: "SQLiteDatabase", sql: str, args: tuple, what: str) -> int:
    try:
        return db.write(sql, args, what)
    except sqlite3.IntegrityError:
        raise AlreadyExists(f"已存在 / already exists: {args[0]}") from None


def _set_fields(db: "SQLiteDatabase", table: str, key: str, value: str, fields: dict[str, Any], what: str) -> bool:
    """UPDATE the given columns of one row; whether the row exists."""
    if not db.read(f"SELECT 1 FROM {table} WHERE {key} = ?", (value,)):
        return False
    if fields:
        assignments = ", ".join(f"{name} = ?" for name in fields)
        db.write(f"UPDATE {table} SET {assignments} WHERE {key} = ?", (*fields.values(), value), what)
    return True


def _account(r: sqlite3.Row) -> Account:
    return Account(r["name"], r["role"], r["password_hash"], r["created_at"], bool(r["disabled"]), r["last_login"])


class SQLiteAccountStore(AccountStore):
    _COLUMNS = "name, role, password_hash, created_at, disabled, last_login"

    def __init__(self, db: "SQLiteDatabase"):
        self.db = db

    def _args(self, a: Account) -> tuple:
        return (a.name, a.role, a.password_hash, a.created_at, 1 if a.disabled else 0, a.last_login)

    def add(self, account: Account) -> None:
        _insert_new(self.db, f"INSERT INTO accounts ({self._COLUMNS}) VALUES (?,?,?,?,?,?)", self._args(account),
                    "an account")

    def add_first(self, account: Account) -> bool:
        self.db.write(f"INSERT INTO accounts ({self._COLUMNS}) SELECT ?,?,?,?,?,?"
                      " WHERE NOT EXISTS (SELECT 1 FROM accounts)", self._args(account), "the first account")
        stored = self.get(account.name)
        return stored is not None and stored.password_hash == account.password_hash

    def get(self, name: str) -> Account | None:
        rows = self.db.read(f"SELECT {self._COLUMNS} FROM accounts WHERE name = ?", (name,))
        return _account(rows[0]) if rows else None

    def list(self) -> list[Account]:
        return [_account(r) for r in self.db.read(f"SELECT {self._COLUMNS} FROM accounts ORDER BY name")]

    def update(self, name: str, *, role: str | None = None, password_hash: str | None = None,
               disabled: bool | None = None, last_login: float | None = None) -> bool:
        fields: dict[str, Any] = {k: v for k, v in (("role", role), ("password_hash", password_hash),
                                                    ("last_login", last_login)) if v is not None}
        if disabled is not None:
            fields["disabled"] = 1 if disabled else 0
        return _set_fields(self.db, "accounts", "name", name, fields, "an account")

    def delete(self, name: str) -> bool:
        if self.get(name) is None:
            return False
        self.db.write("DELETE FROM accounts WHERE name = ?", (name,), "an account")
        return True


def _login(r: sqlite3.Row) -> LoginSession:
    return LoginSession(r["id_hash"], r["account"], r["csrf"], r["created_at"], r["expires_at"], r["ip"],
                        r["user_agent"])


class SQLiteLoginSessionStore(LoginSessionStore):
    _COLUMNS = "id_hash, account, csrf, created_at, expires_at, ip, user_agent"

    def __init__(self, db: "SQLiteDatabase"):
        self.db = db

    def add(self, session: LoginSession) -> None:
        s = session
        _insert_new(self.db, f"INSERT INTO login_sessions ({self._COLUMNS}) VALUES (?,?,?,?,?,?,?)",
                    (s.id_hash, s.account, s.csrf, s.created_at, s.expires_at, s.ip, s.user_agent), "a sign-in")

    def get(self, id_hash: str) -> LoginSession | None:
        rows = self.db.read(f"SELECT {self._COLUMNS} FROM login_sessions WHERE id_hash = ?", (id_hash,))
        return _login(rows[0]) if rows else None

    def list(self, account: str | None = None) -> list[LoginSession]:
        where, args = "expires_at > ?", [time.time()]
        if account is not None:
            where, args = where + " AND account = ?", args + [account]
        rows = self.db.read(f"SELECT {self._COLUMNS} FROM login_sessions WHERE {where} ORDER BY created_at DESC",
                            tuple(args))
        return [_login(r) for r in rows]

    def revoke(self, id_hash: str) -> bool:
        if self.get(id_hash) is None:
            return False
        self.db.write("DELETE FROM login_sessions WHERE id_hash = ?", (id_hash,), "a sign-out")
        return True

    def revoke_account(self, account: str) -> int:
        n = len(self.db.read("SELECT id_hash FROM login_sessions WHERE account = ?", (account,)))
        self.db.write("DELETE FROM login_sessions WHERE account = ?", (account,), "a sign-out")
        return n

    def remove_expired(self, now: float) -> int:
        n = len(self.db.read("SELECT id_hash FROM login_sessions WHERE expires_at <= ?", (now,)))
        if n:
            self.db.write("DELETE FROM login_sessions WHERE expires_at <= ?", (now,), "expired sign-ins")
        return n


def _token(r: sqlite3.Row) -> ApiToken:
    return ApiToken(r["id"], r["name"], r["role"], r["token_hash"], r["created_by"], r["created_at"],
                    r["last_used"], r["revoked_at"])


class SQLiteApiTokenStore(ApiTokenStore):
    _COLUMNS = "id, name, role, token_hash, created_by, created_at, last_used, revoked_at"

    def __init__(self, db: "SQLiteDatabase"):
        self.db = db

    def add(self, token: ApiToken) -> None:
        t = token
        _insert_new(self.db, f"INSERT INTO api_tokens ({self._COLUMNS}) VALUES (?,?,?,?,?,?,?,?)",
                    (t.id, t.name, t.role, t.token_hash, t.created_by, t.created_at, t.last_used, t.revoked_at),
                    "an API token")

    def find(self, token_hash: str) -> ApiToken | None:
        rows = self.db.read(f"SELECT {self._COLUMNS} FROM api_tokens WHERE token_hash = ? AND revoked_at IS NULL",
                            (token_hash,))
        return _token(rows[0]) if rows else None

    def list(self) -> list[ApiToken]:
        return [_token(r) for r in self.db.read(f"SELECT {self._COLUMNS} FROM api_tokens ORDER BY created_at DESC")]

    def revoke(self, token_id: str) -> bool:
        if not self.db.read("SELECT 1 FROM api_tokens WHERE id = ? AND revoked_at IS NULL", (token_id,)):
            return False
        self.db.write("UPDATE api_tokens SET revoked_at = ? WHERE id = ?", (time.time(), token_id), "an API token")
        return True

    def used(self, token_id: str, ts: float) -> None:
        self.db.write("UPDATE api_tokens SET last_used = ? WHERE id = ?", (ts, token_id), "an API token")


class SQLiteAuditLog(AuditLog):
    def __init__(self, db: "SQLiteDatabase"):
        self.db = db

    def append(self, entry: AuditEntry) -> int:
        e = entry
        return self.db.write(
            "INSERT INTO audit (ts, actor, role, ip, action, target, status, detail) VALUES (?,?,?,?,?,?,?,?)",
            (e.ts, e.actor, e.role, e.ip, e.action, e.target, e.status,
             json.dumps(e.detail, ensure_ascii=False, default=str)), "the audit log")

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
        rows = self.db.read(f"SELECT id, ts, actor, role, ip, action, target, status, detail FROM audit"
                            f" WHERE {' AND '.join(where)} ORDER BY ts DESC, id DESC LIMIT ?", (*args, limit))
        return [AuditEntry(r["ts"], r["actor"], r["role"], r["ip"], r["action"], r["target"], r["status"],
                           json.loads(r["detail"]), r["id"]) for r in rows]


def _site(r: sqlite3.Row) -> Site:
    return Site(r["id"], r["name"], tuple(json.loads(r["origins"])), r["secret"], r["created_at"], r["created_by"])


class SQLiteSiteStore(SiteStore):
    _COLUMNS = "id, name, origins, secret, created_at, created_by"

    def __init__(self, db: "SQLiteDatabase"):
        self.db = db

    def add(self, site: Site) -> None:
        s = site
        _insert_new(self.db, f"INSERT INTO sites ({self._COLUMNS}) VALUES (?,?,?,?,?,?)",
                    (s.id, s.name, json.dumps(list(s.origins)), s.secret, s.created_at, s.created_by), "a site")

    def get(self, site_id: str) -> Site | None:
        rows = self.db.read(f"SELECT {self._COLUMNS} FROM sites WHERE id = ?", (site_id,))
        return _site(rows[0]) if rows else None

    def list(self) -> list[Site]:
        return [_site(r) for r in self.db.read(f"SELECT {self._COLUMNS} FROM sites ORDER BY id")]

    def update(self, site_id: str, *, name: str | None = None, origins: tuple[str, ...] | None = None,
               secret: str | None = None, clear_secret: bool = False) -> bool:
        fields: dict[str, Any] = {}
        if name is not None:
            fields["name"] = name
        if origins is not None:
            fields["origins"] = json.dumps(list(origins))
        if secret is not None or clear_secret:
            fields["secret"] = None if clear_secret else secret
        return _set_fields(self.db, "sites", "id", site_id, fields, "a site")

    def delete(self, site_id: str) -> bool:
        if self.get(site_id) is None:
            return False
        self.db.write("DELETE FROM sites WHERE id = ?", (site_id,), "a site")
        return True
