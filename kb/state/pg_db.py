"""PostgreSQL connections for the postgresql backend (kb/state/postgres.py, bot/state/postgres.py).

    Database.transaction()    a pooled connection for one transaction (committed when the block ends)
    Database.dedicated()      a connection of its own, for what lasts as long as a session: an advisory
                              lock (re-entrant per session, so each holder needs its own), LISTEN
    Listener                  LISTEN on such a connection, and waiting for a NOTIFY
    migrate(url)              the numbered schema files of kb/state/migrations, each applied once, in order

A database that cannot be reached (down, restarting, every pooled connection busy past the timeout) raises
`StateUnavailable`; one whose disk is full (SQLSTATE 53100) raises `DatabaseFull`, an OSError with ENOSPC,
which the service answers as any full disk (507). psycopg is imported here only: the embedded backend needs
none of it (the `postgres` dependency group).
"""
from __future__ import annotations

import contextlib
import errno
import logging
import re
import threading
from collections.abc import Iterator
from importlib import resources

from kb.state.base import StateUnavailable

log = logging.getLogger(__name__)

SCHEMES = ("postgresql://", "postgres://")
MIGRATIONS = "migrations"  # package folder of kb.state: NNNN_name.sql
DISK_FULL_SQLSTATE = "53100"
POOL_TIMEOUT_SECONDS = 3.0  # how long a statement waits for a connection before the request gets a 503
# A lock's holder whose machine vanishes (no FIN) is noticed by TCP keepalives: ~10 + 3 * 5 s.
KEEPALIVES = {"keepalives": 1, "keepalives_idle": 10, "keepalives_interval": 5, "keepalives_count": 3}
# Two-key advisory locks: this product's key space, then one key per lock.
LOCK_SPACE = 0x6B62  # "kb"
MIGRATION_LOCK = 1
_MIGRATION_FILE = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


class SchemaOutOfDate(RuntimeError):
    """The database's schema is older (or newer) than this build's migrations."""


class DatabaseFull(OSError):
    """The database's disk is full (SQLSTATE 53100): nothing was stored."""

    def __init__(self, what: str):
        super().__init__(errno.ENOSPC, f"数据库磁盘已满 / the database's disk is full ({what})")


def is_postgres_url(url: str) -> bool:
    return url.startswith(SCHEMES)


def _psycopg():
    try:
        import psycopg
        import psycopg_pool
    except ImportError as e:  # pragma: no cover - the embedded install has no psycopg
        raise RuntimeError("KB_DATABASE_URL names PostgreSQL but psycopg is not installed: "
                           "pip install 'kefu-kb[postgres]'") from e
    return psycopg, psycopg_pool


def unavailable_errors() -> tuple[type[BaseException], ...]:
    """The exceptions that mean the server could not be reached or went away mid-statement."""
    psycopg, psycopg_pool = _psycopg()
    return psycopg.OperationalError, psycopg.InterfaceError, psycopg_pool.PoolTimeout


@contextlib.contextmanager
def translated_errors(what: str) -> Iterator[None]:
    """psycopg's errors as this package's: a full disk as DatabaseFull, a lost server as StateUnavailable."""
    try:
        yield
    except unavailable_errors() as e:
        if getattr(e, "sqlstate", None) == DISK_FULL_SQLSTATE:
            raise DatabaseFull(what) from e
        raise StateUnavailable(what) from e


