"""The KB's state interfaces (kb/state/base.py), the same assertions for every backend in
tests/support/state_backends.py: documents, dictionary, conversations, versions."""
from __future__ import annotations

import hashlib
import threading
import time

import pytest

from kb.sessions import Turn
from kb.state import UnsupportedDatabaseURL, open_content
from kb.tokenize import DICTIONARY_FILES, resource_text
from kb.version import Counts, Manifest, NoVersionError


@pytest.fixture()
def content(state_backend, tmp_path):
    opened = open_content(state_backend.settings(tmp_path))
    yield opened
    opened.close()


# --- documents ----------------------------------------------------------------------------------

def test_documents_are_stored_replaced_and_deleted(content):
    docs = content.documents
    assert docs.documents() == [] and docs.get("a.txt") is None and docs.delete("a.txt") is False
    before = time.time()
    stored = docs.put("a.txt", "第一版".encode())
    assert stored.name == "a.txt" and stored.size == len("第一版".encode())
    assert stored.sha256 == hashlib.sha256("第一版".encode()).hexdigest()
    assert before - 2 <= stored.uploaded_at <= time.time() + 2
    docs.put("b.txt", b"bee")
    docs.put("a.txt", "第二版，更长".encode())
    assert [(d.name, d.sha256) for d in docs.documents()] == [
        ("a.txt", hashlib.sha256("第二版，更长".encode()).hexdigest()), ("b.txt", hashlib.sha256(b"bee").hexdigest())]
    assert docs.get("a.txt") == "第二版，更长".encode()
    with docs.local_files() as paths:
        assert {name: path.read_bytes() for name, path in paths.items()} == {
            "a.txt": "第二版，更长".encode(), "b.txt": b"bee"}
    assert docs.delete("a.txt") is True and docs.get("a.txt") is None
    assert [d.name for d in docs.documents()] == ["b.txt"]


def test_a_document_name_cannot_leave_the_store(content):
    for name in ("../escape.txt", "sub/dir.txt", ".hidden.txt"):
        with pytest.raises(ValueError):
            content.documents.put(name, b"x")
    assert content.documents.documents() == []


def test_excluded_names(content):
    docs = content.documents
    assert docs.excluded() == set()
    docs.exclude("seed.txt")
    docs.exclude("other.txt")
    docs.include("other.txt")
    docs.include("never-excluded.txt")
    assert docs.excluded() == {"seed.txt"}


def test_a_reader_sees_a_whole_document_while_it_is_replaced(content):
    docs = content.documents
    old, new = b"a" * 300_000, b"b" * 400_000
    docs.put("big.txt", old)
    done = threading.Event()

    def replace() -> None:
        for i in range(20):
            docs.put("big.txt", new if i % 2 == 0 else old)
        done.set()

    writer = threading.Thread(target=replace)
    writer.start()
    seen = set()
    while not done.is_set():
        seen.add(docs.get("big.txt"))
    writer.join()
    assert seen <= {old, new}


# --- dictionary ---------------------------------------------------------------------------------

def test_dictionary_files_default_to_the_packaged_ones_until_written(content):
    store = content.dictionary
    assert {name: store.read(name) for name in DICTIONARY_FILES} == {n: resource_text(n) for n in DICTIONARY_FILES}
    store.write("synonyms.txt", "客户 顾客\n")
    assert store.read("synonyms.txt") == "客户 顾客\n"
    with store.local_folder() as folder:
        assert (folder / "synonyms.txt").read_text("utf-8") == "客户 顾客\n"
        assert (folder / "userdict.txt").read_text("utf-8") == resource_text("userdict.txt")
    with pytest.raises(ValueError):
        store.write("../settings.txt", "x")
    with pytest.raises(ValueError):
        store.read("other.txt")


# --- conversations ------------------------------------------------------------------------------

def _turn(n: int) -> Turn:
    return Turn(f"问题{n}", f"问题{n}", [f"p{n}"])


def test_a_conversation_keeps_its_last_turns(content):
    sessions = content.sessions
    s = sessions.get("chat-1")
    assert s.id == "chat-1" and s.turns == []
    for n in range(6):
        sessions.record(sessions.get("chat-1"), _turn(n))
    assert [t.question for t in sessions.get("chat-1").turns] == ["问题2", "问题3", "问题4", "问题5"]  # 4 turns
    assert sessions.get("chat-2").turns == []


def test_new_and_malformed_ids_start_a_new_conversation(content):
    sessions = content.sessions
    fresh = sessions.get(None)
    assert len(fresh.id) == 32 and fresh.turns == []
    assert sessions.get(None).id != fresh.id
    bad = sessions.get("../bad id!")
    assert bad.id != "../bad id!" and bad.turns == []


