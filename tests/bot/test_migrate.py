"""`kb migrate`: the schema, and an embedded install copied into PostgreSQL with equal counts, store by
store, and the same contents (documents, dictionary, versions, labels, calibration, feedback, ask log, review
decisions, accounts, API tokens, audit log, widget sites)."""
from __future__ import annotations

import pytest

from bot.cli import main
from bot.migrate import COPIED, Backend, settings_on
from bot.state.access import Account, ApiToken, AuditEntry, Site
from bot.state.base import AskerIdentity
from kb.labels.model import parse_label
from tests.support.postgres import database_for, server
from tests.support.service import NEW_DOC_NAME, NEW_DOC_TEXT, service_settings_for


def _answer(question: str, matched: bool) -> dict:
    return {"question": question, "matched": matched, "confidence": 0.7, "principles": [], "cases": [],
            "passages": [{"id": "p1", "title": "标题", "doc": "a.txt"}], "session_id": "s", "version": "v"}


@pytest.fixture()
def embedded_install(tmp_path, seed_settings, seed_build, model_dir):
    """A copy of the seed KB with an upload, an excluded name, a dictionary file, labels, a fitted no-answer
    model, feedback, questions and a review decision."""
    settings = service_settings_for(tmp_path / "embedded", seed_settings, model_dir)
    install = Backend.open(settings)
    try:
        install.content.documents.put(NEW_DOC_NAME, NEW_DOC_TEXT.encode("utf-8"), uploaded_at=1_700_000_000.0)
        install.content.documents.exclude("003_948dd19706f84a15.txt")
        install.content.dictionary.write("synonyms.txt", "客户 顾客\n")
        install.content.labels.put([
            parse_label({"id": "t1", "question": "客户要发票怎么办", "kind": "principle", "gold": ["发票"], "note": "甲"}),
            parse_label({"id": "o1", "question": "天气如何", "kind": "oos"}, created_at=1_700_000_001.0)])
        install.content.calibration.put({"bias": -3.0, "weights": {"sentence": 2.0, "label_margin": 1.0}})
        install.records.decisions.decide(["客户要发票"], "dismiss", None, "admin", ts=1_700_000_002.0)
        who = AskerIdentity("agent-7", "售后一组", "shop")
        install.records.feedback.add("客户要发票", "p1", False, "缺发票流程", "s1", "v1", who)
        for n in range(30):
            install.records.asks.log(_answer(f"问题{n}", n % 3 != 0), 1.5, who if n % 2 else None)
        records = install.records
        for name, role in (("admin", "admin"), ("li", "editor"), ("wang", "viewer")):
            records.accounts.add(Account(name, role, f"$argon2id$hash-of-{name}", 1_700_000_000.0, name == "wang",
                                         1_700_000_100.0 if name == "li" else None))
        records.tokens.add(ApiToken("t1", "nightly import", "editor", "sha-1", "admin", 1_700_000_000.0,
                                    1_700_000_500.0))
        records.tokens.add(ApiToken("t2", "old", "viewer", "sha-2", "admin", 1_700_000_001.0, None, 1_700_000_002.0))
        for n in range(5):
            records.audit.append(AuditEntry(1_700_000_000.0 + n, "li", "editor", "10.0.0.1", "PUT /v1/admin/synonyms",
                                            "", 200, {"n": n, "名": "值"}))
        records.sites.add(Site("shop", "网店", ("https://shop.example", "https://m.shop.example"), "s3cret",
                               1_700_000_000.0, "admin"))
        records.sites.add(Site("anon", "匿名", (), None, 1_700_000_000.0, "admin"))
    finally:
        install.close()
    return settings


def _contents(backend: Backend) -> dict:
    return {name: list(backend.store(pick).export_records()) for name, pick in COPIED if name != "versions"}


def test_an_embedded_install_moves_into_postgresql_with_equal_counts(embedded_install, tmp_path, capsys):
    url = database_for(tmp_path / "target")
    assert main(["--data-dir", str(embedded_install.data_dir), "migrate", "--to", url]) == 0
    out = capsys.readouterr().out
    assert "every store holds as many records as its source" in out
    source = Backend.open(embedded_install)
    target = Backend.open(settings_on(embedded_install, url, tmp_path / "cache"))
    try:
        for name, pick in COPIED:
            assert source.store(pick).count() == target.store(pick).count() > 0, name
        assert _contents(source) == _contents(target)
        assert {"accounts", "API tokens", "audit log", "sites"} <= {name for name, _ in COPIED}
        assert [e.detail["n"] for e in target.records.audit.query()] == [4, 3, 2, 1, 0]
        assert target.records.accounts.get("wang").disabled and target.records.tokens.find("sha-2") is None
        assert target.records.sites.get("shop").origins == ("https://shop.example", "https://m.shop.example")
        assert target.content.versions.current_id() == source.content.versions.current_id()
        current = target.content.versions.current_id()
        fetched = target.content.versions.fetch(current)
        original = source.content.versions.fetch(current)
        assert sorted(p.name for p in fetched.iterdir()) == sorted(p.name for p in original.iterdir())
        assert all((fetched / p.name).read_bytes() == p.read_bytes() for p in original.iterdir() if p.is_file())
    finally:
        target.close()
        source.close()
    # a second copy into the same database is refused: nothing is doubled
    assert main(["--data-dir", str(embedded_install.data_dir), "migrate", "--to", url]) == 1
    assert "already holds" in capsys.readouterr().err


def test_kb_migrate_applies_the_schema_once(tmp_path, monkeypatch, capsys):
    url = server().create_database("migrate_schema_once")
    monkeypatch.setenv("KB_DATABASE_URL", url)
    assert main(["--data-dir", str(tmp_path), "migrate"]) == 0
    assert "0001_kb_content.sql" in capsys.readouterr().out
    assert main(["--data-dir", str(tmp_path), "migrate"]) == 0
    assert "up to date" in capsys.readouterr().out


def test_a_database_behind_the_migrations_is_refused_by_name(tmp_path, monkeypatch, capsys):
    url = server().create_database("never_migrated")
    monkeypatch.setenv("KB_DATABASE_URL", url)
    assert main(["--data-dir", str(tmp_path), "stats"]) == 2
    assert "run `kb migrate`" in capsys.readouterr().err
