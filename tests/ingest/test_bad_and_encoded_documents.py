"""Loaders on text in every encoding an editor's file may have, and on bad input: damaged, disguised or
zip-bomb files and random bytes are a LoadError with a message, never a crash."""
from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from ingest.document import LoadError
from ingest.loaders import load
from ingest.loaders import docx as docx_loader
from tests.support.documents import CASE_HEAD, H_PRINCIPLE, PRINCIPLES, make_docx, make_pptx

# ---------------------------------------------------------------- .txt encodings

ENCODING_TEXTS = {
    "utf-8": f"{H_PRINCIPLE}\n{PRINCIPLES[0]}\n{CASE_HEAD}\n",
    "utf-8-sig": f"{H_PRINCIPLE}\n{PRINCIPLES[0]}\n{CASE_HEAD}\n",
    "utf-16": f"{H_PRINCIPLE}\n{PRINCIPLES[0]}\n{CASE_HEAD}\n",
    "gb18030": f"{H_PRINCIPLE}\n{PRINCIPLES[0]}\n{CASE_HEAD}\n",
    "gbk": f"{H_PRINCIPLE}\n{PRINCIPLES[0]}\n{CASE_HEAD}\n",
    "big5": "一、服務原則\n1. 先安撫客戶情緒，再核實訂單資訊。\n【案例】客戶收到破損商品要求退款\n",
}
EXPECTED_ENCODING = {"utf-8": "utf-8", "utf-8-sig": "utf-8-sig", "utf-16": "utf-16",
                     "gb18030": "gb18030", "gbk": "gb18030", "big5": "big5"}


@pytest.mark.parametrize("enc", list(ENCODING_TEXTS))
def test_txt_encodings(tmp_path, enc):
    text = ENCODING_TEXTS[enc]
    path = tmp_path / f"{enc}.txt"
    path.write_bytes(text.encode(enc))
    doc = load(path)
    assert doc.encoding == EXPECTED_ENCODING[enc]
    assert doc.text == text.rstrip("\n")
    assert doc.format == "txt" and doc.title == enc


SHORT_BIG5 = ["服務", "運費", "謝謝", "優惠券", "颱風停班", "客戶退款", "帳戶餘額", "臺灣門市營業時間", "請稍候",
              "謝謝您的耐心等候。"]
SHORT_GBK = ["退款", "运费", "谢谢", "优惠券", "网络购物", "台风停班", "客户", "请稍候", "谢谢您的耐心等候。", "投诉处理"]


@pytest.mark.parametrize(("codec", "detected", "text"), [("big5", "big5", t) for t in SHORT_BIG5]
                         + [("gbk", "gb18030", t) for t in SHORT_GBK])
def test_txt_short_chinese(tmp_path, codec, detected, text):
    path = tmp_path / "short.txt"
    path.write_bytes(text.encode(codec))
    doc = load(path)
    assert doc.encoding == detected
    assert doc.text == text


@pytest.mark.parametrize("text", ["café au lait", "Привет мир", "Ελληνικά", "日本語のテキストです"])
def test_txt_other_utf8_stays_utf8(tmp_path, text):
    path = tmp_path / "u.txt"
    path.write_bytes(text.encode("utf-8"))
    doc = load(path)
    assert (doc.encoding, doc.text) == ("utf-8", text)


def test_txt_binary_disguised(tmp_path):
    path = tmp_path / "fake.txt"
    path.write_bytes(bytes(range(256)) * 8)
    with pytest.raises(LoadError, match="binary|encoding"):
        load(path)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(200))
    with pytest.raises(LoadError):
        load(path)


# ---------------------------------------------------------------- bad input


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504)


@pytest.mark.parametrize("name,data,pattern", [
    ("old.doc", OLE, r"旧版 Word \.doc 不支持.*legacy \.doc"),
    ("old.ppt", OLE, r"旧版 PowerPoint \.ppt.*legacy \.ppt"),
    ("renamed_doc.docx", OLE, r"旧版 Word \.doc 不支持.*save as \.docx"),
    ("renamed_ppt.pptx", OLE, r"legacy \.ppt"),
    ("notzip.docx", "这不是压缩包".encode() * 20, r"不是有效的 Word.*not a valid Word"),
    ("notzip.pptx", b"hello world" * 20, r"not a valid PowerPoint"),
    ("empty.docx", b"", r"空文件 / empty file"),
    ("empty.pdf", b"", r"empty file"),
    ("empty.txt", b"", r"empty file"),
    ("empty.html", b"", r"empty file"),
    ("empty.md", b"", r"empty file"),
    ("corrupt.pdf", b"%PDF-1.4\n" + b"garbage " * 100, r"PDF"),
    ("nopdf.pdf", "这不是PDF".encode() * 30, r"不是有效的 PDF.*not a valid PDF"),
    ("file.xyz", b"abc", r"不支持的文件类型 / unsupported file type"),
    ("blank.txt", b"   \n\n  \n", r"没有可提取的文字 / no text"),
    ("blank.md", b"---\ntitle: x\n---\n\n", r"no text"),
    ("blank.html", b"<html><body><nav>menu</nav><script>x=1</script></body></html>", r"no text"),
])
def test_bad_input(tmp_path, name, data, pattern):
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(LoadError, match=pattern):
        load(path)