def test_conversations_expire_and_are_bounded(state_backend, tmp_path):
    content = open_content(state_backend.settings(tmp_path, session_ttl_seconds=1, max_sessions=3))
    try:
        sessions = content.sessions
        for sid in ("a", "b", "c", "d"):
            sessions.record(sessions.get(sid), _turn(1))
        assert sessions.get("a").turns == []  # the least recently used went first
        assert sessions.get("d").turns != []
        time.sleep(1.3)
        assert sessions.get("d").turns == []  # forgotten after the TTL
    finally:
        content.close()


def test_a_follow_up_reaches_every_process(state_backend, tmp_path):
    settings = state_backend.settings(tmp_path)
    first, second = open_content(settings), open_content(settings)
    try:
        first.sessions.record(first.sessions.get("chat"), _turn(1))
        assert [t.question for t in second.sessions.get("chat").turns] == ["问题1"]
    finally:
        first.close()
        second.close()


# --- versions -----------------------------------------------------------------------------------

def _manifest(vid: str) -> Manifest:
    return Manifest(version=vid, created_at="2024-01-01T00:00:00+00:00", pipeline_version="test", model="m",
                    model_fingerprint="f", dim=4, dense_index="flat", query_prompt="", passage_prompt="",
                    counts=Counts(documents=1, passages=1, by_kind={}, sentences=1), documents={"a.txt": "0"},
                    corpus_fingerprint=f"corpus-{vid}", embedded=1, reused=0)


def _build(versions, text: str = "passages") -> str:
    vid, folder = versions.begin()
    (folder / "data.txt").write_text(text, "utf-8")
    steps: list[int] = []
    with versions.build_lock():
        versions.publish(vid, folder, _manifest(vid), step=steps.append)
    assert steps == [1, 2, 3]
    return vid


def test_no_version_before_the_first_publish(content):
    versions = content.versions
    assert versions.current_id() is None
    with pytest.raises(NoVersionError):
        versions.current_folder()
    with pytest.raises(NoVersionError):
        versions.fetch("20240101T000000-abcdef")


def test_a_published_version_is_current_and_fetched_whole(content):
    versions = content.versions
    first = _build(versions, "第一版")
    assert versions.current_id() == first
    assert (versions.current_folder() / "data.txt").read_text("utf-8") == "第一版"
    second = _build(versions, "第二版")
    assert versions.current_id() == second and second != first
    assert versions.manifest(second).corpus_fingerprint == f"corpus-{second}"
    assert (versions.fetch(first) / "data.txt").read_text("utf-8") == "第一版"  # kept (keep_versions)
    assert (versions.fetch(second) / "data.txt").read_text("utf-8") == "第二版"


def test_cleanup_removes_unfinished_builds_and_old_versions_never_the_current(content):
    versions = content.versions
    old = _build(versions)
    current = _build(versions)
    vid, folder = versions.begin()
    (folder / "partial").write_bytes(b"half")
    removed = versions.cleanup(keep=1)
    assert old in removed and any(vid in name for name in removed)
    assert versions.current_id() == current and versions.current_folder().is_dir()
    with pytest.raises(NoVersionError):
        versions.fetch(old)


def test_one_build_at_a_time(content):
    versions = content.versions
    with versions.build_lock() as mine:
        assert mine
        other: list[bool] = []

        def try_lock() -> None:
            with versions.build_lock(wait=False) as got:
                other.append(got)

        t = threading.Thread(target=try_lock)
        t.start()
        t.join()
        assert other == [False]
    with versions.build_lock(wait=False) as again:
        assert again


def test_waiting_for_a_publish(content):
    versions = content.versions
    first = _build(versions)
    t0 = time.monotonic()
    assert versions.wait_for_publish(0.5) == first  # nothing published: the current id after the timeout
    assert time.monotonic() - t0 < 3
    published: list[str] = []
    publisher = threading.Timer(0.2, lambda: published.append(_build(versions)))
    publisher.start()
    t0 = time.monotonic()
    got = versions.wait_for_publish(1.0)
    publisher.join()
    assert got == published[0] and time.monotonic() - t0 < 3


def test_an_unsupported_database_url_is_refused_by_name(tmp_path):
    from pydantic import SecretStr

    from kb.settings import Settings

    settings = Settings(data_dir=tmp_path, database_url=SecretStr("mysql://kb:secret@db/kb"))
    with pytest.raises(UnsupportedDatabaseURL) as refused:
        open_content(settings)
    assert "mysql://" in str(refused.value) and "secret" not in str(refused.value)
    assert "KB_DATABASE_URL" in str(refused.value)
