"""Cleaning: keep what a document says, drop what the scraper added.

`clean(doc)` turns a loader's `SourceDocument` into a `CleanedDocument`:

* NFKC width folding and removal of pinyin junk "服務(wù)" (parentheses holding only Latin letters);
* mojibake runs ("?蛻粼谧畛蹩创": GBK/UTF-8 double-decoding garbage) are detected with a word/character
  frequency model (jieba's dictionary) and kept out of the text;
* site boilerplate (download/copyright notices, 上传人/文档编号 lines, "第N页 / 共N页" lists, repeated
  "…_第3頁" titles, ads, QQ lines, "相关文档", comment boxes, …) is removed line by line, plus the footer
  zone that follows a strong footer marker;
* run-together slide decks ("…服务创造价值1华夏基石…": slide numbers glued to the text, each slide followed
  by a truncated repeat of itself) are cut back into one block per slide, repeats and running section labels
  removed, duplicated slides dropped;
* page-chunk numbering ("1、第1章 …,…" / "2、…": a web viewer's page chunks, cut mid-sentence) is removed and
  the chunks are re-joined; comma-separated text boxes are split where a heading starts;
* hard-wrapped lines (fixed-width line breaks mid-sentence) are re-joined.

Display text stays in the document's own script (Traditional stays Traditional). Every cleaned block keeps,
for every character, its offset into the extracted source text, so passages can point back to the source.
"""
from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import asdict, dataclass, field
from functools import lru_cache, partial

from ingest.document import SourceDocument
from kb.text import PINYIN_JUNK, to_simplified

# ----------------------------------------------------------------------------------------------------------
# Data model


@dataclass
class CleanedBlock:
    """One cleaned line/paragraph/slide. `offsets[i]` is the source offset of `text[i]`."""

    text: str
    offsets: list[int]
    heading: int | None = None  # heading level given by the format (docx style, <h2>, markdown '#')
    page: int | None = None  # page/slide number, 1-based
    table: bool = False
    indent: bool = False  # the source line started with whitespace or a bullet (sub-heading hint)
    slide: bool = False  # one slide of a run-together deck
    new_article: bool = False  # a removed source attribution ("转自…") ended the previous article here
    labels: list[str] = field(default_factory=list)  # running section labels removed from a slide

    @property
    def start(self) -> int:
        return self.offsets[0] if self.offsets else 0

    @property
    def end(self) -> int:
        return self.offsets[-1] + 1 if self.offsets else 0


@dataclass
class CleanReport:
    pinyin_junk_removed: int = 0
    boilerplate_lines_removed: int = 0
    boilerplate_samples: list[str] = field(default_factory=list)
    title_lines_removed: int = 0
    mojibake_spans: int = 0
    mojibake_chars: int = 0
    mojibake_samples: list[str] = field(default_factory=list)
    duplicate_blocks_removed: int = 0
    slides_detected: int = 0
    page_chunks_joined: int = 0
    wrapped_lines_joined: int = 0
    chars_in: int = 0
    chars_out: int = 0
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)

    def summary(self) -> str:
        return (
            f"拼音垃圾 pinyin junk: {self.pinyin_junk_removed}, 样板行 boilerplate lines: "
            f"{self.boilerplate_lines_removed}, 乱码 mojibake: {self.mojibake_spans} spans / "
            f"{self.mojibake_chars} chars, 重复 duplicates: {self.duplicate_blocks_removed}"
        )


@dataclass
class CleanedDocument:
    doc_id: str
    title: str
    format: str
    blocks: list[CleanedBlock]
    report: CleanReport
    traditional: bool = False  # display text is in Traditional script
    source: SourceDocument | None = None

    @property
    def text(self) -> str:
        return "\n".join(b.text for b in self.blocks)


# ----------------------------------------------------------------------------------------------------------
# Offset-tracking string helpers


class _S:
    """A string plus the source offset of each of its characters."""

    __slots__ = ("text", "pos")

    def __init__(self, text: str, pos: list[int]):
        self.text = text
        self.pos = pos

    def __len__(self) -> int:
        return len(self.text)

    def slice(self, a: int, b: int) -> "_S":
        return _S(self.text[a:b], self.pos[a:b])

    def drop_spans(self, spans: list[tuple[int, int]]) -> "_S":
        if not spans:
            return self
        keep_t, keep_p, last = [], [], 0
        for a, b in sorted(spans):
            if a < last:
                a = last
            keep_t.append(self.text[last:a])
            keep_p.extend(self.pos[last:a])
            last = max(last, b)
        keep_t.append(self.text[last:])
        keep_p.extend(self.pos[last:])
        return _S("".join(keep_t), keep_p)

    def strip(self) -> "_S":
        t = self.text
        a, b = 0, len(t)
        while a < b and t[a].isspace():
            a += 1
        while b > a and t[b - 1].isspace():
            b -= 1
        return self.slice(a, b)

    @staticmethod
    def join(parts: list["_S"], sep: str = "") -> "_S":
        text, pos = [], []
        for i, p in enumerate(parts):
            if i and sep:
                text.append(sep)
                anchor = p.pos[0] if p.pos else (pos[-1] if pos else 0)
                pos.extend([anchor] * len(sep))
            text.append(p.text)
            pos.extend(p.pos)
        return _S("".join(text), pos)


