"""Bad input never causes a 5xx and always gets a clear 4xx with a Chinese + English message; uploads never
write outside the documents folder; agents' routes never leak admin data.

In-process (TestClient, lifespan on) on a private copy of the real seed KB (`rc`, tests/bot/conftest.py). (A real
server cutting off an endless chunked body, and hostile text in a real browser:
tests/service/test_hostile_input_on_a_real_server.py.)
"""
from __future__ import annotations

import io
import os
import re
import zipfile
from pathlib import Path

import pytest

from tests.support.paths import REPO
from tests.support.service import SEED_QUESTION, all_quoted
from tests.support.hostile import bilingual


# --- /v1/ask: bad input ---------------------------------------------------------------------------

BAD_ASKS = [
    pytest.param({"question": ""}, id="empty"),
    pytest.param({"question": "   \n\t  "}, id="whitespace"),
    pytest.param({"question": "　　"}, id="ideographic-space"),
    pytest.param({"question": "问" * 501}, id="over-limit"),
    pytest.param({"question": "问" * 10_001}, id="over-hard-cap"),
    pytest.param({"question": 123}, id="question-int"),
    pytest.param({"question": None}, id="question-null"),
    pytest.param({"question": ["退款"]}, id="question-list"),
    pytest.param({"question": {"q": "退款"}}, id="question-object"),
    pytest.param({"question": "退款", "top_k": 0}, id="top_k-0"),
    pytest.param({"question": "退款", "top_k": 51}, id="top_k-over-max"),
    pytest.param({"question": "退款", "top_k": -1}, id="top_k-negative"),
    pytest.param({"question": "退款", "top_k": 10**30}, id="top_k-huge"),
    pytest.param({"question": "退款", "top_k": "5"}, id="top_k-string"),
    pytest.param({"question": "退款", "top_k": True}, id="top_k-bool"),
    pytest.param({"question": "退款", "top_k": 2.5}, id="top_k-float"),
    pytest.param({"question": "退款", "session_id": 5}, id="session-int"),
    pytest.param({"question": "退款", "session_id": "s" * 129}, id="session-too-long"),
    pytest.param({"question": "退款", "admin": True}, id="unknown-field"),
    pytest.param({"question": "退款\x00"}, id="nul"),
    pytest.param({"question": "退\x07款\x1b[31m"}, id="control-chars"),
    pytest.param({"question": "退\x85款\x9b"}, id="c1-control"),
    pytest.param([], id="json-array"),
    pytest.param("退款", id="json-string"),
    pytest.param(None, id="json-null"),
]


@pytest.mark.parametrize("body", BAD_ASKS)
def test_ask_bad_json_bodies_are_clear_422(rc, body):
    r = rc.post("/v1/ask", json=body)
    assert r.status_code == 422, r.text
    bilingual(r)


@pytest.mark.parametrize("raw,ctype", [
    (b"{not json", "application/json"),
    (b"", "application/json"),
    (b'{"question": "\\ud800"}', "application/json"),  # lone surrogate
    (b"\xff\xfe\x00bad", "application/json"),
    (b"question=%E9%80%80%E6%AC%BE", "application/x-www-form-urlencoded"),
    (b"\xe9\x80\x80\xe6\xac\xbe", "text/plain"),
    (b'{"question": "a", "question": 5}', "application/json"),
])
def test_ask_non_json_is_a_clear_4xx(rc, raw, ctype):
    r = rc.post("/v1/ask", content=raw, headers={"content-type": ctype})
    assert 400 <= r.status_code < 500, r.text
    bilingual(r)


@pytest.mark.parametrize("question", [
    "😀😀😀",
    "🙏",
    "<script>alert('x')</script>客户要退款",
    "<img src=x onerror=alert(1)>",
    "'; DROP TABLE asks; --",
    "客户\u200b要\u202e退款",
    "退款\n\n换货\t怎么处理",
    "Ｒｅｆｕｎｄ？？？",
    "a" * 500,
])
def test_odd_but_valid_questions_are_answered(rc, question):
    r = rc.post("/v1/ask", json={"question": question})
    assert r.status_code == 200, r.text
    a = r.json()
    assert a["question"] == question.strip()  # returned as text, never rewritten into markup
    assert isinstance(a["matched"], bool) and a["version"]


