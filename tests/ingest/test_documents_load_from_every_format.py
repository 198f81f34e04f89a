"""Loaders for every editor format: real small files built in the test run, plus bad input → LoadError."""
from __future__ import annotations


import pytest

from ingest.document import LoadError
from ingest.loaders import LOADERS, SUPPORTED_SUFFIXES, load
from tests.support.documents import (CASE_BODY, CASE_HEAD, CASE_POINT, H_CASE, H_PRINCIPLE, HTML_PAGE, MARKDOWN,
                                      PRINCIPLES, TITLE, check_common, headings, make_docx, make_pdf, make_pptx,
                                      texts)


def test_registry():
    for suffix in (".txt", ".md", ".markdown", ".docx", ".pdf", ".pptx", ".html", ".htm"):
        assert suffix in LOADERS
        assert suffix in SUPPORTED_SUFFIXES


def test_docx(tmp_path):
    doc = load(make_docx(tmp_path / "退款规范.docx"))
    check_common(doc, "docx", "退款规范.docx")
    assert doc.title == TITLE
    # the Title paragraph is level 1; "Heading N" sections nest under it (like <h1> + <h2> in HTML)
    assert headings(doc) == [(1, TITLE), (2, H_PRINCIPLE), (3, "（一）时限要求"), (2, H_CASE)]
    t = texts(doc)
    # body order: principles before the table, table before the case heading
    assert t.index(PRINCIPLES[2]) < t.index("场景 | 处理时限") < t.index(H_CASE) < t.index(CASE_HEAD)
    rows = [b.text for b in doc.blocks if b.table]
    assert rows == ["场景 | 处理时限", "场景：退款 | 处理时限：二十四小时", "场景：投诉 | 处理时限：十二小时"]
    assert "1. 自动编号的条目" in t  # automatic numbering rendered
    assert all(b.page is None for b in doc.blocks)


def test_docx_title_falls_back_to_first_heading(tmp_path):
    import docx

    d = docx.Document()
    d.add_heading("投诉处理指引", level=1)
    d.add_paragraph("正文")
    d.core_properties.title = ""
    d.save(str(tmp_path / "a.docx"))
    doc = load(tmp_path / "a.docx")
    assert doc.title == "投诉处理指引"
    assert headings(doc) == [(1, "投诉处理指引")]


def test_docx_chinese_style_names_and_outline_level(tmp_path):
    import docx
    from docx.enum.style import WD_STYLE_TYPE
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    d = docx.Document()
    st = d.styles.add_style("标题 2", WD_STYLE_TYPE.PARAGRAPH)
    d.add_paragraph("二级标题", style=st)
    p = d.add_paragraph("大纲一级")
    ol = OxmlElement("w:outlineLvl")
    ol.set(qn("w:val"), "0")
    p._p.get_or_add_pPr().append(ol)
    d.add_paragraph("正文内容")
    d.save(str(tmp_path / "b.docx"))
    doc = load(tmp_path / "b.docx")
    assert headings(doc) == [(2, "二级标题"), (1, "大纲一级")]


def test_pptx(tmp_path):
    doc = load(make_pptx(tmp_path / "培训.pptx"))
    assert doc.format == "pptx" and doc.doc_id == "培训.pptx"
    assert doc.title == TITLE
    assert headings(doc) == [(1, TITLE), (1, H_PRINCIPLE), (1, H_CASE)]
    assert [b.page for b in doc.blocks if b.heading] == [1, 2, 3]
    t = texts(doc)
    for p in PRINCIPLES:
        assert "  " + p in t  # level-1 paragraphs indented; literal numbering kept without an extra bullet
    assert "    • 不打断客户陈述" in t  # bullet hierarchy: level 2
    assert CASE_HEAD in t and CASE_BODY in t
    notes = [b for b in doc.blocks if b.text.startswith("备注：")]
    assert [(b.text, b.page) for b in notes] == [("备注：讲解时强调先安抚再核实。", 2)]
    # notes come after the slide's own text
    slide2 = [b.text for b in doc.blocks if b.page == 2]
    assert slide2[0] == H_PRINCIPLE and slide2[-1].startswith("备注：")
    rows = [(b.text, b.page) for b in doc.blocks if b.table]
    assert rows[0] == ("场景 | 处理时限", 3) and rows[1][0] == "场景：退款 | 处理时限：二十四小时"
    # each slide's blocks stay together, in slide order
    pages = [b.page for b in doc.blocks]
    assert pages == sorted(pages)
    for b in doc.blocks:
        assert doc.text[b.start:b.start + len(b.text)] == b.text