_nfkc = lru_cache(maxsize=None)(partial(unicodedata.normalize, "NFKC"))  # per character: a few thousand keys


def _fold(text: str, start: int) -> _S:
    """NFKC per character, keeping each output character's source offset."""
    folded = list(map(_nfkc, text))
    joined = "".join(folded)
    if len(joined) == len(text):  # each character folded to one (NFKC never gives ''): offsets are consecutive
        return _S(joined, list(range(start, start + len(text))))
    pos = []
    for i, f in enumerate(folded):
        pos.extend([start + i] * len(f))
    return _S(joined, pos)


_SPACE_RUN = re.compile(r"[ \t\u3000\xa0]+")
_CJK = r"\u3400-\u4dbf\u4e00-\u9fff"
_CJK_CHAR = re.compile(rf"[{_CJK}]")
_CJK_GAP = re.compile(rf"(?<=[，。、：；！？“”])\s+(?=[{_CJK}])|(?<=[{_CJK}])\s+(?=[，。、：；！？“”,.;:!?])")


def _squeeze(s: _S) -> _S:
    """Collapse runs of blanks to one space; drop blanks between two CJK characters."""
    spans = []
    for m in _SPACE_RUN.finditer(s.text):
        if m.end() - m.start() > 1 or m.group() != " ":
            spans.append((m.start() + (0 if m.group() == " " else 0), m.end()))
    # rebuild: replace each run by a single space
    text, pos, last = [], [], 0
    for a, b in spans:
        text.append(s.text[last:a])
        pos.extend(s.pos[last:a])
        text.append(" ")
        pos.append(s.pos[a])
        last = b
    text.append(s.text[last:])
    pos.extend(s.pos[last:])
    s = _S("".join(text), pos)
    gaps = [(m.start(), m.end()) for m in _CJK_GAP.finditer(s.text)]
    return s.drop_spans(gaps).strip()


# ----------------------------------------------------------------------------------------------------------
# Script detection


@lru_cache(maxsize=1)
def _s2t():
    from opencc import OpenCC

    return OpenCC("s2t")


def is_traditional(text: str) -> bool:
    """Traditional if a noticeable share of Han characters change under Traditional→Simplified."""
    han = [c for c in text if "\u4e00" <= c <= "\u9fff"]
    if len(han) < 20:
        return False
    sample = "".join(han[:20000])
    simp = to_simplified(sample)
    changed = sum(1 for a, b in zip(sample, simp) if a != b)
    return changed / len(sample) > 0.03


@lru_cache(maxsize=8192)
def _simplified_only(ch: str) -> bool:
    """A character that only exists in Simplified script (it changes under s2t, not under t2s)."""
    return to_simplified(ch) == ch and _s2t().convert(ch) != ch


# ----------------------------------------------------------------------------------------------------------
# Mojibake detection


@lru_cache(maxsize=1)
def _jieba():
    import logging

    import jieba

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    return jieba


RARE = 500  # a single-character token rarer than this (jieba dictionary count) is suspicious
UNCOMMON = 5000
_PINYIN_REMNANT = re.compile(r"\?[A-Za-z\u00C0-\u024F\u0300-\u036F]{1,8}\)")
_ODD_CHAR = re.compile(r"[\ue000-\uf8ff\u2e80-\u2fdf\u3040-\u30ff\u3100-\u312f\u31a0-\u31bf\ufffd\u0370-\u03ff\u0400-\u04ff]")


@lru_cache(maxsize=None)  # jieba's global dictionary never changes (kb.tokenize adds words to its own copy)
def _char_class(tok: str, traditional: bool) -> int:
    """2 strong garbage, 1 weak, 0 normal (for a single-character token)."""
    if _ODD_CHAR.match(tok):
        return 2
    if tok == "?":
        return 1
    if _CJK_CHAR.match(tok):
        freq = _jieba().dt.FREQ
        f = freq.get(to_simplified(tok), 0)
        if f < RARE:
            return 2
        if traditional and _simplified_only(tok):
            return 2
        if f < UNCOMMON:
            return 1
        return 0
    if re.match(r"[A-Za-z_]", tok):
        return 1
    return 0


