"""Ingest → versions: incremental re-embedding, atomic publish, clear errors. Real model, FAISS, SQLite."""
from __future__ import annotations

import shutil
import threading
import time

import numpy as np
import pytest

from ingest.pipeline import IngestError, build_version
from kb.knowledge_base import KnowledgeBase
from kb.state.embedded import CURRENT, FolderVersionRegistry
from tests.support.paths import SEEDS, make_settings


def test_seed_build_report(seed_build):
    r = seed_build
    assert r.changed and r.documents == 5 and not r.errors
    assert r.embedded == r.passages > 100
    assert r.by_kind["principle"] > 0 and r.by_kind["case"] > 0
    assert r.junk_removed > 0 and r.boilerplate_removed > 0


def test_rerun_on_unchanged_seeds_embeds_nothing(seed_settings, seed_build, encoder):
    again = build_version(seed_settings, encoder=encoder)
    assert not again.changed and again.embedded == 0
    assert again.version_id == seed_build.version_id
    forced = build_version(seed_settings, encoder=encoder, force=True)
    assert forced.changed and forced.embedded == 0 and forced.reused == seed_build.passages


@pytest.fixture()
def corpus(tmp_path, model_dir):
    docs = tmp_path / "docs"
    docs.mkdir()
    for name in ("001_83bb678a96cd3680.txt", "003_948dd19706f84a15.txt"):
        shutil.copy(SEEDS / name, docs / name)
    return make_settings(tmp_path / "data", model_dir, [docs]), docs


def test_changed_document_is_reembedded_and_removed_one_disappears(corpus, encoder):
    settings, docs = corpus
    first = build_version(settings, encoder=encoder)
    kb1 = KnowledgeBase.open(settings, encoder=encoder)
    n003 = len(kb1.document_passages("003_948dd19706f84a15.txt"))
    assert n003 > 0

    text = (docs / "001_83bb678a96cd3680.txt").read_text("utf-8")
    (docs / "001_83bb678a96cd3680.txt").write_text(
        text + "\n法则40:把每一次投诉当作改进的机会\n客户投诉时，先感谢客户指出问题，再记录细节并承诺回复时间。\n", "utf-8")
    second = build_version(settings, encoder=encoder)
    assert second.changed and 0 < second.embedded <= 3
    assert second.reused >= first.passages - 3

    (docs / "003_948dd19706f84a15.txt").unlink()
    third = build_version(settings, encoder=encoder)
    assert third.embedded == 0 and third.passages == second.passages - n003
    kb3 = kb1.reload()
    assert kb3.version_id == third.version_id
    assert kb3.document_passages("003_948dd19706f84a15.txt") == []
    assert {d["doc_id"] for d in kb3.documents()} == {"001_83bb678a96cd3680.txt"}
    # the old object still answers from its own complete version
    assert kb1.document_passages("003_948dd19706f84a15.txt")


def test_a_build_closes_the_encoder_it_loaded_itself(corpus):
    """A build given no encoder loads one; its batching threads must end with the build, or each re-index or
    tune job in the service would keep another model in memory."""
    settings, _ = corpus

    def encoder_threads():
        return [t for t in threading.enumerate() if t.name.startswith("query-encoder") and t.is_alive()]

    before = set(encoder_threads())
    report = build_version(settings)
    assert report.changed and report.embedded > 0
    deadline = time.monotonic() + 10
    while set(encoder_threads()) - before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not set(encoder_threads()) - before


def test_versions_are_pruned_and_current_is_atomic(corpus, encoder):
    settings, docs = corpus
    vs = FolderVersionRegistry(settings.versions_dir)
    for i in range(5):
        (docs / f"extra{i}.txt").write_text(f"第{i}条 服务规范：接待客户时要微笑问候，编号{i}。\n", "utf-8")
        build_version(settings, encoder=encoder)
    assert len(vs.versions()) <= settings.keep_versions
    assert vs.current_id() == (settings.versions_dir / CURRENT).read_text().strip()
    assert not [p for p in settings.versions_dir.iterdir() if p.name.startswith(".build-")]


def test_half_built_version_is_cleaned_and_ignored(corpus, encoder):
    settings, _ = corpus
    build_version(settings, encoder=encoder)
    vs = FolderVersionRegistry(settings.versions_dir)
    good = vs.current_id()
    vid, folder = vs.begin()
    (folder / "kb.sqlite").write_bytes(b"partial")
    (settings.versions_dir / "20990101T000000-dead00").mkdir()  # complete-looking name, no manifest
    assert vs.current_id() == good
    removed = vs.cleanup()
    assert f".build-{vid}" in removed and "20990101T000000-dead00" in removed
    assert KnowledgeBase.open(settings, encoder=encoder).version_id == good


