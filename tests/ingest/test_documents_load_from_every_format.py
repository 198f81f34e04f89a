"""Loaders for every editor format: real small files built in the test run, plus bad input → LoadError."""
from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from ingest.document import LoadError, SourceDocument
from ingest.loaders import LOADERS, SUPPORTED_SUFFIXES, load
from ingest.loaders import docx as docx_loader

TITLE = "退款服务规范"
H_PRINCIPLE = "一、服务原则"
H_CASE = "二、典型案例"
PRINCIPLES = [
    "1. 先安抚客户情绪，再核实订单情况。",
    "2. 不得向客户承诺无法兑现的补偿。",
    "3. 处理结果须在二十四小时内回复客户。",
]
CASE_HEAD = "【案例】客户收到破损商品要求退款"
CASE_BODY = "客户反映收到的杯子有裂痕，要求全额退款。客服先致歉安抚，请客户上传照片，核实后当天办理退款并补偿优惠券。"
CASE_POINT = "处理要点：先安抚、后核实、快办理。"

# CJK TrueType fonts fpdf2 can embed (Debian: fonts-wqy-microhei, fonts-wqy-zenhei, fonts-arphic-uming).
# The Noto CJK .ttc (CFF outlines) embeds, but pypdf then extracts it with stray NULs.
CJK_FONTS = [
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/arphic/uming.ttc",
]


def cjk_font() -> str:
    """A CJK TrueType font to write the PDFs with; a clear failure (not a skip) where none is installed."""
    font = next((f for f in CJK_FONTS if Path(f).exists()), None)
    if font is None:
        pytest.fail("no CJK TrueType font for the PDF tests: run `make fonts` (Debian: fonts-wqy-microhei)")
    return font


def texts(doc: SourceDocument) -> list[str]:
    return [b.text for b in doc.blocks]


def headings(doc: SourceDocument) -> list[tuple[int, str]]:
    return [(b.heading, b.text) for b in doc.blocks if b.heading is not None]


def check_common(doc: SourceDocument, fmt: str, name: str):
    assert doc.format == fmt
    assert doc.doc_id == name
    t = texts(doc)
    for p in PRINCIPLES:
        assert any(p in x for x in t), (p, t)
    assert any(x.startswith(CASE_HEAD) for x in t), t
    assert any(CASE_BODY in x for x in t), t
    # block offsets point into doc.text
    for b in doc.blocks:
        assert doc.text[b.start:b.start + len(b.text)] == b.text


# ---------------------------------------------------------------- builders


def make_docx(path: Path, core_title: str | None = TITLE) -> Path:
    import docx

    d = docx.Document()
    if core_title:
        d.core_properties.title = core_title
    d.add_paragraph(TITLE, style="Title")
    d.add_heading(H_PRINCIPLE, level=1)
    for p in PRINCIPLES:
        d.add_paragraph(p)
    d.add_heading("（一）时限要求", level=2)
    t = d.add_table(rows=3, cols=2)
    for r, row in enumerate([("场景", "处理时限"), ("退款", "二十四小时"), ("投诉", "十二小时")]):
        for c, val in enumerate(row):
            t.cell(r, c).text = val
    d.add_heading(H_CASE, level=1)
    d.add_paragraph(CASE_HEAD)
    d.add_paragraph(CASE_BODY)
    d.add_paragraph(CASE_POINT)
    d.add_paragraph("自动编号的条目", style="List Number")
    d.save(str(path))
    return path


def make_pptx(path: Path) -> Path:
    from pptx import Presentation
    from pptx.util import Inches

    prs = Presentation()
    s = prs.slides.add_slide(prs.slide_layouts[0])
    s.shapes.title.text = TITLE
    s.placeholders[1].text = "客服培训 2024"

    s = prs.slides.add_slide(prs.slide_layouts[1])
    s.shapes.title.text = H_PRINCIPLE
    tf = s.placeholders[1].text_frame
    tf.text = "服务原则如下"
    for p in PRINCIPLES:
        para = tf.add_paragraph()
        para.text = p
        para.level = 1
    para = tf.add_paragraph()
    para.text = "不打断客户陈述"
    para.level = 2
    s.notes_slide.notes_text_frame.text = "讲解时强调先安抚再核实。"

    s = prs.slides.add_slide(prs.slide_layouts[1])
    s.shapes.title.text = H_CASE
    tf = s.placeholders[1].text_frame
    tf.text = CASE_HEAD
    for line in (CASE_BODY, CASE_POINT):
        tf.add_paragraph().text = line
    shape = s.shapes.add_table(3, 2, Inches(1), Inches(5.5), Inches(6), Inches(1.2))
    for r, row in enumerate([("场景", "处理时限"), ("退款", "二十四小时"), ("投诉", "十二小时")]):
        for c, val in enumerate(row):
            shape.table.cell(r, c).text = val
    prs.save(str(path))
    return path


