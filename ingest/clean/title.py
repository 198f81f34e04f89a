"""The document's title: the loader's unless it is a file id, else the text's own title line, without site
tags ("【精品】"), page suffixes ("_第3頁") and file extensions; and which lines merely repeat it."""
from __future__ import annotations

import re
import unicodedata
from collections import Counter

from ingest.clean.boilerplate import BOILER_KEYWORDS
from ingest.clean.patterns import SPACE_RUN
from ingest.document import SourceDocument
from kb.text import PINYIN_JUNK, match_key, to_simplified

_TITLE_TAGS = re.compile(r"【[^】]{0,12}】|\[[^\]]{0,12}\]")
_TITLE_SUFFIXES = [
    re.compile(r"\s*[_,，]\s*第\s*\d+\s*[页頁张張]$"),
    re.compile(r"\s*[(（]\s*\d+\s*[页頁]\s*珍藏版\s*[)）]$"),
    re.compile(r"\.(pptx?|docx?|pdf|txt|html?|md|wps|xlsx?)$", re.IGNORECASE),
    re.compile(r"\s*ppt\s*(课件|課件)?$", re.IGNORECASE),
    re.compile(r"\s*(课件|課件)$"),
]
_ID_LIKE = re.compile(r"^[0-9a-fA-F_\-\s]+$|^\d+_[0-9a-fA-F]{6,}$")


def title_norm(text: str) -> str:
    """The title without pinyin junk, site tags, page/file suffixes and enclosing quotes."""
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
    return SPACE_RUN.sub(" ", t)


def clean_title(doc: SourceDocument) -> str:
    """A readable document title: the loader's title unless it is a file id, else the text's own title line."""
    given = title_norm(doc.title or "")
    if given and not _ID_LIKE.match(given) and len(given) >= 2:
        return given
    cands: list[str] = []
    for b in doc.blocks[:25]:
        raw = b.text.strip()
        if not raw or len(raw) > 80:
            continue
        simp = to_simplified(PINYIN_JUNK.sub("", unicodedata.normalize("NFKC", raw)))
        t = title_norm(raw)
        if len(t) < 4 or len(t) > 60:
            continue
        if BOILER_KEYWORDS.search(simp) and not re.search(r"_第\s*\d+\s*[页頁]$|第\s*\d+\s*张$", simp):
            continue
        if re.search(r"[。；;!?！？]", t[:-1]):
            continue
        cands.append(t)
    if not cands:
        return given or doc.doc_id
    counts = Counter(match_key(c) for c in cands)
    best_key, n = counts.most_common(1)[0]
    if n >= 2:
        return next(c for c in cands if match_key(c) == best_key)
    return cands[0]


def is_title_repeat(line: str, title_key: str) -> bool:
    """The line is the title again, possibly with a page number after it ("标题 3")."""
    k = match_key(title_norm(line))
    return bool(k) and (k == title_key or (bool(title_key) and k.startswith(title_key)
                                           and len(k) - len(title_key) <= 4
                                           and re.search(r"\d", k[len(title_key):]) is not None))