def find_mojibake(text: str, traditional: bool) -> list[tuple[int, int]]:
    """Spans of double-decoding garbage: runs of rare, unsegmentable characters, usually next to '?'.

    The text is segmented with jieba (no HMM) on its Simplified form: real text is covered by dictionary
    words and common single characters; garbage falls apart into rare single characters, characters from the
    wrong script (Simplified-only characters in a Traditional document), private-use/radical code points and
    '?' replacement marks.
    """
    if not text:
        return []
    # Every reported span holds a strong mark: a pinyin remnant or a character of class 2. Without one there is
    # nothing to find, and no need to segment (most lines of a clean document).
    if not _PINYIN_REMNANT.search(text) and all(_char_class(c, traditional) < 2 for c in set(text)):
        return []
    jb = _jieba()
    simp = to_simplified(text)
    if len(simp) != len(text):  # t2s is length-preserving for nearly all text; fall back per character
        simp = "".join(to_simplified(c) for c in text)
    marks = [0] * len(text)  # per character: 2 strong, 1 weak, 0 normal, -1 word
    for m in _PINYIN_REMNANT.finditer(text):
        for i in range(m.start(), m.end()):
            marks[i] = 2
    for w, a, b in jb.tokenize(simp, HMM=False):
        if b - a == 1:
            if marks[a] == 0:
                marks[a] = _char_class(text[a], traditional)
        else:
            for i in range(a, b):
                if marks[i] == 0:
                    marks[i] = -1 if _CJK_CHAR.match(text[i]) else 0
    # Latin letters glued to a pinyin remnant or inside a garbage run are weak, others normal.
    spans: list[tuple[int, int]] = []
    i, n = 0, len(text)
    while i < n:
        if marks[i] <= 0:
            i += 1
            continue
        j = i
        while j < n:
            if marks[j] > 0:
                j += 1
                continue
            # bridge one normal single character between suspicious characters
            if marks[j] == 0 and j + 1 < n and marks[j + 1] > 0 and _CJK_CHAR.match(text[j]):
                j += 1
                continue
            break
        run = text[i:j]
        strong = sum(1 for k in range(i, j) if marks[k] == 2)
        has_q = "?" in run
        han = sum(1 for c in run if _CJK_CHAR.match(c) or _ODD_CHAR.match(c))
        if (strong >= 2 and han >= 2) or (strong >= 1 and has_q and han >= 2) or (strong >= 3):
            # a genuine question mark ends a sentence: keep it if it is the first character of the run
            a = i
            if text[a] == "?" and not _PINYIN_REMNANT.match(text, a) and a > 0 and marks[a - 1] <= 0:
                a += 1
            # trailing '?' belongs to the garbage only if garbage precedes it
            spans.append((a, j))
        i = j
    # garbage separated by a few non-Han characters ("男菹10.突顒佣") is one span
    merged: list[tuple[int, int]] = []
    for a, b in spans:
        if merged and a - merged[-1][1] <= 4 and not _CJK_CHAR.search(text[merged[-1][1]:a]):
            merged[-1] = (merged[-1][0], b)
        else:
            merged.append((a, b))
    return merged


# ----------------------------------------------------------------------------------------------------------
# Boilerplate


# Whole-line patterns (matched on the Simplified, space-normalised line).
_BOILER_LINE = [
    r"第\s*\d+\s*页\s*/\s*共\s*\d+\s*页",
    r".{0,80}_第\s*\d+\s*页",
    r".{0,80}[,，]\s*第\s*\d+\s*张",
    r"(返回|下载|相关|举报|分享|收藏|打印|\s)+",
    r"\d+\s*/\s*\d+",
    r"(评论|提交评论|发表评论|相关文档|最新文档|相关资源|相关搜索|猜你喜欢|资源描述|文档简介|温馨提示|展开阅读全文"
    r"|下载本文档|点击查看更多.*|阅读全文|查看更多|收起|举报|上一页|下一页|首页|目录导航|本文档|免费下载)\s*[>》]*",
    r"\S{1,8}(\s+\d+){1,3}",  # "客户 0 60": category / views / comments
    r"[A-Z]{2,}\d{4,}",  # course code "MAM080101"
    r"(转自|转载自|来源|来自|摘自|本文来自|原文)[:：]?.{0,30}",
    r"(大小|点数|格式|页数|上传时间|文件大小)\s*[:：。].{0,30}",
    r"[A-Z ]*\b(SITE|LOGO|TITLE|TEXT|COMPANY) HERE\b[A-Z ]*|(?i:click to (add|edit).{0,30})",
]
_BOILER_LINE_RE = re.compile("^(?:" + "|".join(f"(?:{p})" for p in _BOILER_LINE) + r")$")

