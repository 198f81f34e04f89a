"""HTML (BeautifulSoup + lxml): the main content only, h1–h6 as heading levels, lists and tables kept."""
from __future__ import annotations

import re
from pathlib import Path

from ingest.document import Block, LoadError, SourceDocument
from ingest.loaders.docx import table_rows
from ingest.loaders.text import assign_offsets, clean_line, decode, looks_binary, read_source, require_text

DROP_TAGS = (
    "script", "style", "noscript", "nav", "header", "footer", "aside", "form", "iframe", "button", "input",
    "select", "textarea", "svg", "template", "object", "embed", "canvas", "video", "audio", "map", "dialog",
    "head", "link", "meta",
)
# class/id tokens marking page furniture (matched per token, e.g. "ad-box", "comment_list", "sidebarLeft")
NOISE_TOKENS = (
    "ad", "ads", "advert", "advertisement", "adsbygoogle", "banner", "comment", "comments", "share", "sharing",
    "download", "downloads", "related", "recommend", "recommended", "sidebar", "breadcrumb", "breadcrumbs",
    "popup", "cookie", "social", "toolbar", "pager", "pagination", "copyright", "menu", "nav", "navbar",
    "navigation", "topbar", "footer", "header", "masthead", "login", "signin", "search", "qrcode", "gotop",
    "backtop", "guanggao", "pinglun", "xiazai", "fenxiang", "tuijian",
)
NOISE_PREFIXES = ("advert", "comment", "share", "download", "related", "recommend", "sidebar", "banner", "footer",
                  "navbar", "menu")
# short lines that are page furniture, not content
NOISE_LINE = re.compile(
    r"(点击|扫码|免费|立即)?下载|附件下载|相关下载|下载(地址|本文|附件|APP|客户端|文档)|分享到|上一篇|下一篇|返回顶部|"
    r"版权所有|copyright|all rights reserved|扫一扫|关注(我们|公众号)|打印本页|关闭窗口|字号[:：]?\s*[大中小]",
    re.I,
)
NOISE_LINE_MAX = 40

