"""The postgresql backend of who may change the KB: accounts, signed-in browsers, API tokens, the audit log, the
widget sites and sign-in attempts, as tables every replica shares (kb/state/migrations/0004_access_records.sql;
bot/state/postgres.py opens them with the rest).

Writes go through PgRecords.write: a full disk raises DiskFull, an unreachable server StateUnavailable, both
recorded in the storage's health. A record whose name or id is taken is refused with AlreadyExists (INSERT ...
ON CONFLICT DO NOTHING stored no row). The audit log is append-only: the database's triggers refuse UPDATE,
DELETE and TRUNCATE of it.
"""
from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import fields
from typing import TYPE_CHECKING, Any

from bot.state.access import (Account, AccountStore, AlreadyExists, ApiToken, ApiTokenStore, Attempts, AuditEntry,
                              AuditLog, LoginAttemptStore, LoginSession, LoginSessionStore, Site, SiteStore)
from kb.state.pg_db import LOCK_SPACE

if TYPE_CHECKING:  # pragma: no cover
    from bot.state.postgres import PgRecords

# The advisory lock's second key (kb/state/pg_db.py LOCK_SPACE) that replicas starting at once make the first
# account under.
FIRST_ACCOUNT_LOCK = 4


class _PgTable:
    """One table whose columns are a record dataclass's fields, in order, keyed by the first."""

    table: str
    record: type
    what: str  # names the operation in errors

    def __init__(self, records: "PgRecords"):
        self.records = records
        self.columns = [f.name for f in fields(self.record)]
        self.key = self.columns[0]

    def _row(self, record: Any) -> tuple:
        return tuple(getattr(record, c) for c in self.columns)

    def _record(self, row: tuple) -> Any:
        return self.record(*row)

    def _insert_sql(self) -> str:
        return f"INSERT INTO {self.table} ({', '.join(self.columns)}) VALUES ({', '.join(['%s'] * len(self.columns))})"

    def _insert(self, record: Any) -> None:
        stored = self.records.write(self.what, lambda conn: conn.execute(
            self._insert_sql() + " ON CONFLICT DO NOTHING", self._row(record)).rowcount)
        if not stored:
            raise AlreadyExists(f"已存在 / already exists: {getattr(record, self.key)}")

    def _select(self, where: str = "true", args: tuple = (), order: str = "") -> list[Any]:
        order = f" ORDER BY {order}" if order else ""
        rows = self.records.read(f"reading {self.table}",
                                 f"SELECT {', '.join(self.columns)} FROM {self.table} WHERE {where}{order}", args)
        return [self._record(r) for r in rows]

    def _get(self, value: str) -> Any | None:
        found = self._select(f"{self.key} = %s", (value,))
        return found[0] if found else None

    def _update(self, value: str, changes: dict[str, Any], where: str = "true") -> bool:
        """UPDATE the given columns of one row (where `where` holds too); whether there is such a row."""
        if not changes:
            return bool(self._select(f"{self.key} = %s AND {where}", (value,)))
        assignments = ", ".join(f"{name} = %s" for name in changes)
        return self.records.write(self.what, lambda conn: conn.execute(
            f"UPDATE {self.table} SET {assignments} WHERE {self.key} = %s AND {where}",
            (*changes.values(), value)).rowcount > 0)

    def _delete(self, where: str, args: tuple) -> int:
        return self.records.write(self.what, lambda conn: conn.execute(
            f"DELETE FROM {self.table} WHERE {where}", args).rowcount)


class PgAccountStore(_PgTable, AccountStore):
    table, record, what = "accounts", Account, "an account"

    def add(self, account: Account) -> None:
        self._insert(account)

    def add_first(self, account: Account) -> bool:
        """Under a transaction-scoped advisory lock: a replica that waited for it sees the account the one
        before it made (each statement of a READ COMMITTED transaction sees what was committed before it)."""
        def first(conn) -> bool:
            conn.execute("SELECT pg_advisory_xact_lock(%s, %s)", (LOCK_SPACE, FIRST_ACCOUNT_LOCK))
            return conn.execute(
                f"INSERT INTO accounts ({', '.join(self.columns)}) SELECT {', '.join(['%s'] * len(self.columns))}"
                " WHERE NOT EXISTS (SELECT 1 FROM accounts) ON CONFLICT DO NOTHING", self._row(account)).rowcount == 1

        return self.records.write("the first account", first)

    def get(self, name: str) -> Account | None:
        return self._get(name)

    def list(self) -> list[Account]:
        return self._select(order="name")

    def update(self, name: str, *, role: str | None = None, password_hash: str | None = None,
               disabled: bool | None = None, last_login: float | None = None) -> bool:
        changes = {k: v for k, v in (("role", role), ("password_hash", password_hash), ("disabled", disabled),
                                     ("last_login", last_login)) if v is not None}
        return self._update(name, changes)

    def delete(self, name: str) -> bool:
        return self._delete("name = %s", (name,)) > 0


class PgLoginSessionStore(_PgTable, LoginSessionStore):
    table, record, what = "login_sessions", LoginSession, "a sign-in"

    def add(self, session: LoginSession) -> None:
        self._insert(session)

    def get(self, id_hash: str) -> LoginSession | None:
        return self._get(id_hash)

    def list(self, account: str | None = None) -> list[LoginSession]:
        if account is None:
            return self._select("expires_at > %s", (time.time(),), "created_at DESC")
        return self._select("expires_at > %s AND account = %s", (time.time(), account), "created_at DESC")

    def revoke(self, id_hash: str) -> bool:
        return self._delete("id_hash = %s", (id_hash,)) > 0

    def revoke_account(self, account: str) -> int:
        return self._delete("account = %s", (account,))

    def remove_expired(self, now: float) -> int:
        return self._delete("expires_at <= %s", (now,))