# Keywords that mark a short line (< 160 chars) as site boilerplate wherever they occur.
_BOILER_KEYWORDS = re.compile(
    r"(上传人|上传者|上传时间|文档编号|版权说明|版权所有|版权归|侵权|举报|认领|收益归属|内容提供方|在线阅读|会员分享"
    r"|免费阅读|页未读|还剩\d+页|展开阅读全文|点击查看更多|下载本文档|下载文档|下载更方便|免费下载|下载观看"
    r"|网盘|咨询\s*QQ|QQ\s*[:：]?\s*\d{5,}|VIP|备案号|ICP|公网安备|经营许可证|当前位置\s*[:：]|本站|人工客服工作时间"
    r"|请在.{0,10}上搜索|资源整合网|学习资源|开通.{0,6}会员|\b\w+\.(?:cn|com|net|org)\b|文库|不承担.{0,10}责任"
    r"|所有权益归|盈利用途|平台不提供|申请退款|甄别文档)",
    re.IGNORECASE,
)
# A footer marker: everything after it is site chrome when little text follows.
_FOOTER_MARK = re.compile(r"^(温馨提示|相关文档|最新文档|展开阅读全文|相关资源|猜你喜欢|相关搜索|提交评论|评论)\s*[:：]?$")


def _is_boilerplate(line_s: str) -> bool:
    s = line_s.strip()
    if not s:
        return True
    if _BOILER_LINE_RE.match(s):
        return True
    if len(s) < 160 and _BOILER_KEYWORDS.search(s):
        return True
    return False


# ----------------------------------------------------------------------------------------------------------
# Title


_TITLE_TAGS = re.compile(r"【[^】]{0,12}】|\[[^\]]{0,12}\]")
_TITLE_SUFFIXES = [
    re.compile(r"\s*[_,，]\s*第\s*\d+\s*[页頁张張]$"),
    re.compile(r"\s*[(（]\s*\d+\s*[页頁]\s*珍藏版\s*[)）]$"),
    re.compile(r"\.(pptx?|docx?|pdf|txt|html?|md|wps|xlsx?)$", re.IGNORECASE),
    re.compile(r"\s*ppt\s*(课件|課件)?$", re.IGNORECASE),
    re.compile(r"\s*(课件|課件)$"),
]
_ID_LIKE = re.compile(r"^[0-9a-fA-F_\-\s]+$|^\d+_[0-9a-fA-F]{6,}$")


def _title_norm(text: str) -> str:
    t = PINYIN_JUNK.sub("", unicodedata.normalize("NFKC", text)).strip()
    t = _TITLE_TAGS.sub("", t).strip()
    changed = True
    while changed:
        changed = False
        for rx in _TITLE_SUFFIXES:
            t2 = rx.sub("", t).strip()
            if t2 != t and t2:
                t, changed = t2, True
    t = re.sub(r"^[《“\"]|[》”\"]$", "", t).strip()
    return _SPACE_RUN.sub(" ", t)


def _key(text: str) -> str:
    from kb.text import match_key

    return match_key(text)


def clean_title(doc: SourceDocument) -> str:
    """A readable document title: the loader's title unless it is a file id, else the text's own title line."""
    given = _title_norm(doc.title or "")
    if given and not _ID_LIKE.match(given) and len(given) >= 2:
        return given
    cands: list[str] = []
    for b in doc.blocks[:25]:
        raw = b.text.strip()
        if not raw or len(raw) > 80:
            continue
        simp = to_simplified(PINYIN_JUNK.sub("", unicodedata.normalize("NFKC", raw)))
        t = _title_norm(raw)
        if len(t) < 4 or len(t) > 60:
            continue
        if _BOILER_KEYWORDS.search(simp) and not re.search(r"_第\s*\d+\s*[页頁]$|第\s*\d+\s*张$", simp):
            continue
        if re.search(r"[。；;!?！？]", t[:-1]):
            continue
        cands.append(t)
    if not cands:
        return given or doc.doc_id
    counts = Counter(_key(c) for c in cands)
    best_key, n = counts.most_common(1)[0]
    if n >= 2:
        return next(c for c in cands if _key(c) == best_key)
    return cands[0]


# ----------------------------------------------------------------------------------------------------------
# Run-together slide decks


_SLIDE_NO = re.compile(r"(?<![\d%])(?<!\d[.,])(\d{1,3})(?![\d%.,:、)）/])")
_CN_NUM = "一二三四五六七八九十"