@pytest.mark.parametrize("charset", ["utf-8", "gb2312", "gbk"])
def test_html(tmp_path, charset):
    page = HTML_PAGE.replace("{charset}", charset)
    path = tmp_path / "guide.html"
    path.write_bytes(page.encode("gb18030" if charset != "utf-8" else "utf-8"))
    doc = load(path)
    check_common(doc, "html", "guide.html")
    assert doc.title == TITLE
    assert doc.encoding == ("utf-8" if charset == "utf-8" else "gb18030")
    assert headings(doc) == [(1, TITLE), (2, H_PRINCIPLE), (2, H_CASE)]
    t = texts(doc)
    assert CASE_BODY in t  # the source line break between two Chinese characters is not a space
    joined = "\n".join(t)
    for noise in ("首页", "热门文章", "广告", "点击下载", "分享到", "网友评论", "写得很好", "相关文章",
                  "版权所有", "注释", "某某客服中心", "color"):
        assert noise not in joined, noise
    assert "场景：退款 | 处理时限：二十四小时" in t


def test_html_without_meta_charset_detected(tmp_path):
    path = tmp_path / "plain.htm"
    body = f"<html><body><h1>{TITLE}</h1><p>{CASE_HEAD}</p><p>{CASE_BODY}</p></body></html>"
    path.write_bytes(body.encode("gb18030"))
    doc = load(path)
    assert doc.encoding == "gb18030"
    assert headings(doc) == [(1, TITLE)]
    assert doc.title == TITLE
    assert CASE_BODY in texts(doc)


def test_markdown(tmp_path):
    path = tmp_path / "规范.md"
    path.write_text(MARKDOWN, encoding="utf-8")
    doc = load(path)
    check_common_md(doc)
    assert doc.title == TITLE
    assert headings(doc) == [(1, TITLE), (2, H_PRINCIPLE), (2, H_CASE)]
    t = texts(doc)
    assert "author: 培训组" not in "\n".join(t) and "---" not in t
    assert "- 保持礼貌用语" in t and "  - 称呼客户为“您”" in t
    assert CASE_POINT in t  # emphasis markers stripped
    assert "# 这不是标题" in t  # code fence content kept as text, not a heading
    assert "话术：您好，请问有什么可以帮您？" in t
    assert [b.text for b in doc.blocks if b.table] == ["场景 | 处理时限", "退款 | 二十四小时"]
    raw = path.read_text(encoding="utf-8")
    for b in doc.blocks:  # start points at the line in the file
        assert raw[b.start:].lstrip("#| *-").startswith(b.text.lstrip("#| -*")[:2])


def check_common_md(doc):
    assert doc.format == "md"
    t = texts(doc)
    for p in PRINCIPLES:
        assert p in t
    assert CASE_HEAD in t and CASE_BODY in t


def test_markdown_setext_and_gbk(tmp_path):
    path = tmp_path / "b.markdown"
    path.write_bytes(f"{TITLE}\n====\n\n{H_PRINCIPLE}\n----\n\n{PRINCIPLES[0]}\n".encode("gbk"))
    doc = load(path)
    assert doc.encoding == "gb18030"
    assert headings(doc) == [(1, TITLE), (2, H_PRINCIPLE)]
    assert doc.title == TITLE


@pytest.fixture(scope="module")
def pdf_sample(tmp_path_factory):
    path = tmp_path_factory.mktemp("pdf") / "退款规范.pdf"
    path, long_para = make_pdf(path)
    return path, long_para


def test_pdf(pdf_sample):
    path, long_para = pdf_sample
    doc = load(path)
    check_common(doc, "pdf", "退款规范.pdf")
    assert doc.title == TITLE
    t = texts(doc)
    # header and page-number footers removed
    assert not any("内部使用" in x for x in t), t
    assert not any("共 3 页" in x or x.startswith("第 ") for x in t), t
    # the long paragraph wrapped by the PDF comes back as one block, without inserted spaces
    assert long_para in t, t
    # short lines (headings, list items) stay separate
    assert H_PRINCIPLE in t and H_CASE in t and CASE_HEAD in t
    pages = {b.text: b.page for b in doc.blocks}
    assert pages[H_PRINCIPLE] == 1 and pages[CASE_HEAD] == 2 and pages["三、其他说明"] == 3
    assert t[0] == TITLE
    # font sizes: title 18pt → level 1, section headings 15pt → level 2, body 12pt
    assert headings(doc) == [(1, TITLE), (2, H_PRINCIPLE), (2, H_CASE), (2, "三、其他说明")]