class PgApiTokenStore(_PgTable, ApiTokenStore):
    table, record, what = "api_tokens", ApiToken, "an API token"

    def add(self, token: ApiToken) -> None:
        self._insert(token)

    def find(self, token_hash: str) -> ApiToken | None:
        found = self._select("token_hash = %s AND revoked_at IS NULL", (token_hash,))
        return found[0] if found else None

    def list(self) -> list[ApiToken]:
        return self._select(order="created_at DESC")

    def revoke(self, token_id: str) -> bool:
        return self._update(token_id, {"revoked_at": time.time()}, where="revoked_at IS NULL")

    def used(self, token_id: str, ts: float) -> None:
        self._update(token_id, {"last_used": ts})


class PgAuditLog(AuditLog):
    _INSERT = ("INSERT INTO audit (ts, actor, role, ip, action, target, status, detail)"
               " VALUES (%s, %s, %s, %s, %s, %s, %s, %s::jsonb)")
    _COLUMNS = "ts, actor, role, ip, action, target, status, detail, id"  # AuditEntry's fields, in order

    def __init__(self, records: "PgRecords"):
        self.records = records

    @staticmethod
    def _row(e: AuditEntry) -> tuple:
        return (e.ts, e.actor, e.role, e.ip, e.action, e.target, e.status,
                json.dumps(e.detail, ensure_ascii=False, default=str))

    def append(self, entry: AuditEntry) -> int:
        return self.records.write("the audit log", lambda conn: conn.execute(
            self._INSERT + " RETURNING id", self._row(entry)).fetchone()[0])

    def query(self, *, actor: str | None = None, action: str | None = None, since: float | None = None,
              until: float | None = None, limit: int = 1000) -> list[AuditEntry]:
        where, args = ["true"], []
        for clause, value in (("actor = %s", actor), ("ts >= %s", since), ("ts < %s", until)):
            if value is not None:
                where.append(clause)
                args.append(value)
        if action:  # a prefix, compared as text (LIKE would treat % and _ in it as wildcards)
            where.append("left(action, %s) = %s")
            args += [len(action), action]
        rows = self.records.read("reading the audit log", f"SELECT {self._COLUMNS} FROM audit"
                                 f" WHERE {' AND '.join(where)} ORDER BY ts DESC, id DESC LIMIT %s", (*args, limit))
        return [AuditEntry(*r) for r in rows]

    def rows(self) -> Iterator[AuditEntry]:
        return (AuditEntry(*r) for r in self.records.read(
            "reading the audit log", f"SELECT {self._COLUMNS} FROM audit ORDER BY id"))

    def insert(self, rows: list[AuditEntry]) -> None:
        self.records.write("the audit log", lambda conn: conn.cursor().executemany(
            self._INSERT, [self._row(e) for e in rows]))

    def counts(self) -> dict[str, int]:
        return {"audit": self.records.read("counting the audit log", "SELECT count(*) FROM audit")[0][0]}


class PgSiteStore(_PgTable, SiteStore):
    """The origins as a text[] column."""

    table, record, what = "sites", Site, "a site"

    def _row(self, record: Site) -> tuple:
        return tuple(list(record.origins) if c == "origins" else getattr(record, c) for c in self.columns)

    def _insert_sql(self) -> str:
        values = ", ".join("%s::text[]" if c == "origins" else "%s" for c in self.columns)
        return f"INSERT INTO sites ({', '.join(self.columns)}) VALUES ({values})"

    def _record(self, row: tuple) -> Site:
        site = dict(zip(self.columns, row))
        return Site(**{**site, "origins": tuple(site["origins"])})

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
            changes["origins"] = list(origins)
        if secret is not None or clear_secret:
            changes["secret"] = None if clear_secret else secret
        return self._update(site_id, changes)

    def delete(self, site_id: str) -> bool:
        return self._delete("id = %s", (site_id,)) > 0


class PgLoginAttemptStore(LoginAttemptStore):
    """A key's change holds its row locked (SELECT ... FOR UPDATE) until it commits: a change on another
    replica waits for it, then reads what it stored."""

    _FIGURES = "failures, lockouts, locked_until, tokens, taken_at"

    def __init__(self, records: "PgRecords"):
        self.records = records

    def get(self, key: str) -> Attempts:
        rows = self.records.read("reading sign-in attempts",
                                 f"SELECT {self._FIGURES} FROM login_attempts WHERE key = %s", (key,))
        return Attempts(*rows[0]) if rows else Attempts()

    def change(self, key: str, change: Callable[[Attempts], Attempts]) -> Attempts:
        def run(conn) -> Attempts:
            now = time.time()
            conn.execute("INSERT INTO login_attempts (key, updated) VALUES (%s, %s) ON CONFLICT DO NOTHING", (key, now))
            row = conn.execute(f"SELECT {self._FIGURES} FROM login_attempts WHERE key = %s FOR UPDATE",
                               (key,)).fetchone()
            new = change(Attempts(*row))
            conn.execute("UPDATE login_attempts SET failures = %s, lockouts = %s, locked_until = %s, tokens = %s,"
                         " taken_at = %s, updated = %s WHERE key = %s",
                         (new.failures, new.lockouts, new.locked_until, new.tokens, new.taken_at, now, key))
            return new

        return self.records.write("sign-in attempts", run)

    def remove_stale(self, before: float, now: float) -> int:
        return self.records.write("sign-in attempts", lambda conn: conn.execute(
            "DELETE FROM login_attempts WHERE updated < %s AND locked_until <= %s", (before, now)).rowcount)