def _has_repeat(seg: str) -> int:
    """Index where a slide's truncated self-repeat starts (the viewer's preview text), or -1."""
    s = seg.strip()
    if len(s) < 4:
        return -1
    lead = len(seg) - len(seg.lstrip())
    half = len(s) // 2
    if len(s) % 2 == 0 and s[:half] == s[half:]:
        return lead + half
    head = s[:4]
    best, best_m = -1, 0
    idx = s.find(head, max(4, int(len(s) * 0.3)))
    while idx >= 0:
        m = 0
        while idx + m < len(s) and s[idx + m] == s[m]:
            m += 1
        tail = len(s) - idx
        if m > best_m and (tail <= 120 or m >= 0.6 * tail):
            best, best_m = idx, m
        idx = s.find(head, idx + 1)
    return lead + best if best >= 0 else -1


def _find_slides(text: str) -> list[tuple[int, int]]:
    """(number start, number end) of glued slide numbers 1, 2, 3, … in order, or [] when not a deck."""
    cands: dict[int, list[re.Match]] = {}
    for m in _SLIDE_NO.finditer(text):
        cands.setdefault(int(m.group(1)), []).append(m)
    found: list[tuple[int, int]] = []
    pos, n = 0, 1
    while True:
        ms = [m for m in cands.get(n, []) if m.start() >= pos]
        if not ms:
            break
        nxt = [m.start() for m in cands.get(n + 1, []) if m.start() > ms[0].end()]
        limit = min(nxt) if nxt else len(text)
        chosen = None
        for m in ms:
            if m.start() > limit:
                break
            if _has_repeat(text[pos:m.start()]) >= 0:
                chosen = m
                break
        if chosen is None:
            chosen = ms[0]
        if chosen.start() - pos < 2:
            break
        found.append((chosen.start(), chosen.end()))
        pos, n = chosen.end(), n + 1
    if len(found) < 8:
        return []
    segs, prev = [], 0
    for a, b in found:
        segs.append(text[prev:a])
        prev = b
    ok = sum(1 for s in segs if _has_repeat(s) >= 0)
    if ok < 0.5 * len(segs):
        return []
    return found


def _recurring_labels(bodies: list[str]) -> list[str]:
    """Running section labels ("七.案例迪斯尼") printed on many slides of a deck."""
    starts = [(i, m.start()) for i, b in enumerate(bodies) for m in re.finditer(rf"[{_CN_NUM}]+[.、]", b)]
    conts = [bodies[i][p:p + 30] for i, p in starts]
    # how many continuations start with a given prefix (4+ characters): counted once, not per continuation
    prefixes = Counter(o[:L] for o in conts for L in range(4, len(o) + 1))
    labels: set[str] = set()
    for c in conts:
        best = None
        for L in range(4, len(c) + 1):
            cnt = prefixes[c[:L]]
            if cnt < 3:
                break
            if best is not None and cnt < 0.6 * best[1] and cnt < 8:
                break
            best = (c[:L], cnt)
        if best:
            labels.add(best[0].rstrip(":：-— "))
    # keep the longest labels first so that "七.案例迪斯尼" is removed before "七.案例"
    return sorted(labels, key=len, reverse=True)


def _recurring_suffixes(bodies: list[str]) -> list[str]:
    """Sub-section labels printed at the end of several slides ("运用产品/服务知识帮助客户明确需求")."""
    found: set[str] = set()
    ends = Counter()
    for b in bodies:
        for L in range(6, min(30, len(b) - 4) + 1):
            ends[b[-L:]] += 1
    for s, c in ends.items():
        if c >= 3 and not any(o != s and o.endswith(s) and ends[o] >= c for o in ends if len(o) == len(s) + 1):
            found.add(s)
    # only keep maximal strings that start at a plausible boundary
    out = [s for s in found if not any(o != s and o.endswith(s) for o in found)]
    return sorted(out, key=len, reverse=True)


