"""The service's own records behind small interfaces (base.py), one file per backend, chosen by
KB_DATABASE_URL as kb/state chooses the KB's (kb.state.backend).

    unset          sqlite.py: app.sqlite in the data folder, the job lock an flock beside it
    postgresql://  postgres.py: tables in PostgreSQL, the job lock an advisory lock
"""
from __future__ import annotations

from bot.state.base import AppState, AskLog, FeedbackStore, JobLock, JobStore
from kb.settings import Settings
from kb.state import POSTGRESQL, backend, database_url

__all__ = ["AppState", "AskLog", "FeedbackStore", "JobLock", "JobStore", "open_app_state"]


def open_app_state(settings: Settings) -> AppState:
    """The records of the backend KB_DATABASE_URL chooses (kb.state.UnsupportedDatabaseURL for one there is
    none of)."""
    if backend(settings) == POSTGRESQL:
        from bot.state.postgres import PgAppState

        return PgAppState(database_url(settings))
    from bot.state.sqlite import SQLiteAppState

    return SQLiteAppState(settings.app_db)
