"""Small documents of every editor format, built in the test run, with the headings and passages they hold
(tests/ingest: the loaders' tests)."""
from __future__ import annotations

from pathlib import Path

import pytest

from ingest.document import SourceDocument

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