def _split_deck(blocks: list[CleanedBlock], report: CleanReport) -> list[CleanedBlock]:
    if not blocks:
        return blocks
    stream = _S.join([_S(b.text, b.offsets) for b in blocks], "")
    owner = []
    for i, b in enumerate(blocks):
        owner.extend([i] * len(b.text))
    nums = _find_slides(stream.text)
    if not nums:
        return blocks
    first_block = owner[nums[0][0]]
    deck_start = sum(len(b.text) for b in blocks[:first_block])
    last_block = owner[nums[-1][0]]
    deck_end = sum(len(b.text) for b in blocks[: last_block + 1])
    segs: list[tuple[int, int, int]] = []  # (start, end, slide number)
    prev = deck_start
    for k, (a, b) in enumerate(nums):
        segs.append((prev, a, k + 1))
        prev = b
    if deck_end - prev > 0:
        segs.append((prev, deck_end, len(nums) + 1))
    bodies: list[_S] = []
    for a, b, _ in segs:
        seg = stream.slice(a, b)
        r = _has_repeat(seg.text)
        if r > 0:
            seg = seg.slice(0, r)
        bodies.append(seg.strip())
    labels = _recurring_labels([s.text for s in bodies])
    slides: list[CleanedBlock] = []
    seen: set[str] = set()
    stripped = []
    for s in bodies:
        found = []
        t = s.text
        spans = []
        for lab in labels:
            for m in re.finditer(re.escape(lab), t):
                if any(a < m.end() and m.start() < b for a, b in spans):
                    continue
                spans.append((m.start(), m.end()))
                found.append(lab)
        rest = s.drop_spans(spans).strip() if spans else s
        if len(_key(rest.text)) < 2:  # the slide is the label itself: a chapter divider
            rest, found = s, []
        stripped.append((rest, found))
    subs = _recurring_suffixes([r.text for r, _ in stripped])
    for (rest, found), (_, _, no) in zip(stripped, segs):
        for sfx in subs:
            if rest.text.endswith(sfx) and len(rest.text) > len(sfx) + 4:
                rest = rest.slice(0, len(rest.text) - len(sfx)).strip()
                found = found + [sfx.lstrip("?？!！,，;；:： ")]
                break
        k = _key(rest.text)
        if not k:
            continue
        if len(k) >= 2 and (k in seen or (len(k) >= 10 and any(k in o for o in seen))):
            report.duplicate_blocks_removed += 1
            continue
        seen.add(k)
        slides.append(CleanedBlock(text=rest.text, offsets=rest.pos, page=no, slide=True, labels=found))
    report.slides_detected = len(segs)
    before = blocks[:first_block]
    # text of the first deck block before the deck start, and blocks after the deck, stay as they are
    after = blocks[last_block + 1:]
    return before + slides + after


# ----------------------------------------------------------------------------------------------------------
# Page chunks ("1、…" "2、…") and comma-separated text boxes


_CHUNK_NO = re.compile(r"^(\d{1,3})、")
_SENT_END = "。！？!?；;”」』)）】"
_HEADING_SEG = re.compile(
    r"^(第\s*[\d一二三四五六七八九十百]+\s*[章节篇部分单元讲课]\s*\S.{0,25}"
    r"|\d+(?:\.\d+)+\s*\S.{0,25}"
    r"|\d{1,2}(?![月日年号时点分个名位次项条种天周])[\u4e00-\u9fff][^,，。；;:：!?！？]{1,20}"
    r"|[(（]\d{1,2}[)）]\s*\S[^。；;!?！？]{0,25}"
    r"|案例导入|案例分析|本章小结|本章知识结构图|学习目标.*|单元导读.*|想一想.*|练一练.*|议一议.*|做一做.*"
    r"|【[^】]{1,10}】.*)$"
)


def _join_page_chunks(blocks: list[CleanedBlock], report: CleanReport) -> list[CleanedBlock]:
    """Sequential "N、" line prefixes are a viewer's page chunks: drop the number, re-join cut sentences."""
    idx = [i for i, b in enumerate(blocks) if _CHUNK_NO.match(b.text)]
    seq, expect = [], 1
    for i in idx:
        if int(_CHUNK_NO.match(blocks[i].text).group(1)) == expect:
            seq.append(i)
            expect += 1
    if len(seq) < 3 or sum(len(blocks[i].text) for i in seq) < 1500:
        return blocks
    seqset = set(seq)
    marks: list[tuple[int, int]] = []  # (source offset where a page chunk starts, page number)
    out: list[CleanedBlock] = []
    for i, b in enumerate(blocks):
        if i not in seqset:
            out.append(b)
            continue
        m = _CHUNK_NO.match(b.text)
        page = int(m.group(1))
        s = _S(b.text, b.offsets).slice(m.end(), len(b.text)).strip()
        if s.pos:
            marks.append((s.pos[0], page))
        nb = CleanedBlock(text=s.text, offsets=s.pos, page=page, heading=b.heading, table=b.table)
        if out and out[-1].page is not None and i - 1 in seqset and out[-1].text and \
                out[-1].text[-1] not in _SENT_END + ",，" and s.text[:1] not in ",，":
            prev = out[-1]
            j = _S.join([_S(prev.text, prev.offsets), s], "")
            out[-1] = CleanedBlock(text=j.text, offsets=j.pos, page=prev.page)
            report.page_chunks_joined += 1
        elif out and out[-1].page is not None and i - 1 in seqset:
            prev = out[-1]
            j = _S.join([_S(prev.text, prev.offsets), s], "")
            out[-1] = CleanedBlock(text=j.text, offsets=j.pos, page=prev.page)
            report.page_chunks_joined += 1
        else:
            out.append(nb)
    # split the joined chunk text at commas that open a heading-like text box
    final: list[CleanedBlock] = []
    for b in out:
        if b.page is None or b.text.count(",") < 5:
            final.append(b)
            continue
        final.extend(x for x in _split_text_boxes(b) if not _BOILER_LINE_RE.match(x.text))
    import bisect

    starts = [o for o, _ in marks]
    for b in final:
        if b.page is not None and starts:
            k = bisect.bisect_right(starts, b.start) - 1
            if k >= 0:
                b.page = marks[k][1]
    return final