def test_empty_and_missing_corpus_are_clear_errors(tmp_path, model_dir, encoder):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(IngestError, match="empty corpus"):
        build_version(make_settings(tmp_path / "d1", model_dir, [empty]), encoder=encoder)
    with pytest.raises(IngestError, match="folder not found"):
        build_version(make_settings(tmp_path / "d2", model_dir, [tmp_path / "nope"]), encoder=encoder)


def test_unreadable_file_is_reported_and_the_rest_ingested(tmp_path, model_dir, encoder):
    docs = tmp_path / "docs"
    docs.mkdir()
    shutil.copy(SEEDS / "003_948dd19706f84a15.txt", docs)
    (docs / "broken.docx").write_bytes(b"this is not a zip file")
    (docs / "old.doc").write_bytes(b"\xd0\xcf\x11\xe0 legacy")
    (docs / "empty.txt").write_bytes(b"")
    report = build_version(make_settings(tmp_path / "data", model_dir, [docs]), encoder=encoder)
    assert report.documents == 1 and report.passages > 10
    bad = {e["doc"]: e["error"] for e in report.errors}
    assert set(bad) == {"broken.docx", "old.doc", "empty.txt"}
    assert all("/" in msg for msg in bad.values())  # Chinese / English message


def _assert_same_answers(kb, reference) -> None:
    """Float16 re-scoring keeps the float32 KB's top rows; cosines move by < 1e-3."""
    for q in ["客户投诉快递晚到要赔钱，我该怎么处理？", "什么是首问负责制", "客人嫌等太久要求打折"]:
        got, ref = kb.search(q, 5), reference.search(q, 5)
        assert [c.row for c in got.candidates[:3]] == [c.row for c in ref.candidates[:3]], q
        for a, b in zip(got.candidates, ref.candidates):
            if a.row == b.row:
                assert abs(a.dense - b.dense) < 1e-3 and abs(a.sentence - b.sentence) < 1e-3


def test_hnswf16_kb_rescores_from_the_index_and_writes_no_copy(tmp_path, model_dir, encoder, seed_kb):
    """With the index kind for the largest KBs (hnswf16, forced here on the seeds), serving re-scores from
    the index's own float16 vectors, no float16 file is written, float32 stays for incremental ingest, and
    the answers are the seeds' answers: same top rows, scores within 1e-3."""
    settings = make_settings(tmp_path / "data", model_dir, half_vectors_from=1, dense_index="hnswf16")
    build_version(settings, encoder=encoder)
    kb = KnowledgeBase.open(settings, encoder=encoder)
    try:
        folder = kb.folder
        assert not list(folder.glob("*.f16.npy"))
        assert (folder / "vectors.npy").is_file() and (folder / "unit_vectors.npy").is_file()
        for vectors, name in ((kb.searcher.vectors, "vectors"), (kb.searcher.unit_vectors, "unit_vectors")):
            assert vectors.dtype == np.float16 and not vectors.flags.owndata
            full = np.load(folder / f"{name}.npy")
            assert vectors.shape == full.shape
            assert np.abs(vectors.astype(np.float32) - full).max() < 1e-3
        _assert_same_answers(kb, seed_kb)
    finally:
        kb.close()


def test_large_kb_rescores_from_a_float16_copy_with_the_same_answers(tmp_path, model_dir, encoder, seed_kb):
    """From half_vectors_from on a version also stores float16 vectors and serving re-scores from them;
    the float32 ones stay for incremental reuse. Answers keep their order; scores move by < 1e-3."""
    settings = make_settings(tmp_path / "data", model_dir, half_vectors_from=1)
    build_version(settings, encoder=encoder)
    kb = KnowledgeBase.open(settings, encoder=encoder)
    try:
        folder = kb.folder
        assert (folder / "vectors.f16.npy").is_file() and (folder / "unit_vectors.f16.npy").is_file()
        assert (folder / "vectors.npy").is_file(), "float32 kept for incremental ingest"
        assert kb.searcher.vectors.dtype == np.float16 and kb.searcher.unit_vectors.dtype == np.float16
        assert seed_kb.searcher.vectors.dtype == np.float32, "the seeds are far below the threshold"
        _assert_same_answers(kb, seed_kb)
    finally:
        kb.close()