BLOCK_TAGS = {
    "p", "div", "section", "article", "main", "li", "ul", "ol", "dl", "dt", "dd", "blockquote", "pre",
    "h1", "h2", "h3", "h4", "h5", "h6", "table", "tr", "td", "th", "thead", "tbody", "tfoot", "caption",
    "figure", "figcaption", "address", "center", "hr", "body", "html", "details", "summary", "fieldset",
}
_CJK = r"\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef\u3000-\u303f"
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_\-]+)""", re.I)


def _tokens(tag) -> list[str]:
    vals = []
    for attr in ("class", "id"):
        v = tag.get(attr)
        if isinstance(v, list):
            vals.extend(v)
        elif v:
            vals.append(v)
    toks = []
    for v in vals:
        # split on separators and camelCase
        v = re.sub(r"([a-z])([A-Z])", r"\1 \2", str(v))
        toks.extend(t.lower() for t in re.split(r"[^A-Za-z0-9]+", v) if t)
    return toks


def _is_noise(tag) -> bool:
    for t in _tokens(tag):
        if t in NOISE_TOKENS or t.startswith(NOISE_PREFIXES):
            return True
    role = (tag.get("role") or "").lower()
    return role in {"navigation", "banner", "contentinfo", "complementary", "search"}


def _inline_text(s: str) -> str:
    # a newline in the source between two CJK characters is not a space
    s = re.sub(rf"(?<=[{_CJK}])[ \t]*[\r\n]+[ \t]*(?=[{_CJK}])", "", s)
    return re.sub(r"\s+", " ", clean_line(s))


class _Walker:
    def __init__(self):
        self.blocks: list[Block] = []
        self.buf: list[str] = []

    def flush(self):
        text = "".join(self.buf)
        self.buf = []
        for line in text.split("\n"):
            line = line.strip()
            if line:
                self.blocks.append(Block(text=line, start=0))

    def walk(self, node, list_depth: int = 0):
        from bs4 import Comment, NavigableString, Tag

        for child in node.children:
            if isinstance(child, Comment):
                continue
            if isinstance(child, NavigableString):
                if type(child) is NavigableString:  # not CData/Doctype/ProcessingInstruction
                    self.buf.append(_inline_text(str(child)))
                continue
            if not isinstance(child, Tag):
                continue
            name = child.name.lower()
            if name == "br":
                self.buf.append("\n")
                continue
            if name in ("h1", "h2", "h3", "h4", "h5", "h6"):
                self.flush()
                text = " ".join(_inline_text(child.get_text(" ")).split())
                if text:
                    self.blocks.append(Block(text=text, start=0, heading=int(name[1])))
                continue
            if name == "pre":
                self.flush()
                for line in clean_line(child.get_text()).split("\n"):
                    if line.strip():
                        self.blocks.append(Block(text=line.rstrip(), start=0))
                continue
            if name == "table":
                self.flush()
                self.table(child)
                continue
            if name in ("ul", "ol"):
                self.flush()
                self.list(child, ordered=(name == "ol"), depth=list_depth)
                continue
            if name in BLOCK_TAGS:
                self.flush()
                self.walk(child, list_depth)
                self.flush()
            else:
                self.walk(child, list_depth)

    def list(self, node, ordered: bool, depth: int):
        from bs4 import Tag

        try:
            n = int(node.get("start", 1))
        except ValueError:
            n = 1
        for li in node.find_all("li", recursive=False):
            if not isinstance(li, Tag):
                continue
            marker = f"{n}. " if ordered else "• "
            n += 1
            before = len(self.blocks)
            self.walk(li, depth + 1)
            self.flush()
            if len(self.blocks) > before:
                first = self.blocks[before]
                text = first.text
                # keep literal numbering the author typed ("1. …", "一、…")
                if not re.match(r"^\s*(\d+[.、．)]|[一二三四五六七八九十]+、|[（(][一二三四五六七八九十\d]+[)）]|•)", text):
                    text = marker + text
                first.text = "  " * depth + text

    def table(self, node):
        rows = []
        for tr in node.find_all("tr"):
            if tr.find_parent("table") is not node:
                continue
            cells = [" ".join(_inline_text(td.get_text(" ")).split()) for td in tr.find_all(["td", "th"], recursive=False)]
            rows.append(cells)
        for line in table_rows(rows):
            self.blocks.append(Block(text=line, start=0, table=True))


def _sniff_charset(raw: bytes) -> str | None:
    m = _META_CHARSET.search(raw[:4096])
    return m.group(1).decode("ascii", "ignore") if m else None


def _main_content(soup):
    for sel in ("main", "[role=main]", "article"):
        found = soup.select(sel)
        if found:
            return max(found, key=lambda t: len(t.get_text(strip=True)))
    return soup.body or soup


def _page_title(t: str, blocks: list[Block], stem: str) -> str:
    h1 = next((b.text for b in blocks if b.heading == 1), None)
    if t:
        # "文章标题 - 网站名" / "文章标题_网站名" / "文章标题 | 网站名"
        t = re.split(r"\s+[-|–—]\s+|_|\s*\|\s*", t)[0].strip()
    return t or h1 or stem


def load_html(path: Path) -> SourceDocument:
    raw = read_source(path)
    text, encoding = decode(raw, declared=_sniff_charset(raw))
    if looks_binary(text):
        raise LoadError("文件含二进制内容，不是网页 / file looks binary, not HTML")
    try:
        from bs4 import BeautifulSoup, Comment

        soup = BeautifulSoup(text, "lxml")
        page_title = soup.title.get_text(" ", strip=True) if soup.title else ""
        for c in soup.find_all(string=lambda s: isinstance(s, Comment)):
            c.extract()
        main = _main_content(soup)
        in_main = {id(x) for x in main.find_all(True)} if main is not soup else set()
        for tag in soup.find_all(DROP_TAGS):
            # an article's own <header> usually holds its title: keep it
            if tag.name == "header" and id(tag) in in_main and tag.find(["h1", "h2"]):
                continue
            if not getattr(tag, "decomposed", False):
                tag.decompose()
        main_len = len(main.get_text(strip=True)) or 1
        for tag in list(main.find_all(True)):
            if getattr(tag, "decomposed", False) or tag.attrs is None:
                continue
            if _is_noise(tag) and not tag.find("h1") and len(tag.get_text(strip=True)) < 0.5 * main_len:
                tag.decompose()
        walker = _Walker()
        walker.walk(main)
        walker.flush()
    except LoadError:
        raise
    except Exception as e:
        raise LoadError(f"网页无法解析 / cannot parse the HTML: {type(e).__name__}: {e}") from None

    blocks = [b for b in walker.blocks
              if not (b.heading is None and len(b.text) <= NOISE_LINE_MAX and NOISE_LINE.search(b.text))]
    require_text(blocks)
    assign_offsets(blocks)
    title = _page_title(page_title, blocks, path.stem)
    return SourceDocument(path=path, doc_id=path.name, format="html", title=title, blocks=blocks, encoding=encoding)