def test_pdf_title_from_first_heading(tmp_path):
    path, _ = make_pdf(tmp_path / "x.pdf", pages=2, title_meta=False)
    assert load(path).title == TITLE


def test_pdf_single_page_keeps_lines(tmp_path):
    path, _ = make_pdf(tmp_path / "one.pdf", pages=1)
    doc = load(path)
    t = texts(doc)
    assert [b.page for b in doc.blocks] == [1] * len(t)
    assert "某某公司客服培训资料 内部使用" in t  # one page: nothing is "repeated"
    assert not any("共 1 页" in x for x in t)  # page number still dropped


def test_pdf_encrypted(tmp_path, pdf_sample):
    from pypdf import PdfReader, PdfWriter

    src, _ = pdf_sample
    w = PdfWriter(clone_from=PdfReader(str(src)))
    w.encrypt(user_password="secret", owner_password="owner", algorithm="RC4-128")
    locked = tmp_path / "locked.pdf"
    with open(locked, "wb") as f:
        w.write(f)
    with pytest.raises(LoadError, match="加密.*encrypted"):
        load(locked)

    # owner password only (empty user password): opens fine
    w = PdfWriter(clone_from=PdfReader(str(src)))
    w.encrypt(user_password="", owner_password="owner", algorithm="RC4-128")
    open_pdf = tmp_path / "owner_only.pdf"
    with open(open_pdf, "wb") as f:
        w.write(f)
    doc = load(open_pdf)
    assert CASE_HEAD in texts(doc)


def test_pdf_scanned(tmp_path):
    from fpdf import FPDF
    from PIL import Image

    img = Image.new("RGB", (200, 100), "white")
    for x in range(20, 180):
        img.putpixel((x, 50), (0, 0, 0))
    png = tmp_path / "scan.png"
    img.save(png)
    pdf = FPDF()
    pdf.add_page()
    pdf.image(str(png), x=10, y=10, w=180)
    path = tmp_path / "scan.pdf"
    pdf.output(str(path))
    with pytest.raises(LoadError, match="扫描版 PDF.*scanned PDF"):
        load(path)


# ---------------------------------------------------------------- through clean + split (same passages per format)


def _fold(s: str) -> str:
    import unicodedata

    return "".join(unicodedata.normalize("NFKC", s).split())


@pytest.fixture(scope="module")
def samples(tmp_path_factory, pdf_sample):
    d = tmp_path_factory.mktemp("samples")
    (d / "s.html").write_text(HTML_PAGE.replace("{charset}", "utf-8"), encoding="utf-8")
    (d / "s.md").write_text(MARKDOWN, encoding="utf-8")
    return {
        "docx": make_docx(d / "s.docx"), "pptx": make_pptx(d / "s.pptx"), "pdf": pdf_sample[0],
        "html": d / "s.html", "md": d / "s.md",
    }


@pytest.mark.parametrize("fmt", ["docx", "pptx", "pdf", "html", "md"])
def test_formats_yield_case_and_principle_passages(samples, fmt):
    from ingest.clean import clean
    from ingest.split import split

    drafts = split(clean(load(samples[fmt])))
    cases = [d for d in drafts if d.kind == "case"]
    case = next((d for d in cases if "杯子有裂痕" in _fold(d.title + d.text)), None)
    assert case is not None, [(d.kind, d.section, d.text[:30]) for d in drafts]
    # the case stays whole: its story and its handling points in one passage
    assert "破损商品" in _fold(case.title + case.text) and "先安抚、后核实" in _fold(case.text)
    assert any("典型案例" in s for s in case.section), case.section
    principles = [d for d in drafts if d.kind == "principle" and "先安抚客户情绪" in _fold(d.text)]
    assert principles, [(d.kind, d.section, d.text[:30]) for d in drafts]
    assert any("服务原则" in s for s in principles[0].section), principles[0].section
    if fmt == "pdf":
        assert case.page == 2 and principles[0].page == 1
    if fmt == "pptx":
        assert case.page == 3 and principles[0].page == 2
