"""The KB's shared state behind small interfaces (base.py), one file per backend, chosen by KB_DATABASE_URL.

    unset          embedded.py: files in the data folder, conversations in memory (one machine)
    postgresql://  postgres.py, pg_versions.py: everything in PostgreSQL, versions cached in the data folder
                   (several replicas; pg_db.py: the connection pool, the migrations run by `kb migrate`)

`open_content(settings)` opens the stores the KB and ingest use; the service's own records (ask log,
feedback, jobs) are bot/state's, chosen the same way.
"""
from __future__ import annotations

from kb.settings import Settings
from kb.state.base import (Content, DictionaryStore, DocumentStore, Portable, SessionStore, StateUnavailable,
                           StoredDocument, VersionRegistry)
from kb.state.label_stores import CalibrationStore, LabelStore, StoredLabels

__all__ = ["EMBEDDED", "POSTGRESQL", "CalibrationStore", "Content", "DictionaryStore", "DocumentStore", "LabelStore",
           "Portable", "SessionStore", "StateUnavailable", "StoredDocument", "StoredLabels", "UnsupportedDatabaseURL",
           "VersionRegistry", "backend", "database_url", "open_content"]

EMBEDDED = "embedded"
POSTGRESQL = "postgresql"
SUPPORTED = ("leave KB_DATABASE_URL unset for the embedded backend (files and SQLite under KB_DATA_DIR), or "
             "postgresql://user:password@host:port/database for PostgreSQL")


class UnsupportedDatabaseURL(ValueError):
    """KB_DATABASE_URL names a backend this build does not have."""


def database_url(settings: Settings) -> str:
    """KB_DATABASE_URL as set ("" when unset)."""
    return settings.database_url.get_secret_value().strip() if settings.database_url is not None else ""


def backend(settings: Settings) -> str:
    """The backend KB_DATABASE_URL chooses; UnsupportedDatabaseURL for one there is none of."""
    from kb.state.pg_db import is_postgres_url

    url = database_url(settings)
    if not url:
        return EMBEDDED
    if is_postgres_url(url):
        return POSTGRESQL
    scheme = url.split("://", 1)[0] if "://" in url else "(no scheme)"
    # Only the scheme is named: the rest of a URL may hold a password.
    raise UnsupportedDatabaseURL(f"不支持的数据库地址 / unsupported database URL: KB_DATABASE_URL={scheme}://…; "
                                 f"supported: {SUPPORTED}")


def open_content(settings: Settings) -> Content:
    """The stores of the backend KB_DATABASE_URL chooses (raises UnsupportedDatabaseURL before opening
    anything)."""
    if backend(settings) == POSTGRESQL:
        from kb.state.postgres import open_postgres

        return open_postgres(settings, database_url(settings))
    from kb.state.embedded import open_embedded

    return open_embedded(settings)