def test_unknown_session_id_starts_a_new_session(rc):
    r = rc.post("/v1/ask", json={"question": SEED_QUESTION, "session_id": "no-such-session-🙂"})
    assert r.status_code == 200
    sid = r.json()["session_id"]
    assert sid
    follow = rc.post("/v1/ask", json={"question": "那客户还是不接受呢？", "session_id": sid})
    assert follow.status_code == 200 and follow.json()["session_id"] == sid


def test_feedback_bad_input(rc):
    assert rc.post("/v1/feedback", json={"question": "  ", "helpful": True}).status_code == 422
    r = rc.post("/v1/feedback", json={"question": "退款", "helpful": "maybe"})
    assert r.status_code == 422
    bilingual(r)
    r = rc.post("/v1/feedback", json={"question": "退款", "helpful": False, "comment": "<b>x</b>" * 300})
    assert r.status_code == 422
    r = rc.post("/v1/feedback", json={"question": "<script>x</script>", "helpful": False})
    assert r.status_code == 201


# --- request size, unknown routes and methods ----------------------------------------------------

def test_body_limit_by_content_length(rc, rsettings):
    big = b'{"question": "' + b"a" * (rsettings.max_body_bytes + 10) + b'"}'
    r = rc.post("/v1/ask", content=big, headers={"content-type": "application/json"})
    assert r.status_code == 413
    assert str(rsettings.max_body_bytes) in bilingual(r)


