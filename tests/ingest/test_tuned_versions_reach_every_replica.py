"""A version embedded with a model tuned on the labels, on PostgreSQL: publishing stores the model in the
database, a replica with a data folder of its own fetches it with the version and answers with it, a damaged
chunk is refused without leaving anything behind, the model goes when no kept version names it, and
`kb migrate --to` carries it along. Real PostgreSQL, the real tuned model (tests/conftest.py `tuned_model`)."""
from __future__ import annotations

import time

import pytest
from pydantic import SecretStr

from bot.cli import main
from ingest.pipeline import build_version
from kb.encoders import model_fingerprint
from kb.knowledge_base import KnowledgeBase
from kb.settings import Settings
from kb.state import open_content
from kb.state.pg_db import Database
from kb.state.pg_files import FileCorrupt
from kb.version import tuned_record
from tests.support.postgres import database_for
from tests.support.tuning import NAME, copy_kb

QUESTION = "客户投诉时先做什么"


def _replica(settings, data_dir, **changes):
    """Settings of another replica: the same database and model settings, a data folder of its own."""
    return Settings.model_validate({**settings.model_dump(), "data_dir": data_dir, **changes})


def _model_rows(url: str) -> list[tuple[str, bool]]:
    db = Database(url, max_size=1, name="kefu-kb-test")
    try:
        with db.transaction("reading models") as conn:
            return conn.execute("SELECT name, complete FROM models ORDER BY name").fetchall()
    finally:
        db.close()


@pytest.fixture()
def builder(tmp_path, small_settings, small_build, tuned_model):
    """A replica holding the tuned model (as the one that ran `kb tune`), on a database of its own, that has
    published a version embedded with it."""
    url = database_for(tmp_path)
    settings = copy_kb(small_settings, tmp_path / "a", tuned_model, database_url=SecretStr(url), keep_versions=2)
    report = build_version(settings, tuned_model=NAME, force=True)
    return settings, url, report


def test_a_replica_fetches_the_tuned_model_with_the_version_and_answers_with_it(builder, tmp_path, tuned_model):
    settings, url, report = builder
    assert _model_rows(url) == [(NAME, True)]
    other = _replica(settings, tmp_path / "b")
    started = time.perf_counter()
    kb = KnowledgeBase.open(other)
    fetched_in = time.perf_counter() - started
    try:
        folder = other.models_dir / NAME
        assert tuned_record(folder) == tuned_record(tuned_model) and not folder.is_symlink()
        assert sorted(p.relative_to(folder) for p in folder.rglob("*")) == \
            sorted(p.relative_to(tuned_model) for p in tuned_model.rglob("*"))
        assert kb.version_id == report.version_id
        assert kb.encoder.fingerprint == model_fingerprint(str(tuned_model))
        here = KnowledgeBase.open(settings)
        try:
            assert [c.row for c in kb.search(QUESTION, k=5).candidates] == \
                [c.row for c in here.search(QUESTION, k=5).candidates]
        finally:
            here.close()
    finally:
        kb.close()
    assert not [p for p in other.models_dir.iterdir() if p.name.startswith(".")]  # no download left
    print(f"\nfetched the version and its {sum(p.stat().st_size for p in folder.rglob('*') if p.is_file()) >> 20}"
          f" MB model in {fetched_in:.1f} s")


def test_a_damaged_model_chunk_is_refused_and_leaves_nothing(builder, tmp_path):
    settings, url, _ = builder
    db = Database(url, max_size=1, name="kefu-kb-test")
    try:
        with db.transaction("damaging a chunk") as conn:
            conn.execute("UPDATE model_chunks SET data = 'x'::bytea || data WHERE (model, path, seq) IN"
                         " (SELECT model, path, seq FROM model_chunks ORDER BY path, seq LIMIT 1)")
    finally:
        db.close()
    other = _replica(settings, tmp_path / "c")
    content = open_content(other)
    try:
        with pytest.raises(FileCorrupt, match="sha256"):
            content.versions.current_folder()
    finally:
        content.close()
    assert [p.name for p in other.models_dir.glob("*") if p.name != ".tune.lock"] == []  # nothing half-fetched


def test_the_model_goes_with_the_last_version_that_names_it(builder, tmp_path):
    settings, url, _ = builder
    other = _replica(settings, tmp_path / "d")
    content = open_content(other)
    try:
        content.versions.current_folder()
        assert (other.models_dir / NAME).is_dir()
        for _ in range(2):  # keep_versions=2: the tuned version is pruned by the second base-model build
            build_version(settings, base_model=True, force=True)
        assert _model_rows(url) == []
        removed = content.versions.cleanup(other.keep_versions)
        assert NAME in removed and not (other.models_dir / NAME).exists()
    finally:
        content.close()


def test_kb_migrate_carries_a_tuned_version_and_its_model(tmp_path, small_settings, small_build, tuned_model, capsys):
    source = copy_kb(small_settings, tmp_path / "embedded", tuned_model)
    build_version(source, tuned_model=NAME, force=True)
    url = database_for(tmp_path / "target")
    assert main(["--data-dir", str(source.data_dir), "migrate", "--to", url]) == 0
    assert "every store holds as many records as its source" in capsys.readouterr().out
    assert _model_rows(url) == [(NAME, True)]
    replica = _replica(source, tmp_path / "replica", database_url=SecretStr(url))
    kb = KnowledgeBase.open(replica)
    try:
        assert kb.manifest["tuned_model"] == NAME and kb.encoder.fingerprint.startswith("tuned:")
        assert kb.search(QUESTION, k=1).candidates
    finally:
        kb.close()
    assert (source.models_dir / NAME).is_symlink()  # the source's model is untouched

def test_a_model_staged_by_a_build_is_fetched_before_its_version_is_published(tmp_path, small_settings,
                                                                             small_build, tuned_model):
    """A build embedding with a tuned model stores and announces it first: a replica waiting for versions
    fetches it meanwhile, so the swap to the version does not wait for the model's download."""
    url = database_for(tmp_path)
    builder = copy_kb(small_settings, tmp_path / "a", tuned_model, database_url=SecretStr(url))
    other = _replica(builder, tmp_path / "b")
    building, waiting = open_content(builder), open_content(other)
    try:
        assert waiting.versions.wait_for_publish(0.1) is None  # listening from now on
        with building.versions.build_lock():
            building.versions.stage_model(NAME)
            started = time.perf_counter()
            assert waiting.versions.wait_for_publish(30) is None  # woken by the announcement; nothing published
            assert time.perf_counter() - started < 30
            assert tuned_record(other.models_dir / NAME) == tuned_record(tuned_model)
    finally:
        building.close()
        waiting.close()