def _split_text_boxes(b: CleanedBlock) -> list[CleanedBlock]:
    s = _S(b.text, b.offsets)
    cuts = [0]
    for m in re.finditer(r",", s.text):
        seg_end = s.text.find(",", m.end())
        seg = s.text[m.end(): seg_end if seg_end >= 0 else len(s.text)].strip()
        if _HEADING_SEG.match(seg):
            cuts.append(m.start())
            # a short heading box also ends at its own comma
            if seg_end >= 0 and len(seg) <= 30 and not seg.startswith(
                    ("想一想", "练一练", "议一议", "做一做", "单元导读", "学习目标")):
                cuts.append(seg_end)
    cuts.append(len(s.text))
    out = []
    for a, c in zip(cuts, cuts[1:]):
        part = s.slice(a, c)
        t = part.text
        k = 0
        while k < len(t) and t[k] in ", ":
            k += 1
        part = part.slice(k, len(t)).strip()
        if part.text:
            out.append(CleanedBlock(text=part.text, offsets=part.pos, page=b.page))
    return out


# ----------------------------------------------------------------------------------------------------------
# Hard-wrapped lines


def _join_wrapped(blocks: list[CleanedBlock], report: CleanReport) -> list[CleanedBlock]:
    """Re-join lines broken at a fixed width in mid-sentence (a line length that recurs many times)."""
    lens = Counter(len(b.text) for b in blocks if len(b.text) >= 20 and b.text[-1] not in _SENT_END)
    widths = {w for w, c in lens.items() if c >= 4}
    if not widths:
        return blocks
    near = set()
    for w in widths:
        near.update({w - 2, w - 1, w, w + 1})
    out: list[CleanedBlock] = []
    glue = False
    for b in blocks:
        if b.slide or b.page is not None:
            out.append(b)
            glue = False
            continue
        if glue and out and b.heading is None and not _HEADING_SEG.match(b.text) and \
                not re.match(rf"^[(（]?[{_CN_NUM}\d]+[)）、.]|^(法则|原则|第)\s*\d+", b.text):
            prev = out[-1]
            j = _S.join([_S(prev.text, prev.offsets), _S(b.text, b.offsets)], "")
            out[-1] = CleanedBlock(text=j.text, offsets=j.pos, heading=prev.heading, page=prev.page,
                                   indent=prev.indent)
            report.wrapped_lines_joined += 1
        else:
            out.append(b)
        last = out[-1]
        glue = len(b.text) in near and b.text[-1] not in _SENT_END and b.heading is None
        if glue and len(last.text) > 4000:
            glue = False
    return out


# ----------------------------------------------------------------------------------------------------------
# Main entry point


_INDENT = re.compile(r"^[\s\u3000\xa0]+|^[●•▪■◆◇►▶·\-*]\s*|^[\ue000-\uf8ff]\s*")
_MD_HEADING = re.compile(r"^(#{1,6})\s+(.*)$")