def test_body_limit_while_streaming_in_process(rc, rsettings):
    def chunks():  # no Content-Length: the middleware counts while the body streams in
        for _ in range(rsettings.max_body_bytes // 4096 + 8):
            yield b"a" * 4096

    r = rc.post("/v1/ask", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413, r.text
    bilingual(r)
    assert rc.post("/v1/ask", json={"question": SEED_QUESTION}).status_code == 200


@pytest.mark.parametrize("method,path,status", [
    ("GET", "/no/such/page", 404),
    ("GET", "/v1/nothing", 404),
    ("POST", "/v1/admin/nothing", 404),
    ("GET", "/static/../../pyproject.toml", 404),
    ("GET", "/static/%2e%2e/%2e%2e/pyproject.toml", 404),
    ("PUT", "/v1/ask", 405),
    ("DELETE", "/v1/ask", 405),
    ("GET", "/v1/ask", 405),
    ("POST", "/healthz", 405),
    ("PATCH", "/v1/feedback", 405),
])
def test_unknown_routes_and_methods_are_json(rc, method, path, status):
    r = rc.request(method, path)
    assert r.status_code == status
    assert r.headers["content-type"].startswith("application/json")
    bilingual(r)
    assert "[project]" not in r.text


def test_passage_ids_are_only_looked_up(rc):
    for pid in ("../../etc/passwd", "' OR 1=1 --", "%00", "x" * 5000):
        r = rc.get(f"/v1/passages/{pid}")
        assert r.status_code == 404, pid
        bilingual(r)


# --- uploads -------------------------------------------------------------------------------------

def _docx_bytes(text: str = "客服培训：退款处理原则。先安抚客户情绪，再核实订单。") -> bytes:
    import docx

    d = docx.Document()
    d.add_heading("退款处理", 1)
    d.add_paragraph(text)
    buf = io.BytesIO()
    d.save(buf)
    return buf.getvalue()


def _zip_bomb(main_part: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr(main_part, b"\0" * (60 * 1024 * 1024))  # 60 MB of zeros, ~60 KB compressed
    return buf.getvalue()


def _snapshot(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


BAD_UPLOADS = [
    pytest.param("tool.exe", b"MZ\x90\x00" + os.urandom(200), "unsupported", id="exe"),
    pytest.param("old.doc", b"\xd0\xcf\x11\xe0" + os.urandom(200), ".doc", id="legacy-doc"),
    pytest.param("noext", "退款原则".encode(), "unsupported", id="no-suffix"),
    pytest.param("empty.txt", b"", "empty", id="empty"),
    pytest.param("photo.txt", b"\x89PNG\r\n\x1a\n" + os.urandom(4000), "binary", id="binary-as-txt"),
    pytest.param("page.html", os.urandom(3000), "", id="binary-as-html"),
    pytest.param("notes.md", b"\x00\x01\x02" * 500, "", id="binary-as-md"),
    pytest.param("fake.docx", "这不是 Word 文档".encode(), "docx", id="text-as-docx"),
    pytest.param("fake.pdf", b"%PDF-1.4\n garbage", "", id="broken-pdf"),
    pytest.param("bomb.docx", _zip_bomb("word/document.xml"), "zip bomb", id="zip-bomb-docx"),
    pytest.param("bomb.pptx", _zip_bomb("ppt/presentation.xml"), "zip bomb", id="zip-bomb-pptx"),
    pytest.param("slides.pptx", _docx_bytes(), "powerpoint", id="docx-as-pptx"),
    pytest.param("big.txt", "退款".encode() * 50_000, "too large", id="over-size-limit"),
    pytest.param(".txt", "退款原则".encode(), "", id="name-only-suffix"),
    pytest.param("..", "退款原则".encode(), "", id="dotdot"),
    pytest.param("", "退款原则".encode(), "", id="no-name"),
]


@pytest.mark.parametrize("name,data,fragment", BAD_UPLOADS)
def test_bad_uploads_are_refused_with_the_reason(rc, rsettings, admin_headers, name, data, fragment):
    before = _snapshot(rsettings.root)
    r = rc.post("/v1/admin/documents", files={"file": (name, data)}, headers=admin_headers)
    assert 400 <= r.status_code < 500, r.text
    text = bilingual(r)
    assert fragment.lower() in text.lower()
    assert _snapshot(rsettings.root) == before  # nothing stored, no temp file left


def raw_upload(client, name: str, data: bytes, headers: dict):
    """A multipart upload with the file name sent byte for byte (httpx would percent-escape controls)."""
    boundary = "kb-test-boundary-7d1f"
    body = (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="'.encode()
            + name.encode("utf-8") + b'"\r\nContent-Type: application/octet-stream\r\n\r\n' + data
            + f"\r\n--{boundary}--\r\n".encode())
    return client.post("/v1/admin/documents", content=body,
                       headers={**headers, "Content-Type": f"multipart/form-data; boundary={boundary}"})


HOSTILE_NAMES = [
    pytest.param("../../evil.txt", "evil.txt", id="dotdot"),
    pytest.param("..\\..\\evil2.txt", "evil2.txt", id="backslashes"),
    pytest.param("/etc/cron.d/evil3.txt", "evil3.txt", id="absolute"),
    pytest.param("C:\\Windows\\evil4.txt", "evil4.txt", id="windows-absolute"),
    pytest.param("a\x00b.txt", "a_b.txt", id="nul"),
    pytest.param("tab\tnew\x1bline\x7f.txt", "tab_new_line_.txt", id="controls"),
    pytest.param("invoice\u202etxt.md", "invoice_txt.md", id="bidi-override"),
    pytest.param("..hidden.txt", "hidden.txt", id="hidden"),
    pytest.param("报" * 300 + ".txt", None, id="very-long"),
    pytest.param("<script>alert(1)</script>.txt", None, id="html-in-name"),
]


@pytest.mark.parametrize("name,expected", HOSTILE_NAMES)
def test_hostile_names_are_made_safe_inside_the_documents_folder(rc, rsettings, admin_headers, tmp_path,
                                                                 name, expected):
    outside_before = _snapshot(rsettings.root.parent)
    r = raw_upload(rc, name, "退款处理原则：先核实订单，再按规定办理。".encode(), admin_headers)
    assert r.status_code == 201, r.text
    doc_id = r.json()["doc_id"]
    if expected:
        assert doc_id == expected
    stored = rsettings.uploads_dir / doc_id
    assert stored.is_file() and stored.resolve().parent == rsettings.uploads_dir.resolve()
    assert "/" not in doc_id and "\\" not in doc_id and "\x00" not in doc_id
    assert len(doc_id.encode("utf-8")) <= 200
    new = {p for p in _snapshot(rsettings.root.parent) - outside_before
           if not (rsettings.root.parent / p).is_dir()}
    assert new == {str(stored.relative_to(rsettings.root.parent))}, new  # the one file, nothing else
    assert not Path("/etc/cron.d/evil3.txt").exists()
    assert rc.delete(f"/v1/admin/documents/{doc_id}", headers=admin_headers).status_code == 200


def test_duplicate_names_are_renamed_never_overwritten(rc, rsettings, admin_headers):
    names = []
    for i in range(3):
        r = rc.post("/v1/admin/documents", files={"file": ("同名.txt", f"第{i}版：退款原则。".encode())},
                    headers=admin_headers)
        assert r.status_code == 201
        names.append(r.json()["doc_id"])
    assert names == ["同名.txt", "同名(2).txt", "同名(3).txt"]
    assert [(rsettings.uploads_dir / n).read_text("utf-8") for n in names] == [
        f"第{i}版：退款原则。" for i in range(3)]
    # a seed's name is taken too: renamed, the read-only seed untouched
    seed = sorted(p.name for p in (REPO / "seeds").iterdir())[0]
    r = rc.post("/v1/admin/documents", files={"file": (seed, "退款原则。".encode())}, headers=admin_headers)
    assert r.status_code == 201 and r.json()["doc_id"] != seed and r.json()["renamed"] is True
    for n in [*names, r.json()["doc_id"]]:
        rc.delete(f"/v1/admin/documents/{n}", headers=admin_headers)


def test_valid_docx_upload_is_accepted(rc, admin_headers):
    r = rc.post("/v1/admin/documents", files={"file": ("退款.docx", _docx_bytes())}, headers=admin_headers)
    assert r.status_code == 201, r.text
    rc.delete(f"/v1/admin/documents/{r.json()['doc_id']}", headers=admin_headers)


def test_delete_cannot_escape_the_corpus(rc, rsettings, admin_headers):
    victim = rsettings.root / "victim.txt"
    victim.write_text("keep me")
    for doc_id in ("../victim.txt", "..%2Fvictim.txt", "%2e%2e%2fvictim.txt", "/etc/passwd"):
        r = rc.delete(f"/v1/admin/documents/{doc_id}", headers=admin_headers)
        assert r.status_code in (404, 405), (doc_id, r.status_code)
    assert victim.read_text() == "keep me"


# --- exposure: agents' routes never show admin data ----------------------------------------------

def _leaks(text: str, settings) -> list[str]:
    found = [s for s in (str(settings.root), str(settings.root.parent), str(REPO), str(Path.home()), "/tmp/")
             if s and s != "/" and s in text]
    if re.search(r'"path"\s*:', text):
        found.append('"path" field')
    if re.search(r'"(?:model|errors|manifest)"\s*:', text):
        found.append("admin-only field")
    return found


def test_agents_routes_do_not_leak_paths_or_admin_data(rc, rsettings, admin_headers):
    a = rc.post("/v1/ask", json={"question": SEED_QUESTION})
    assert a.status_code == 200
    answer = a.json()
    texts = {"ask": a.text, "oos": rc.post("/v1/ask", json={"question": "今天天气怎么样"}).text,
             "info": rc.get("/v1/info").text, "readyz": rc.get("/readyz").text, "healthz": rc.get("/healthz").text}
    for card in all_quoted(answer):
        assert set(card["sources"][0]) <= {"doc", "doc_title", "section_path", "passage_id"}
        texts[f"passage {card['id']}"] = rc.get(f"/v1/passages/{card['id']}").text
    texts["openapi"] = rc.get("/openapi.json").text
    for name, text in texts.items():
        assert not _leaks(text, rsettings), (name, _leaks(text, rsettings))
    assert str(rsettings.root) not in rc.get("/metrics").text
    # the admin API does show paths, behind the token
    docs = rc.get("/v1/admin/documents", headers=admin_headers).json()["documents"]
    assert any(d.get("path") for d in docs)
    assert rc.get("/v1/admin/documents").status_code == 401