def test_zip_renamed_docx_and_pptx(tmp_path):
    z = _zip(tmp_path / "archive.docx", {"readme.txt": "hello".encode(), "data/a.csv": b"1,2,3"})
    with pytest.raises(LoadError, match=r"不是 Word 文档.*not a Word document"):
        load(z)
    z = _zip(tmp_path / "archive.pptx", {"readme.txt": b"hello"})
    with pytest.raises(LoadError, match=r"not a PowerPoint document"):
        load(z)
    # a .pptx renamed to .docx says what it looks like
    p = make_pptx(tmp_path / "x.pptx")
    renamed = tmp_path / "slides.docx"
    renamed.write_bytes(p.read_bytes())
    with pytest.raises(LoadError, match="PowerPoint"):
        load(renamed)


def test_corrupt_docx_package(tmp_path):
    # looks like a Word zip but the XML is broken
    z = _zip(tmp_path / "broken.docx", {
        "[Content_Types].xml": b"<Types",
        "word/document.xml": b"<w:document><<<",
    })
    with pytest.raises(LoadError, match="docx"):
        load(z)
    # truncated real file
    good = make_docx(tmp_path / "good.docx")
    cut = tmp_path / "cut.docx"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(LoadError):
        load(cut)


def test_corrupt_pptx_package(tmp_path):
    z = _zip(tmp_path / "broken.pptx", {"[Content_Types].xml": b"<x/>", "ppt/presentation.xml": b"<<<"})
    with pytest.raises(LoadError, match="pptx"):
        load(z)


@pytest.mark.parametrize("suffix", [".docx", ".pptx"])
def test_zip_bomb_ratio(tmp_path, suffix):
    main = "word/document.xml" if suffix == ".docx" else "ppt/presentation.xml"
    z = _zip(tmp_path / f"bomb{suffix}", {"[Content_Types].xml": b"<Types/>", main: b"\x00" * (20 * 1024 * 1024)})
    with pytest.raises(LoadError, match="压缩炸弹.*zip bomb"):
        load(z)


def test_zip_bomb_total_size(tmp_path, monkeypatch):
    monkeypatch.setattr(docx_loader, "MAX_UNCOMPRESSED_BYTES", 1024 * 1024)
    monkeypatch.setattr(docx_loader, "MAX_COMPRESSION_RATIO", 10 ** 9)
    import os

    z = _zip(tmp_path / "big.docx", {"word/document.xml": os.urandom(2 * 1024 * 1024)})
    with pytest.raises(LoadError, match="zip bomb"):
        load(z)


def test_zip_bomb_limits_are_module_constants():
    assert docx_loader.MAX_UNCOMPRESSED_BYTES == 200 * 1024 * 1024
    assert docx_loader.MAX_COMPRESSION_RATIO == 100


def test_docx_without_text(tmp_path):
    import docx

    d = docx.Document()
    d.add_paragraph("")
    d.save(str(tmp_path / "blank.docx"))
    with pytest.raises(LoadError, match="no text"):
        load(tmp_path / "blank.docx")


def test_pptx_without_text(tmp_path):
    from pptx import Presentation

    prs = Presentation()
    prs.slides.add_slide(prs.slide_layouts[6])
    prs.save(str(tmp_path / "blank.pptx"))
    with pytest.raises(LoadError, match="no text"):
        load(tmp_path / "blank.pptx")


@pytest.mark.parametrize("suffix", [".docx", ".pptx", ".pdf", ".html", ".md", ".txt"])
def test_random_bytes_are_a_load_error_with_a_message(tmp_path, suffix):
    import random

    rng = random.Random(7)
    for i in range(5):
        path = tmp_path / f"junk{i}{suffix}"
        path.write_bytes(bytes(rng.randrange(256) for _ in range(300 + 50 * i)))
        with pytest.raises(LoadError) as e:
            load(path)
        assert str(e.value)