def clean(doc: SourceDocument) -> CleanedDocument:
    report = CleanReport()
    title = clean_title(doc)
    raw_all = "\n".join(b.text for b in doc.blocks)
    report.chars_in = len(raw_all)
    traditional = is_traditional(PINYIN_JUNK.sub("", raw_all))
    title_key = _key(title)

    # 1. per line: fold, pinyin junk, mojibake, whitespace
    blocks: list[CleanedBlock] = []
    for b in doc.blocks:
        s = _fold(b.text, b.start)
        indent = bool(_INDENT.match(s.text)) and len(s.text.strip()) > 0
        junk = [(m.start(), m.end()) for m in PINYIN_JUNK.finditer(s.text)]
        report.pinyin_junk_removed += len(junk)
        s = s.drop_spans(junk)
        heading = b.heading
        # '#' headings in plain text; a structured format has already given its headings (and a '#' line
        # there is content, e.g. code in a Markdown fence).
        md = _MD_HEADING.match(s.text.strip()) if doc.format == "txt" else None
        if md and heading is None:
            heading = len(md.group(1))
            lead = len(s.text) - len(s.text.lstrip())
            s = s.slice(lead + md.start(2), len(s.text))
        moj = find_mojibake(s.text, traditional)
        for a, c in moj:
            report.mojibake_spans += 1
            report.mojibake_chars += c - a
            if len(report.mojibake_samples) < 20:
                report.mojibake_samples.append(s.text[a:c])
        s = s.drop_spans(moj)
        # bullets and private-use bullet glyphs
        s = s.drop_spans([(m.start(), m.end()) for m in re.finditer(r"^[\s\xa0]*[●•▪■◆◇►▶·\ue000-\uf8ff]+", s.text)])
        s = _squeeze(s)
        if not s.text:
            continue
        blocks.append(CleanedBlock(text=s.text, offsets=s.pos, heading=heading, page=b.page, table=b.table,
                                   indent=indent))

    # 2. boilerplate lines, title repeats, footer zone
    simp = [to_simplified(b.text) for b in blocks]
    bad = [_is_boilerplate(s) for s in simp]
    titles = [False] * len(blocks)
    for i, b in enumerate(blocks):
        if not bad[i] and len(b.text) <= 80:
            k = _key(_title_norm(b.text))
            if k and (k == title_key or (title_key and k.startswith(title_key) and len(k) - len(title_key) <= 4
                                         and re.search(r"\d", k[len(title_key):]))):
                titles[i] = True
    # short lines sandwiched between boilerplate lines are boilerplate too (ads: "机会难得 错过就没有了")
    changed = True
    while changed:
        changed = False
        for i in range(len(blocks)):
            if bad[i] or titles[i] or len(blocks[i].text) > 40:
                continue
            prev_bad = i > 0 and (bad[i - 1] or titles[i - 1])
            next_bad = i + 1 < len(blocks) and (bad[i + 1] or titles[i + 1])
            if prev_bad and next_bad:
                bad[i] = True
                changed = True
    # footer zone: after a strong footer marker, everything is site chrome if little text follows
    total = sum(len(b.text) for b in blocks) or 1
    for i, s in enumerate(simp):
        if _FOOTER_MARK.match(s.strip()):
            rest = sum(len(blocks[j].text) for j in range(i, len(blocks)) if not bad[j])
            if rest < 0.25 * total or rest < 1500:
                for j in range(i, len(blocks)):
                    bad[j] = True
                break
    # the first line is often a site category ("講座"): a very short line right before the title line
    for i in range(min(3, len(blocks))):
        if not bad[i] and not titles[i] and len(_key(blocks[i].text)) <= 3 and any(titles[i + 1:i + 3]):
            bad[i] = True
    kept: list[CleanedBlock] = []
    attribution = re.compile(r"^(转自|转载自|来源|摘自|本文来自|原文)[:：]?")
    brk = False
    for i, b in enumerate(blocks):
        if bad[i] and attribution.match(simp[i].strip()):
            brk = True
        if not bad[i] and not titles[i] and brk:
            b.new_article, brk = True, False
        if titles[i]:
            report.title_lines_removed += 1
        elif bad[i]:
            report.boilerplate_lines_removed += 1
            if len(report.boilerplate_samples) < 40:
                report.boilerplate_samples.append(b.text[:60])
        else:
            kept.append(b)

    # 3. structure repairs: decks, page chunks, wrapped lines
    kept = _split_deck(kept, report)
    kept = _join_page_chunks(kept, report)
    kept = _join_wrapped(kept, report)
    # inline boilerplate fragments that survive inside long lines (e.g. "…_第1頁" glued to text)
    final = []
    for b in kept:
        s = _S(b.text, b.offsets)
        spans = [(m.start(), m.end()) for m in re.finditer(r"(已[阅閱]读\d+[页頁],?还剩\d+[页頁]未读\s*继续免费阅读)",
                                                          to_simplified(s.text))]
        s = s.drop_spans(spans).strip()
        if s.text:
            b.text, b.offsets = s.text, s.pos
            final.append(b)
    report.chars_out = sum(len(b.text) for b in final)

    if report.mojibake_spans:
        report.warnings.append(
            f"检测到 {report.mojibake_spans} 处乱码（共 {report.mojibake_chars} 字），已从正文中去除 / "
            f"{report.mojibake_spans} mojibake spans ({report.mojibake_chars} chars) removed from the text")
    if report.duplicate_blocks_removed:
        report.warnings.append(
            f"重复内容 {report.duplicate_blocks_removed} 段已去重 / {report.duplicate_blocks_removed} duplicated "
            "slides/blocks removed")
    removed = report.chars_in - report.chars_out - report.mojibake_chars
    if report.chars_in and report.boilerplate_lines_removed and removed > 0.7 * report.chars_in and \
            report.duplicate_blocks_removed == 0:
        report.warnings.append("清洗后正文不足原文的30%，请检查文档 / less than 30% of the text survived cleaning")
    if not final:
        report.warnings.append("清洗后没有正文 / no text left after cleaning")
    return CleanedDocument(doc_id=doc.doc_id, title=title, format=doc.format, blocks=final, report=report,
                           traditional=traditional, source=doc)
