"""Who may change the KB and who tried to: the access records as small interfaces, each backend implementing
them all (bot/state/sqlite_access.py, bot/state/pg_access.py).

    AccountStore    editors' accounts: name, role, password hash (bot/auth)
    LoginSessionStore  signed-in browsers of the admin page (the cookie's hash), revocable
    ApiTokenStore   API tokens for automation, stored hashed, each with a role
    AuditLog        every admin action, append-only
    SiteStore       sites that embed the widget: allowed origins and the secret their tokens are signed with
    LoginAttemptStore  sign-in attempts per address and name: the rate limit and the lockout (bot/auth/sessions.py)

Accounts, API tokens, the audit log and sites are `Portable` (kb/state/base.py): what `kb migrate --to` copies;
sign-ins and sign-in attempts are transient and are not. Errors as in bot/state/base.py.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, fields
from typing import Any

from bot.state.base import RowRecords
from kb.state import Portable


class AlreadyExists(ValueError):
    """A record with that name or id is stored already."""


class ListedRecords(Portable):
    """A store of dataclass records (`record_type`) that `list()` gives whole and `add()` stores as given:
    exported as `asdict(record)`, imported one `add` at a time."""

    record_type: type

    @abstractmethod
    def add(self, record: Any) -> None: ...

    @abstractmethod
    def list(self) -> list[Any]: ...

    def count(self) -> int:
        return len(self.list())

    def export_records(self) -> Iterator[dict]:
        return (asdict(record) for record in self.list())

    def import_records(self, records: Iterable[dict]) -> int:
        n = 0
        for record in records:
            self.add(self.record_type(**record))
            n += 1
        return n


@dataclass(frozen=True)
class Account:
    name: str
    role: str  # viewer, editor or admin (bot/auth/roles.py)
    password_hash: str  # argon2 (bot/auth/passwords.py); never the password
    created_at: float
    disabled: bool = False
    last_login: float | None = None


class AccountStore(ListedRecords):
    record_type = Account

    @abstractmethod
    def add(self, account: Account) -> None:
        """Store a new account; AlreadyExists for a taken name."""

    @abstractmethod
    def add_first(self, account: Account) -> bool:
        """Store `account` only while there is no account at all (one statement: of several processes
        starting at once, one creates it); whether it was stored."""

    @abstractmethod
    def get(self, name: str) -> Account | None: ...

    @abstractmethod
    def list(self) -> list[Account]:
        """Every account, by name."""

    @abstractmethod
    def update(self, name: str, *, role: str | None = None, password_hash: str | None = None,
               disabled: bool | None = None, last_login: float | None = None) -> bool:
        """Change the given fields; False when there is no such account."""

    @abstractmethod
    def delete(self, name: str) -> bool: ...


@dataclass(frozen=True)
class LoginSession:
    id_hash: str  # sha256 of the cookie's value: the stored record cannot be replayed as a cookie
    account: str
    csrf: str  # what the page sends back in X-CSRF-Token on every write
    created_at: float
    expires_at: float
    ip: str
    user_agent: str


class LoginSessionStore(ABC):
    @abstractmethod
    def add(self, session: LoginSession) -> None: ...

    @abstractmethod
    def get(self, id_hash: str) -> LoginSession | None:
        """The session, expired or not (the caller checks `expires_at`)."""

    @abstractmethod
    def list(self, account: str | None = None) -> list[LoginSession]:
        """Sessions not yet expired, newest first (one account's, or everyone's)."""

    @abstractmethod
    def revoke(self, id_hash: str) -> bool: ...

    @abstractmethod
    def revoke_account(self, account: str) -> int:
        """End every session of an account (a new password, a disabled account); how many."""

    @abstractmethod
    def remove_expired(self, now: float) -> int: ...


@dataclass(frozen=True)
class ApiToken:
    id: str  # public, shown in lists; the token itself is only shown once, when made
    name: str
    role: str
    token_hash: str  # sha256 of the token (256 random bits: a fast hash is enough to find it, not to guess it)
    created_by: str
    created_at: float
    last_used: float | None = None
    revoked_at: float | None = None


class ApiTokenStore(ListedRecords):
    record_type = ApiToken

    @abstractmethod
    def add(self, token: ApiToken) -> None: ...

    @abstractmethod
    def find(self, token_hash: str) -> ApiToken | None:
        """The token with that hash, unless revoked."""

    @abstractmethod
    def list(self) -> list[ApiToken]:
        """Every token, revoked ones too, newest first."""

    @abstractmethod
    def revoke(self, token_id: str) -> bool:
        """False when there is no such token or it was revoked already."""

    @abstractmethod
    def used(self, token_id: str, ts: float) -> None: ...


@dataclass(frozen=True)
class AuditEntry:
    ts: float
    actor: str  # an account's name, "token:<name>", "KB_ADMIN_TOKEN", or the name tried at a failed login
    role: str | None
    ip: str
    action: str  # e.g. "POST /v1/admin/documents", "login", "login.failed"
    target: str  # what it acted on: a document, an account, a token id ("" when nothing in particular)
    status: int  # the HTTP status it was answered with
    detail: dict[str, Any]
    id: int | None = None


class AuditLog(RowRecords):
    """Append-only: nothing updates or deletes an entry (both backends refuse it with triggers). Exported
    oldest first without the ids (the target numbers its entries anew, in the same order)."""

    row_type = AuditEntry
    count_key = "audit"

    @abstractmethod
    def append(self, entry: AuditEntry) -> int:
        """Store one entry (committed when this returns); its id."""

    def exported(self, row: AuditEntry) -> dict:
        return {f.name: getattr(row, f.name) for f in fields(row) if f.name != "id"}

    @abstractmethod
    def query(self, *, actor: str | None = None, action: str | None = None, since: float | None = None,
              until: float | None = None, limit: int = 1000) -> list[AuditEntry]:
        """Entries newest first; `action` matches as a prefix, `actor` exactly."""


@dataclass(frozen=True)
class Site:
    id: str  # the `aud` of its widget tokens
    name: str
    origins: tuple[str, ...]  # where its pages are: allowed to call the API (CORS)
    secret: str | None  # the HS256 key its backend signs widget tokens with; None = anonymous widget only
    created_at: float
    created_by: str


class SiteStore(ListedRecords):
    record_type = Site

    @abstractmethod
    def add(self, site: Site) -> None:
        """AlreadyExists for a taken id."""

    @abstractmethod
    def get(self, site_id: str) -> Site | None: ...

    @abstractmethod
    def list(self) -> list[Site]:
        """Every site, by id."""

    @abstractmethod
    def update(self, site_id: str, *, name: str | None = None, origins: tuple[str, ...] | None = None,
               secret: str | None = None, clear_secret: bool = False) -> bool: ...

    @abstractmethod
    def delete(self, site_id: str) -> bool: ...


@dataclass(frozen=True)
class Attempts:
    """What is known of one key's sign-in attempts (a key: 'ip:<address>' or 'name:<account name>')."""

    failures: int = 0  # wrong passwords in a row since the last lockout or success
    lockouts: int = 0  # lockouts so far (each lasts twice as long as the one before)
    locked_until: float = 0.0  # Unix time
    tokens: float | None = None  # the address's rate-limit bucket; None: full
    taken_at: float = 0.0  # Unix time the bucket was last taken from


class LoginAttemptStore(ABC):
    """Sign-in attempts per key, seen by every process that uses the store (with PostgreSQL, every replica):
    the policy is bot/auth/sessions.py's LoginGuard, the store only keeps the figures."""

    @abstractmethod
    def get(self, key: str) -> Attempts:
        """The key's figures (`Attempts()` for a key never seen)."""

    @abstractmethod
    def change(self, key: str, change: Callable[[Attempts], Attempts]) -> Attempts:
        """Store `change(current)` in a transaction no other change of the same key interleaves with (in any
        process: `change` sees the figures the last one stored); the new figures."""

    @abstractmethod
    def remove_stale(self, before: float, now: float) -> int:
        """Forget keys not changed since `before` and not locked out at `now`; how many."""
