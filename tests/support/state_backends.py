"""Every state backend the contract tests run (tests/kb/test_state_contract.py,
tests/kb/test_label_store_contract.py, tests/bot/test_app_state_contract.py, tests/bot/test_access_state_contract.py,
tests/bot/test_sign_in_guard.py; the `state_backend` fixture in tests/conftest.py): the same assertions for each, so a
new backend is tested by adding it here.

A backend is the settings that choose it: `settings(tmp_path, **overrides)` must give a fresh, empty store
for every test (a remote backend: a database or schema of the test's own), and the same store each time it
is called with the same tmp_path (a second process, a restart).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pydantic import SecretStr

from kb.settings import Settings


@dataclass(frozen=True)
class Backend:
    name: str
    settings: Callable[..., Settings]  # (tmp_path, **overrides) -> Settings choosing this backend


def _embedded(tmp_path: Path, **overrides) -> Settings:
    return Settings(data_dir=tmp_path / "data", docs_dirs=[], **overrides)


def _postgresql(tmp_path: Path, **overrides) -> Settings:
    """A database of the test's own on the session's PostgreSQL server (tests/support/postgres.py)."""
    from tests.support.postgres import database_for

    return Settings(data_dir=tmp_path / "data", docs_dirs=[], database_url=SecretStr(database_for(tmp_path)),
                    **overrides)


BACKENDS = [Backend("embedded", _embedded), Backend("postgresql", _postgresql)]