class Database:
    """A connection pool on one database URL, opened lazily: a server that is down when the process starts
    is connected to when it comes back."""

    @classmethod
    def checked(cls, url: str, name: str) -> "Database":
        """A pool whose database has this build's schema (SchemaOutOfDate otherwise, the pool closed)."""
        db = cls(url, name=name)
        try:
            db.check_schema()
        except BaseException:
            db.close()
            raise
        return db

    def __init__(self, url: str, max_size: int = 8, name: str = "kefu-kb"):
        psycopg, psycopg_pool = _psycopg()
        self.url = url
        self.name = name
        # reconnect_timeout=0: a failed connection attempt is given up at once instead of retried with a
        # growing backoff; the next request that needs a connection tries again, so a server that comes
        # back is used at once (the drill in tests/service/test_cluster.py). check: a pooled connection
        # that a restarted server dropped is replaced before it is handed out.
        self.pool = psycopg_pool.ConnectionPool(
            url, min_size=1, max_size=max_size, open=False, timeout=POOL_TIMEOUT_SECONDS, name=name,
            kwargs={"application_name": name, "connect_timeout": 5, **KEEPALIVES},
            check=psycopg_pool.ConnectionPool.check_connection, reconnect_timeout=0)
        self.pool.open(wait=False)

    @contextlib.contextmanager
    def transaction(self, what: str, timeout: float | None = None) -> Iterator:
        """A pooled connection inside one transaction: committed when the block ends, rolled back if it
        raises. `what` names the operation in errors."""
        with translated_errors(what):
            with self.pool.connection(timeout=timeout) as conn:
                yield conn

    def dedicated(self, what: str, application_name: str | None = None):
        """A new autocommit connection of its own (the caller closes it)."""
        psycopg, _ = _psycopg()
        with translated_errors(what):
            return psycopg.connect(self.url, autocommit=True, connect_timeout=5,
                                   application_name=application_name or self.name, **KEEPALIVES)

    def check_schema(self) -> None:
        """SchemaOutOfDate unless every migration of this build is applied; an unreachable server is only
        logged (the stores raise StateUnavailable until it is back)."""
        try:
            applied = applied_migrations(self)
        except StateUnavailable as e:
            log.warning("cannot check the database schema now: %s", e)
            return
        wanted = [number for number, _, _ in migration_files()]
        if applied != wanted:
            raise SchemaOutOfDate(
                f"数据库结构不是最新的，请运行 kb migrate / the database schema is at migration "
                f"{applied[-1] if applied else 'none'}, this build needs {wanted[-1]}: run `kb migrate`")

    def close(self) -> None:
        self.pool.close()


class Listener:
    """LISTEN on a connection of its own, opened at the first use and again after the server was lost."""

    def __init__(self, db: Database, channel: str, application_name: str):
        self.db, self.channel, self.application_name = db, channel, application_name
        self._conn = None
        self._lock = threading.Lock()

    def listen(self):
        """Listening from now on (a NOTIFY committed after this returns is delivered to `wait`)."""
        with self._lock:
            if self._conn is None:
                conn = self.db.dedicated(f"listening on {self.channel}", application_name=self.application_name)
                with translated_errors(f"listening on {self.channel}"):
                    conn.execute(f"LISTEN {self.channel}")
                self._conn = conn
            return self._conn

    def wait(self, timeout: float) -> None:
        """Until a NOTIFY on the channel or `timeout` seconds; StateUnavailable if the server went away."""
        conn = self.listen()
        try:
            with translated_errors(f"waiting on {self.channel}"):
                for _ in conn.notifies(timeout=timeout, stop_after=1):
                    pass
        except StateUnavailable:
            self.close()
            raise

    def close(self) -> None:
        with self._lock:
            conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()


def migration_files() -> list[tuple[int, str, str]]:
    """(number, file name, SQL) of every migration this build has, in order."""
    folder = resources.files("kb.state").joinpath(MIGRATIONS)
    out = []
    for entry in folder.iterdir():
        m = _MIGRATION_FILE.match(entry.name)
        if m:
            out.append((int(m.group(1)), entry.name, entry.read_text("utf-8")))
    out.sort()
    numbers = [n for n, _, _ in out]
    if numbers != list(range(1, len(out) + 1)):
        raise RuntimeError(f"migrations must be numbered 0001, 0002, ... without gaps: {numbers}")
    return out


def applied_migrations(db: Database) -> list[int]:
    with db.transaction("reading the schema version") as conn:
        exists = conn.execute("SELECT to_regclass('schema_migrations') IS NOT NULL").fetchone()[0]
        if not exists:
            return []
        return [row[0] for row in conn.execute("SELECT number FROM schema_migrations ORDER BY number")]


def migrate(url: str) -> list[str]:
    """Apply the migrations the database lacks, each in its own transaction, under an advisory lock (two
    replicas started at once apply each migration once). Returns the files applied."""
    db = Database(url, max_size=1, name="kefu-kb-migrate")
    conn = db.dedicated("migrating the schema")
    applied_now: list[str] = []
    try:
        conn.execute("SELECT pg_advisory_lock(%s, %s)", (LOCK_SPACE, MIGRATION_LOCK))
        conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations (number integer PRIMARY KEY, name text NOT NULL,"
                     " applied_at timestamptz NOT NULL DEFAULT now())")
        done = {row[0] for row in conn.execute("SELECT number FROM schema_migrations")}
        for number, name, sql in migration_files():
            if number in done:
                continue
            with conn.transaction():
                conn.execute(sql)
                conn.execute("INSERT INTO schema_migrations (number, name) VALUES (%s, %s)", (number, name))
            applied_now.append(name)
    finally:
        conn.close()  # the advisory lock goes with the session
        db.close()
    return applied_now
