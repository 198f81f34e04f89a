"""`kb migrate`: the database's schema migrations, and `kb migrate --to postgresql://...` moving an install's
records into another backend through the stores' own interfaces (kb.state.Portable), store by store:
COPIED lists them, so a new store is copied by adding its line (a version embedded with a model tuned on the
labels brings that model along: kb/state/pg_models.py). Jobs, conversations, sign-ins and sign-in
attempts are not copied (they live minutes or hours: editors sign in again on the new backend); the copy is
refused into a target that holds records already, and checked after: every store must hold as many records
as its source.
"""
from __future__ import annotations

import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pydantic import SecretStr

from bot.state import AppState, open_app_state
from kb.settings import Settings
from kb.state import Content, Portable, open_content
from kb.version import tuned_record

# (name, the store of that name in a backend's content and records)
COPIED: list[tuple[str, Callable[[Content, AppState], Portable]]] = [
    ("documents", lambda content, records: content.documents),
    ("dictionary", lambda content, records: content.dictionary),
    ("versions", lambda content, records: content.versions),
    ("labels", lambda content, records: content.labels),
    ("calibration", lambda content, records: content.calibration),
    ("feedback", lambda content, records: records.feedback),
    ("ask log", lambda content, records: records.asks),
    ("review decisions", lambda content, records: records.decisions),
    ("accounts", lambda content, records: records.accounts),
    ("API tokens", lambda content, records: records.tokens),
    ("audit log", lambda content, records: records.audit),
    ("sites", lambda content, records: records.sites),
]


class MigrationRefused(RuntimeError):
    """The copy cannot start (the target is not empty), or ended with unequal counts."""


@dataclass(frozen=True)
class Copied:
    store: str
    source: int  # records in the source store
    target: int  # records in the target store after the copy


@dataclass
class Backend:
    """One side of a copy: both halves of a backend's state, opened together."""

    content: Content
    records: AppState

    @classmethod
    def open(cls, settings: Settings) -> "Backend":
        content = open_content(settings)
        try:
            return cls(content, open_app_state(settings))
        except BaseException:
            content.close()
            raise

    def store(self, pick: Callable[[Content, AppState], Portable]) -> Portable:
        return pick(self.content, self.records)

    def close(self) -> None:
        self.records.close()
        self.content.close()


def copy_install(source: Settings, target_url: str, report: Callable[[Copied], None] = lambda c: None
                 ) -> list[Copied]:
    """Copy every store of COPIED from `source`'s backend into the (migrated, empty) database at
    `target_url`. The target's versions are cached in a temporary folder while they are copied."""
    with tempfile.TemporaryDirectory(prefix="kb-migrate-", dir=_existing(source.root)) as cache:
        target = settings_on(source, target_url, Path(cache))
        _link_tuned_models(source, target)
        src, dst = Backend.open(source), Backend.open(target)
        try:
            held = [name for name, pick in COPIED if dst.store(pick).count()]
            if held:
                raise MigrationRefused(f"目标数据库已有数据，未复制 / the target database already holds "
                                       f"{', '.join(held)}: nothing was copied (use an empty database)")
            done = []
            for name, pick in COPIED:
                from_store, to_store = src.store(pick), dst.store(pick)
                to_store.import_records(from_store.export_records())
                done.append(Copied(name, from_store.count(), to_store.count()))
                report(done[-1])
        finally:
            dst.close()
            src.close()
    unequal = [c for c in done if c.source != c.target]
    if unequal:
        raise MigrationRefused("复制后数量不一致 / counts differ after the copy: "
                               + ", ".join(f"{c.store} {c.source} -> {c.target}" for c in unequal))
    return done


def _link_tuned_models(source: Settings, target: Settings) -> None:
    """The source's tuned models seen from the target's models folder: publishing a version embedded with one
    stores the model in the database from there (kb/state/pg_models.py)."""
    if not source.models_dir.is_dir():
        return
    target.models_dir.mkdir(parents=True, exist_ok=True)
    for folder in source.models_dir.iterdir():
        if tuned_record(folder) is not None:
            (target.models_dir / folder.name).symlink_to(folder.resolve(), target_is_directory=True)


def settings_on(settings: Settings, url: str, data_dir: Path) -> Settings:
    """`settings` with another database, and another data folder (a cache for its versions)."""
    return Settings.model_validate({**settings.model_dump(), "database_url": SecretStr(url), "data_dir": data_dir})


def _existing(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def run_migrate(settings: Settings, to: str | None) -> int:
    """`kb migrate [--to URL]`: apply the database's schema migrations; with `to`, copy this install there."""
    from kb.state import POSTGRESQL, backend, database_url
    from kb.state.pg_db import is_postgres_url, migrate

    if to:
        if not is_postgres_url(to):
            print("error: --to takes a postgresql://user@host:port/database URL", file=sys.stderr)
            return 2
        applied = migrate(to)
        print(f"schema: {len(applied)} migrations applied ({', '.join(applied) or 'up to date'})")
        print(f"{'store':<12}{'source':>10}{'target':>10}")
        try:
            copy_install(settings, to, report=lambda c: print(f"{c.store:<12}{c.source:>10}{c.target:>10}"))
        except MigrationRefused as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        print("copied: every store holds as many records as its source")
        return 0
    if backend(settings) != POSTGRESQL:
        print("KB_DATABASE_URL is unset: the embedded backend creates its files at start; nothing to migrate "
              "(`kb migrate --to postgresql://...` copies this install into PostgreSQL)")
        return 0
    applied = migrate(database_url(settings))
    print(f"schema: {len(applied)} migrations applied ({', '.join(applied) or 'up to date'})")
    return 0
