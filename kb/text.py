"""Text normalisation shared by ingest and query: both sides must fold text the same way."""
from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from opencc import OpenCC

_T2S = OpenCC("t2s")

# "(" + only Latin letters (ASCII or accented pinyin) + ")": scraper junk such as "服務(wù)".
# "(P35)", "(1)" and "(家庭)" hold digits or Han characters and are kept.
PINYIN_JUNK = re.compile(r"\(\s*[A-Za-z\u00C0-\u024F\u1E00-\u1EFF\u0300-\u036F]+\s*\)")
_SPACES = re.compile(r"[ \t\u3000\xa0]+")


def fold_width(text: str) -> str:
    """NFKC: full-width Latin/digits/punctuation become their ASCII forms."""
    return unicodedata.normalize("NFKC", text)


def strip_pinyin_junk(text: str) -> str:
    return PINYIN_JUNK.sub("", text)


def _identity_test(converter: OpenCC):
    """A test that is true only for texts the converter leaves as they are: those with no character that
    is a key of its character table and none of its phrases made only of other characters. OpenCC's
    pure-Python conversion costs ~0.1 ms a question right after a model run; most questions are
    Simplified already. None (always convert) if the converter's tables are not laid out as expected."""
    try:
        converter.convert("")  # loads the tables
        tables = [table for group in converter._dict_chain_data for _, _, table in group]
        chars = frozenset(k for t in tables for k in t if len(k) == 1)
        phrases = tuple(k for t in tables for k in t if len(k) > 1 and chars.isdisjoint(k))
    except (AttributeError, TypeError, ValueError):
        return None
    return lambda text: chars.isdisjoint(text) and not any(p in text for p in phrases)


_UNCHANGED_BY_T2S = _identity_test(_T2S)


def _table_converter(converter: OpenCC):
    """The converter's own result, computed from its tables in C-speed steps (its pure-Python tree search
    costs 1.6 s of an ingest of the seeds). OpenCC runs the groups of its chain one after the other. In a
    group [phrase table, one-character table] it repeatedly takes the longest phrase occurrence (leftmost
    among equal lengths) lying wholly in a part no earlier pick covers, then maps the uncovered characters
    one by one; the first of several values wins. That is a greedy pass over all phrase occurrences sorted
    by (-length, start), then str.translate; a group of one character table is str.translate alone. Its
    split at separators changes nothing when no key holds a separator. None (use OpenCC) if the tables are
    not laid out like that. tests/kb/test_text_folding_and_sentences.py and tests/kb/test_answers_in_the_questions_script.py check
    it against OpenCC itself."""
    try:
        converter.convert("")  # loads the tables
        separator = converter.split_chars_re.search
        steps = []
        for group in converter._dict_chain_data:
            if len(group) == 2:
                (_, shortest, phrases), (longest, _, chars) = group
                if not phrases or shortest < 2:
                    return None
            else:
                ((longest, _, chars),) = group
                phrases = {}
            if longest != 1 or any(separator(k) for k in [*phrases, *chars]):
                return None
            steps.append(_group_step(phrases, chars))
    except (AttributeError, TypeError, ValueError):
        return None

    def convert(text: str) -> str:
        for step in steps:
            text = step(text)
        return text

    return convert


def _group_step(phrases: dict, chars: dict):
    """One group of a conversion chain: the greedy phrase pass, then the one-character table."""
    table = str.maketrans({k: v.split(" ")[0] for k, v in chars.items()})
    if not phrases:
        return lambda text: text.translate(table)
    by_first: dict[str, list[tuple[str, str]]] = {}
    for k, v in phrases.items():
        by_first.setdefault(k[0], []).append((k, v.split(" ")[0]))
    starts = re.compile("[" + "".join(map(re.escape, by_first)) + "]")

    def convert(text: str) -> str:
        found = sorted((-len(k), m.start(), v) for m in starts.finditer(text)
                       for k, v in by_first[m.group()] if text.startswith(k, m.start()))
        taken, picked = bytearray(len(text)), []
        for neg, a, v in found:  # longest first, then leftmost
            b = a - neg
            if taken.find(1, a, b) < 0:
                taken[a:b] = b"\x01" * (b - a)
                picked.append((a, b, v))
        out, last = [], 0
        for a, b, v in sorted(picked):
            out += (text[last:a].translate(table), v)
            last = b
        out.append(text[last:].translate(table))
        return "".join(out)

    return convert


_CONVERT_T2S = _table_converter(_T2S) or _T2S.convert
_S2TW = OpenCC("s2tw")
_CONVERT_S2TW = _table_converter(_S2TW) or _S2TW.convert
_s2tw_cached = lru_cache(maxsize=16384)(_CONVERT_S2TW)


@lru_cache(maxsize=65536)
def _t2s_cached(text: str) -> str:
    return _CONVERT_T2S(text)


def to_simplified(text: str) -> str:
    if _UNCHANGED_BY_T2S is not None and _UNCHANGED_BY_T2S(text):  # before the cache: no slot for a no-op
        return text
    if len(text) > 2000:  # long texts are not worth caching
        return _CONVERT_T2S(text)
    return _t2s_cached(text)


def to_traditional(text: str) -> str:
    """Simplified → Traditional with Taiwan's character forms (OpenCC s2tw: 為, 裡, 著)."""
    if len(text) > 2000:
        return _CONVERT_S2TW(text)
    return _s2tw_cached(text)


def display_text(text: str) -> str:
    """What an agent reads: width-folded, junk-free, in the document's own script."""
    if len(text) <= 512:  # a question is folded by the answer, the search and search_text: once is enough
        return _display_cached(text)
    return _display(text)


def _display(text: str) -> str:
    return _SPACES.sub(" ", strip_pinyin_junk(fold_width(text))).strip()


_display_cached = lru_cache(maxsize=8192)(_display)


def search_text(text: str) -> str:
    """What the indexes see: display text, Simplified, Latin lower-cased."""
    return to_simplified(display_text(text)).lower()


def match_key(text: str) -> str:
    """The evaluation match rule: search text without whitespace, punctuation or symbols."""
    if len(text) > 2000:
        return _match_key(text)
    return _match_key_cached(text)  # answers compare the same passages again and again


def _match_key(text: str) -> str:
    s = search_text(text)
    return "".join(ch for ch in s if not ch.isspace() and unicodedata.category(ch)[0] not in "PSZC")


_match_key_cached = lru_cache(maxsize=16384)(_match_key)
