"""Splitting a cleaned document into passages along its own structure.

Headings come from the format (`Block.heading`: docx styles, <h2>, markdown '#', slide titles) or from the
text's numbering: 第N篇/章/节, 一、, (一), 1.1 / 1.1.1, 1. / 1、, 法则N, (1), indented short lines (bullet
sub-headings). Running headers that repeat a heading already on the path ("1.1 认识客户服务" printed on every
slide) are recognised and ignored. Case blocks (【案例】, 案例导入, 案例:…, stories under a 案例 heading, and
narrative paragraphs) become their own passages, whole where possible. Tiny fragments are merged with their
section siblings, long sections are cut at paragraph, then sentence boundaries.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from ingest.clean import CleanedBlock, CleanedDocument
from kb.sentences import sentence_spans
from kb.text import match_key, to_simplified

KIND_PRINCIPLE, KIND_CASE, KIND_OTHER = "principle", "case", "other"

MIN_CHARS = 50  # smaller principle/other units are merged with siblings (a 法则 or list item stands alone)
TARGET_CHARS = 300  # aim for this when a long section has to be cut
MAX_CHARS = 450  # principle/other passages longer than this are cut
MERGE_CHARS = 300  # tiny units are merged with siblings up to this size
CASE_MAX_CHARS = 1200  # a case longer than this is cut at paragraph boundaries (title repeated)
CASE_PART_CHARS = 800


@dataclass
class PassageDraft:
    title: str  # the passage's own heading (a case's title)
    section: list[str]  # heading path, outermost first (ends with the passage's own heading)
    kind: str  # principle | case | other
    text: str  # display text, in the document's own script
    start: int  # offsets into the extracted source text
    end: int
    page: int | None = None


# ----------------------------------------------------------------------------------------------------------
# Text pieces with offsets


@dataclass
class _Piece:
    text: str
    offsets: list[int]
    page: int | None = None

    @property
    def start(self) -> int:
        return self.offsets[0] if self.offsets else 0

    @property
    def end(self) -> int:
        return self.offsets[-1] + 1 if self.offsets else 0

    def cut(self, a: int, b: int) -> "_Piece":
        return _Piece(self.text[a:b], self.offsets[a:b], self.page)


def _piece(b: CleanedBlock) -> _Piece:
    return _Piece(b.text, b.offsets, b.page)


# ----------------------------------------------------------------------------------------------------------
# Heading detection

_CN = "一二三四五六七八九十百零〇"
_SENT_PUNCT = re.compile(r"[。；;!?！？]")
_HEADING_RULES: list[tuple[re.Pattern, float, bool]] = [
    # (pattern, rank, strong) — strong patterns are headings even when text follows on the same line
    (re.compile(rf"^第\s*[{_CN}\d]+\s*[篇编部](分)?(?![分门])"), 1.0, True),
    (re.compile(rf"^第\s*[{_CN}\d]+\s*[章讲课单](元)?"), 2.0, True),
    (re.compile(rf"^第\s*[{_CN}\d]+\s*节"), 3.0, True),
    (re.compile(rf"^[{_CN}]{{1,3}}\s*[、.．]\s*(?=\S)"), 4.0, True),
    (re.compile(rf"^[(（]\s*[{_CN}]{{1,3}}\s*[)）]\s*[、.]?|^[{_CN}]{{1,3}}[)）]\s*[、.]?"), 5.0, True),
    (re.compile(r"^\d{1,2}\.\d{1,2}\.\d{1,2}\.\d{1,2}(?![\d%])"), 8.0, True),
    (re.compile(r"^\d{1,2}\.\d{1,2}\.\d{1,2}(?![\d.%])"), 7.0, True),
    (re.compile(r"^\d{1,2}\.\d{1,2}(?![\d.%])\s*(?=[^\d\s%])"), 6.0, True),
    (re.compile(r"^(法则|原则|守则|准则|规则|第)\s*\d+\s*(条|则)?\s*(?=\S)"), 8.0, True),
    (re.compile(r"^\d{1,2}\s*[.、．](?!\d)\s*(?=\S)"), 5.8, False),
    (re.compile(r"^\d{1,2}(?![\d.、,，月日年号时点分个名位次项条种天周%])(?=[\u4e00-\u9fff])"), 7.5, False),
    (re.compile(r"^[(（]\d{1,2}[)）]\s*[、.]?"), 8.5, False),
    (re.compile(r"^[①②③④⑤⑥⑦⑧⑨⑩]"), 9.2, False),
]
_PART_HEADING = re.compile(r"^\S{2,8}[篇]$")
_KEYWORD_HEADING = re.compile(r"^(要点提示|本章小结|本章知识结构图|学习目标|单元导读|知识要点|内容提要|小结|总结|思考题|复习题)\b")
_CASE_MARK = re.compile(
    r"^[【\[]\s*(案例|案例导入|案例分析|典型案例|案例链接|小案例|实例|故事|小故事)\s*\d*\s*[】\]]\s*[:：]?\s*(.*)$"
    r"|^(案例导入|案例分析|典型案例|案例链接|小案例|案例\s*\d+|案例)\s*[:：]\s*(.*)$"
    r"|^(案例导入|案例分析|典型案例|案例链接|案例)$"
)
_OTHER_WORDS = re.compile(r"(前言|引言|导读|参考文献|参考资料|致谢|附录|作者简介|讲师简介|学习导航|学习目标|单元导读)")
_OTHER_TITLE = re.compile(
    rf"^([{_CN}\d.、()（）\s]*)(目录|主要内容|内容提要|引子|谢谢|本章知识结构图|知识结构图|简介|thank you|thanks)[!！.。]?$",
    re.IGNORECASE)
_CAPTION = re.compile(r"^图\s*\d+([-.]\d+)?\s")


def _simp(text: str) -> str:
    return to_simplified(text)


def _heading_title(text: str, limit: int = 24) -> str:
    """The heading part of a line that may continue with body text."""
    t = text.strip()
    m = re.search(r"[。；;!?！？:：]", t)
    if m and m.start() >= 2:
        t = t[: m.start() + (1 if t[m.start()] in "?？" else 0)]
    if len(t) > limit:
        cut = re.search(r"[,，(（]", t[4:])
        t = t[: 4 + cut.start()] if cut and 4 + cut.start() <= limit else t[:limit] + "…"
    return t.strip()


def _number_key(text: str) -> str | None:
    """The numbering of a heading ("1.1", "第1章", "一") used to recognise running headers."""
    s = _simp(text.strip())
    m = re.match(rf"^(第\s*[{_CN}\d]+\s*[篇编部章讲节]|\d+(?:\.\d+)+|[{_CN}]{{1,3}}(?=[、.．])|[(（][{_CN}]+[)）]|法则\s*\d+)", s)
    return re.sub(r"\s+", "", m.group(1)) if m else None


def detect_heading(block: CleanedBlock, explicit_doc: bool) -> tuple[float, str, bool] | None:
    """(rank, title, whole_line_is_heading) for a heading block, else None."""
    t = block.text.strip()
    if not t:
        return None
    if block.heading is not None:
        return float(block.heading), _heading_title(t, 40), True
    offset = 10.0 if explicit_doc else 0.0
    s = _simp(t)
    if _CAPTION.match(s):
        return None
    short = len(t) <= 30 and not _SENT_PUNCT.search(t) and not t.endswith((":", "：", ",", "，", "、"))
    for rx, rank, strong in _HEADING_RULES:
        m = rx.match(s)
        if not m:
            continue
        if not strong and not short:
            return None
        if len(t) - m.end() < 1:
            return None
        whole = short
        return rank + offset, (t if whole else _heading_title(t)), whole
    if _PART_HEADING.match(s):
        return 3.5 + offset, t, True
    if _KEYWORD_HEADING.match(s) and len(t) <= 12:
        return 9.5 + offset, t, True
    if block.indent and short and len(t) <= 24 and not block.slide:
        return 9.0 + offset, t, True
    return None


def _case_mark(text: str) -> tuple[bool, str] | None:
    m = _CASE_MARK.match(_simp(text.strip()))
    if not m:
        return None
    rest = next((g for g in (m.group(2), m.group(4)) if g), "")
    if rest:
        # title printed after the marker on the same line: keep the display script
        rest = text.strip()[len(text.strip()) - len(rest):]
    return True, rest


# ----------------------------------------------------------------------------------------------------------
# Narrative (unmarked case story) detection

_STORY_CUES = [
    r"一天|有一次|有一位|有位|某天|那天|曾经|后来|随后|于是",
    r"\d{1,2}月\d{1,2}日|\d{4}年",
    r"说[:：]?\s*“|问[:：]?\s*“|讲[:：]\s*“",
    r"先生|女士|小姐|夫妇|小[王李张刘陈赵]",
    r"经理|主管|服务员|店员|员工|工作人员|客人|女宾|游客",
    r"酒店|饭店|乐园|银行|餐厅|公司|商场|超市|营业厅",
    r"(了|着)[^，。,]{0,10}(了|着)",
]


def _is_story(text: str) -> bool:
    s = _simp(text)
    if len(s) < 150:
        return False
    hits = sum(1 for c in _STORY_CUES if re.search(c, s))
    quotes = s.count("“")
    return hits >= 5 or (hits >= 4 and quotes >= 2)


# ----------------------------------------------------------------------------------------------------------
# Inline headings glued into a long line ("…呢一、对位是关键…二、细节定成败…")


def _inline_sections(b: CleanedBlock) -> list[CleanedBlock]:
    if b.slide or len(b.text) < 200:
        return [b]
    marks = []
    nums = "一二三四五六七八九十"
    pos, k = 0, 0
    while k < len(nums):
        m = re.compile(rf"(?<![{_CN}第])({nums[k]})、").search(b.text, pos)
        if not m:
            break
        marks.append(m.start())
        pos, k = m.end(), k + 1
    if len(marks) < 3:
        return [b]
    cuts = [0] + marks + [len(b.text)]
    out = []
    for a, c in zip(cuts, cuts[1:]):
        t = b.text[a:c]
        lead = len(t) - len(t.lstrip())
        t2 = t.strip()
        if t2:
            out.append(CleanedBlock(text=t2, offsets=b.offsets[a + lead:a + lead + len(t2)], page=b.page,
                                    indent=False, new_article=b.new_article and not out))
    return out


# ----------------------------------------------------------------------------------------------------------
# Units: a heading (or case title) with its body blocks


@dataclass
class _Unit:
    kind: str
    title: str
    section: list[str]
    pieces: list[_Piece] = field(default_factory=list)
    heading_rank: float | None = None
    front: bool = False  # before the first heading of the document

    @property
    def size(self) -> int:
        return sum(len(p.text) for p in self.pieces)


def _same(a: str, b: str) -> bool:
    if not a or not b:
        return False
    return (a in b or b in a) and min(len(a), len(b)) >= 0.7 * max(len(a), len(b))


def _slide_title(text: str, prev: str, nxt: str) -> str:
    def common(a: str, b: str) -> str:
        n = 0
        while n < min(len(a), len(b)) and a[n] == b[n]:
            n += 1
        return a[:n]

    if len(text) <= 20 and not re.search(r"[-—:：]", text):
        return text
    best = max((common(text, prev), common(text, nxt)), key=len)
    if len(best) >= 4:
        t = re.split(r"[-—]", best)[0]
        return t.rstrip("-—:：,， ") or best
    m = re.search(r"[-—:：?？,，(（]", text[:24])
    if m and m.start() >= 2:
        return text[: m.start()]
    return text[:14] + ("…" if len(text) > 14 else "")


def _units(doc: CleanedDocument) -> list[_Unit]:
    explicit = any(b.heading is not None for b in doc.blocks)
    blocks: list[CleanedBlock] = []
    for b in doc.blocks:
        blocks.extend(_inline_sections(b))

    stack: list[tuple[float, str, str | None]] = []  # (rank, title, numbering key)
    units: list[_Unit] = []
    cur: _Unit | None = None
    seen_heading = False
    pending_case_title = False

    def path() -> list[str]:
        return [t for _, t, _ in stack]

    def new_unit(kind: str, title: str, rank: float | None) -> _Unit:
        nonlocal cur
        cur = _Unit(kind=kind, title=title, section=path(), heading_rank=rank, front=not seen_heading)
        units.append(cur)
        return cur

    # a run of three or more heading lines with no text between them is a table of contents
    toc: set[int] = set()
    hs = [detect_heading(b, explicit) if not b.slide else None for b in blocks]
    i = 0
    while i < len(blocks):
        j = i
        # indented short lines (bullets) are weak headings: a run of them is a list, not a table of contents
        while j < len(blocks) and hs[j] is not None and hs[j][2] and hs[j][0] % 10 != 9.0:
            j += 1
        if j - i >= 3 and sum(1 for k in range(i, j - 1) if hs[k + 1][0] <= hs[k][0]) >= 2:
            toc.update(range(i, j))
        i = max(j, i + 1)
    slide_texts = [b.text for b in blocks]
    item_bodies: dict[float, list[int]] = {}  # first-paragraph sizes of finished list items, by rank
    for i, b in enumerate(blocks):
        text = b.text.strip()
        if not text:
            continue
        if b.new_article:
            stack.clear()
            cur = None
        # case markers
        cm = _case_mark(text) if not b.slide else None
        if cm:
            _, rest = cm
            u = new_unit(KIND_CASE, rest or "案例", None)
            u.section = path()
            if rest:
                u.pieces.append(_piece(b))
                pending_case_title = False
            else:
                pending_case_title = True
                u.pieces.append(_piece(b))  # the marker itself, kept for readability
            continue
        if pending_case_title and cur is not None and cur.kind == KIND_CASE:
            pending_case_title = False
            if len(text) <= 30 and not _SENT_PUNCT.search(text.rstrip("?？!！")):
                cur.title = text
                cur.pieces.append(_piece(b))
                continue
        h = detect_heading(b, explicit) if i not in toc else None
        if b.slide:
            if h and h[2] and len(text) <= 40 and h[0] <= 5.0 + (10 if explicit else 0):
                pass  # a chapter divider slide
            else:
                h = None
        if h:
            rank, title, whole = h
            key = _number_key(title)
            tkey = match_key(title)
            # running header: repeats a heading already on the path
            if any((key and key == k) or (tkey and tkey == match_key(t)) for _, t, k in stack):
                if whole:
                    continue
            else:
                while stack and stack[-1][0] >= rank:
                    stack.pop()
                stack.append((rank, title, key))
                seen_heading = True
                kind = KIND_CASE if "案例" in _simp(title) and rank <= 6 + (10 if explicit else 0) else KIND_PRINCIPLE
                if "案例" in _simp(title) and rank > 6:
                    kind = KIND_CASE
                new_unit(kind, title, rank)
                cur.section = path()
                cur.pieces.append(_piece(b))
                continue
        if b.slide:
            sec = path()
            for lab in b.labels:
                lk = match_key(re.sub(rf"^[{_CN}]+[.、]", "", lab))
                if lk and not any(_same(lk, match_key(re.sub(rf"^[{_CN}]+[.、]", "", t))) for t in sec):
                    sec.append(re.sub(rf"^[{_CN}]+[.、]\s*", "", lab))
            prev = slide_texts[i - 1] if i > 0 else ""
            nxt = slide_texts[i + 1] if i + 1 < len(slide_texts) else ""
            title = _slide_title(text, prev, nxt)
            in_case = any("案例" in _simp(s) for s in sec)
            kind = KIND_CASE if in_case else KIND_PRINCIPLE
            if (cur is not None and cur.pieces and cur.section[:-1] == sec and cur.kind == kind and not cur.heading_rank
                    and len(title) >= 4 and match_key(cur.title)[:4] == match_key(title)[:4]
                    and cur.size + len(text) <= (CASE_MAX_CHARS if kind == KIND_CASE else MAX_CHARS + 200)):
                cur.pieces.append(_piece(b))
                continue
            u = new_unit(kind, title, None)
            u.section = sec + [title]
            u.pieces.append(_piece(b))
            continue
        # narrative paragraph inside a principle section: its own case unit
        if _is_story(text) and not (cur is not None and cur.kind == KIND_CASE):
            u = new_unit(KIND_CASE, _heading_title(text, 16), None)
            u.section = path()
            u.pieces.append(_piece(b))
            u.story = True  # type: ignore[attr-defined]
            continue
        # a long paragraph after a list of short items (法则N …) closes the list: it belongs to the parent
        if (cur is not None and cur.kind != KIND_CASE and cur.heading_rank is not None and cur.heading_rank >= 8
                and len(cur.pieces) >= 2 and stack and stack[-1][0] == cur.heading_rank):
            sizes = item_bodies.get(cur.heading_rank, [])
            if len(sizes) >= 3 and len(text) >= 150 and len(text) > 3 * sorted(sizes)[len(sizes) // 2]:
                stack.pop()
                cur = None
        if cur is not None and cur.heading_rank is not None and len(cur.pieces) == 1:
            item_bodies.setdefault(cur.heading_rank, []).append(len(text))
        if cur is None or getattr(cur, "story", False):
            kind = KIND_PRINCIPLE if seen_heading else KIND_OTHER
            title = stack[-1][1] if stack else doc.title
            new_unit(kind, title, None)
            cur.section = path()
        cur.pieces.append(_piece(b))
    return units


_CLOSING = re.compile(r"^(谢谢|谢谢大家|thank you|thanks|目录|参考文献|致谢|附录)[!！.。]?$", re.IGNORECASE)


def _unit_kind(u: _Unit, has_headings: bool) -> str:
    if _CLOSING.match(_simp(u.title).strip()):
        return KIND_OTHER
    if u.kind == KIND_CASE:
        return KIND_CASE
    if any(_OTHER_WORDS.search(_simp(s)) or _OTHER_TITLE.match(_simp(s)) for s in u.section[-2:]) \
            or _OTHER_WORDS.search(_simp(u.title)) or _OTHER_TITLE.match(_simp(u.title)):
        return KIND_OTHER
    body = [p for p in u.pieces[1:]] if u.heading_rank is not None else u.pieces
    if body and _OTHER_WORDS.match(_simp(body[0].text.strip())):
        return KIND_OTHER
    if u.front and has_headings:
        return KIND_OTHER
    return u.kind


# ----------------------------------------------------------------------------------------------------------
# Sizing


def _sentences(p: _Piece) -> list[_Piece]:
    return [p.cut(a, b) for a, b in sentence_spans(p.text)]


def _hard_cut(p: _Piece, size: int) -> list[_Piece]:
    """Cut a piece without sentence ends at commas, else at fixed width."""
    out, start = [], 0
    while len(p.text) - start > size:
        window = p.text[start:start + size]
        m = max(window.rfind(c) for c in ",，、 ")
        cut = start + (m + 1 if m > size // 3 else size)
        out.append(p.cut(start, cut))
        start = cut
    out.append(p.cut(start, len(p.text)))
    return out


def _chunk(pieces: list[_Piece], target: int, limit: int) -> list[list[_Piece]]:
    """Group pieces into chunks near `target` chars; pieces longer than `limit` are cut at sentences."""
    flat: list[_Piece] = []
    for p in pieces:
        if len(p.text) > limit:
            for s in _sentences(p):
                flat.extend(_hard_cut(s, limit) if len(s.text) > limit else [s])
        else:
            flat.append(p)
    chunks: list[list[_Piece]] = [[]]
    size = 0
    for p in flat:
        if chunks[-1] and size + len(p.text) > target and size >= target * 0.4:
            chunks.append([])
            size = 0
        chunks[-1].append(p)
        size += len(p.text)
    # avoid a tiny last chunk
    if len(chunks) > 1 and sum(len(p.text) for p in chunks[-1]) < MIN_CHARS:
        tail = chunks.pop()
        chunks[-1].extend(tail)
    return [c for c in chunks if c]


def _join(pieces: list[_Piece]) -> str:
    out = []
    for p in pieces:
        out.append(p.text.strip())
    return "\n".join(t for t in out if t)


def _draft(u: _Unit, kind: str, pieces: list[_Piece], prefix: str = "", title: str | None = None) -> PassageDraft:
    text = _join(pieces)
    if prefix and not text.startswith(prefix):
        text = prefix + "\n" + text
    return PassageDraft(
        title=title or u.title, section=list(u.section), kind=kind, text=text,
        start=min(p.start for p in pieces), end=max(p.end for p in pieces),
        page=next((p.page for p in pieces if p.page is not None), None),
    )


def split(doc: CleanedDocument) -> list[PassageDraft]:
    units = [u for u in _units(doc) if u.pieces and match_key(_join(u.pieces))]
    has_headings = any(u.heading_rank is not None for u in units)
    for u in units:
        u.kind = _unit_kind(u, has_headings)

    # a unit that is only its heading (a chapter divider) is carried into the next unit of its subtree
    carried: list[_Unit] = []
    for u in units:
        prev = carried[-1] if carried else None
        if (prev is not None and prev.heading_rank is not None and len(prev.pieces) == 1 and prev.size <= 40
                and u.section[: len(prev.section)] == prev.section and u is not prev):
            u.pieces = prev.pieces + u.pieces
            carried[-1] = u
            continue
        carried.append(u)
    units = carried

    # merge tiny principle/other units with the following sibling or child (same kind, same parent path)
    merged: list[_Unit] = []
    for u in units:
        prev = merged[-1] if merged else None
        if (prev is not None and prev.kind == u.kind and u.kind != KIND_CASE and prev.size < MIN_CHARS
                and prev.size + u.size <= MERGE_CHARS
                and u.section[: max(0, len(prev.section) - 1)] == prev.section[: max(0, len(prev.section) - 1)]):
            if u.section[: len(prev.section)] == prev.section:
                # a tiny intro followed by its first child: the child's path, the parent's text first
                prev.section = list(u.section)
                prev.title = u.title if prev.size < 40 else prev.title
            else:
                prev.section = prev.section[:-1] if len(prev.section) > 1 else prev.section
                if u.title not in prev.title and prev.title.count("；") < 2 and len(prev.title) + len(u.title) < 50:
                    prev.title = f"{prev.title}；{u.title}"
            prev.pieces.extend(u.pieces)
            continue
        if (prev is not None and u.kind == prev.kind and u.kind != KIND_CASE and u.size < MIN_CHARS
                and prev.size + u.size <= MERGE_CHARS and u.section[:-1] == prev.section[: len(u.section) - 1]
                and len(u.section) >= len(prev.section)):
            prev.pieces.extend(u.pieces)
            continue
        merged.append(u)

    drafts: list[PassageDraft] = []
    for u in merged:
        if u.kind == KIND_CASE:
            if u.size <= CASE_MAX_CHARS:
                drafts.append(_draft(u, u.kind, u.pieces))
            else:
                for k, chunk in enumerate(_chunk(u.pieces, CASE_PART_CHARS, CASE_PART_CHARS)):
                    drafts.append(_draft(u, u.kind, chunk, prefix=u.title if k else ""))
            continue
        if u.size <= MAX_CHARS:
            drafts.append(_draft(u, u.kind, u.pieces))
            continue
        for k, chunk in enumerate(_chunk(u.pieces, TARGET_CHARS, MAX_CHARS)):
            drafts.append(_draft(u, u.kind, chunk))
    return [d for d in drafts if match_key(d.text)]