HTML_PAGE = f"""<!DOCTYPE html>
<html><head><meta charset="{{charset}}"><title>{TITLE} - 某某客服中心</title>
<style>body {{{{ color: red }}}}</style><script>var ad = "广告脚本";</script></head>
<body>
<header><div class="logo">某某客服中心</div></header>
<nav><a href="/">首页</a><a href="/kb">知识库</a></nav>
<div id="sidebar"><p>热门文章：如何修改密码</p></div>
<main>
<article>
<h1>{TITLE}</h1>
<div class="ad-banner">限时优惠广告</div>
<h2>{H_PRINCIPLE}</h2>
<ol>
<li>{PRINCIPLES[0][3:]}</li>
<li>{PRINCIPLES[1][3:]}</li>
<li>{PRINCIPLES[2][3:]}</li>
</ol>
<h2>{H_CASE}</h2>
<p>{CASE_HEAD}</p>
<p>客户反映收到的杯子有裂痕，要求全额退款。客服先致歉安抚，
请客户上传照片，核实后当天办理退款并补偿优惠券。</p>
<p>{CASE_POINT}</p>
<table><tr><th>场景</th><th>处理时限</th></tr><tr><td>退款</td><td>二十四小时</td></tr></table>
<p class="download-tip">点击下载本文PDF版</p>
<div class="share-bar">分享到微信</div>
</article>
<section class="comments"><h3>网友评论</h3><p>写得很好！</p></section>
<div class="related-articles"><h3>相关文章</h3><p>售后服务流程</p></div>
</main>
<footer>版权所有 © 某某公司</footer>
<!-- 注释里的文字不要 -->
</body></html>
"""

MARKDOWN = f"""---
title: {TITLE}
author: 培训组
---

# {TITLE}

## {H_PRINCIPLE}

{PRINCIPLES[0]}
{PRINCIPLES[1]}
{PRINCIPLES[2]}

- 保持礼貌用语
  - 称呼客户为“您”

## {H_CASE}

{CASE_HEAD}
{CASE_BODY}
**{CASE_POINT}**

```
# 这不是标题
话术：您好，请问有什么可以帮您？
```

| 场景 | 处理时限 |
| --- | --- |
| 退款 | 二十四小时 |
"""


HEADINGS = (H_PRINCIPLE, H_CASE, "三、其他说明")


def make_pdf(path: Path, pages: int = 3, title_meta: bool = True) -> Path:
    from fpdf import FPDF

    font = cjk_font()
    pdf = FPDF()
    if title_meta:
        pdf.set_title(TITLE)
    pdf.add_font("cjk", fname=font)
    pdf.set_auto_page_break(False)

    def page(no: int, lines: list[str]):
        pdf.add_page()
        pdf.set_font("cjk", size=9)
        pdf.set_xy(10, 8)
        pdf.cell(0, 5, "某某公司客服培训资料 内部使用")
        pdf.set_xy(10, 25)
        for line in lines:
            size = 18 if line == TITLE else 15 if line in HEADINGS else 12
            pdf.set_font("cjk", size=size)
            pdf.multi_cell(0, 8 if size == 12 else 11, line, new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("cjk", size=9)
        pdf.set_xy(10, 280)
        pdf.cell(0, 5, f"第 {no} 页 共 {pages} 页", align="C")

    long_para = ("客户来电咨询退款进度时，客服应当首先核实订单号与客户身份，然后查询退款流水，"
                 "如果款项已经原路退回，需要告知客户银行入账通常需要一到三个工作日，请客户耐心等待。")
    page(1, [TITLE, H_PRINCIPLE] + PRINCIPLES + [long_para])
    if pages >= 2:
        page(2, [H_CASE, CASE_HEAD, CASE_BODY, CASE_POINT])
    for no in range(3, pages + 1):
        page(no, ["三、其他说明", "本规范自发布之日起执行。"])
    pdf.output(str(path))
    return path, long_para


# ---------------------------------------------------------------- formats


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


@pytest.mark.parametrize("text", ["服務", "運費", "謝謝", "優惠券", "颱風停班", "客戶退款", "帳戶餘額", "臺灣門市營業時間",
                                  "請稍候", "謝謝您的耐心等候。"])
def test_txt_short_big5(tmp_path, text):
    path = tmp_path / "short.txt"
    path.write_bytes(text.encode("big5"))
    doc = load(path)
    assert doc.encoding == "big5"
    assert doc.text == text


@pytest.mark.parametrize("text", ["退款", "运费", "谢谢", "优惠券", "网络购物", "台风停班", "客户", "请稍候",
                                  "谢谢您的耐心等候。", "投诉处理"])
def test_txt_short_gbk(tmp_path, text):
    path = tmp_path / "short.txt"
    path.write_bytes(text.encode("gbk"))
    doc = load(path)
    assert doc.encoding == "gb18030"
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
