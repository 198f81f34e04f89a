"""Mojibake: runs of GBK/UTF-8 double-decoding garbage ("?蛻粼谧畛蹩创") found with a word/character
frequency model (jieba's dictionary) and kept out of the text.

The text is segmented with jieba (no HMM) on its Simplified form: real text is covered by dictionary words
and common single characters; garbage falls apart into rare single characters, characters from the wrong
script (Simplified-only characters in a Traditional document), private-use/radical code points and '?'
replacement marks. Each character gets a mark; runs of suspicious marks with enough strong evidence are
garbage. A '?' in front of garbage goes with it, unless the clause before it asks something.
"""
from __future__ import annotations

import re
from functools import lru_cache

from ingest.clean.patterns import CJK_CHAR
from ingest.clean.script import simplified_only
from kb.text import to_simplified

# A character's mark: how suspicious it is.
STRONG = 2  # garbage on its own: odd code point, rare character, wrong script, pinyin remnant
WEAK = 1  # suspicious beside garbage: '?', uncommon character, Latin letter alone
NORMAL = 0
IN_WORD = -1  # part of a dictionary word of Han characters

RARE = 500  # a single-character token rarer than this (jieba dictionary count) is suspicious
UNCOMMON = 5000
MERGE_GAP = 4  # garbage runs this close, with no Han character between them, are one span
_PINYIN_REMNANT = re.compile(r"\?[A-Za-z\u00C0-\u024F\u0300-\u036F]{1,8}\)")
# An interrogative or a question particle (in Simplified): a clause holding one asks something.
_QUESTION_CUE = re.compile(r"什么|怎|为何|为啥|哪|谁|如何|几|多少|是否|能否|可否|与否|难道|吗|呢|么|吧")
_CLAUSE_START = re.compile(r".*[。！？!?；;，,、:：\n]", re.S)
_ODD_CHAR = re.compile(r"[\ue000-\uf8ff\u2e80-\u2fdf\u3040-\u30ff\u3100-\u312f\u31a0-\u31bf\ufffd\u0370-\u03ff\u0400-\u04ff]")


@lru_cache(maxsize=1)
def _jieba():
    import logging

    import jieba

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    return jieba


@lru_cache(maxsize=None)  # jieba's global dictionary never changes (kb.tokenize adds words to its own copy)
def _char_class(tok: str, traditional: bool) -> int:
    """The mark of a single-character token: STRONG, WEAK or NORMAL."""
    if _ODD_CHAR.match(tok):
        return STRONG
    if tok == "?":
        return WEAK
    if CJK_CHAR.match(tok):
        freq = _jieba().dt.FREQ
        f = freq.get(to_simplified(tok), 0)
        if f < RARE:
            return STRONG
        if traditional and simplified_only(tok):
            return STRONG
        if f < UNCOMMON:
            return WEAK
        return NORMAL
    if re.match(r"[A-Za-z_]", tok):
        return WEAK
    return NORMAL


def _marks(text: str, traditional: bool) -> list[int]:
    """Per character: STRONG for pinyin remnants, the class of single-character tokens, IN_WORD for Han
    characters inside dictionary words."""
    simp = to_simplified(text)
    if len(simp) != len(text):  # t2s is length-preserving for nearly all text; fall back per character
        simp = "".join(to_simplified(c) for c in text)
    marks = [NORMAL] * len(text)
    for m in _PINYIN_REMNANT.finditer(text):
        for i in range(m.start(), m.end()):
            marks[i] = STRONG
    for _, a, b in _jieba().tokenize(simp, HMM=False):
        if b - a == 1:
            if marks[a] == NORMAL:
                marks[a] = _char_class(text[a], traditional)
        else:
            for i in range(a, b):
                if marks[i] == NORMAL:
                    marks[i] = IN_WORD if CJK_CHAR.match(text[i]) else NORMAL
    return marks


def asks_question(before: str) -> bool:
    """The clause that ends where `before` ends asks something: it holds an interrogative or a question
    particle. A '?' after such a clause is a question mark; elsewhere, in front of garbage, it is garbage."""
    m = _CLAUSE_START.match(before)
    return bool(_QUESTION_CUE.search(to_simplified(before[m.end():] if m else before)))


def _run_end(text: str, marks: list[int], i: int) -> int:
    """End of the suspicious run starting at i; one normal Han character between suspicious ones is
    bridged."""
    n = len(text)
    j = i
    while j < n:
        if marks[j] > NORMAL:
            j += 1
            continue
        if marks[j] == NORMAL and j + 1 < n and marks[j + 1] > NORMAL and CJK_CHAR.match(text[j]):
            j += 1
            continue
        break
    return j


def _is_garbage(text: str, marks: list[int], i: int, j: int) -> bool:
    """Enough strong evidence in text[i:j]: two strong Han-like characters, or one beside a '?', or three
    strong marks of any kind."""
    run = text[i:j]
    strong = sum(1 for k in range(i, j) if marks[k] == STRONG)
    han = sum(1 for c in run if CJK_CHAR.match(c) or _ODD_CHAR.match(c))
    return (strong >= 2 and han >= 2) or (strong >= 1 and "?" in run and han >= 2) or strong >= 3


def find_mojibake(text: str, traditional: bool) -> list[tuple[int, int]]:
    """Spans of double-decoding garbage: runs of rare, unsegmentable characters, usually next to '?'."""
    if not text:
        return []
    # Every reported span holds a strong mark: a pinyin remnant or a character of class STRONG. Without one
    # there is nothing to find, and no need to segment (most lines of a clean document).
    if not _PINYIN_REMNANT.search(text) and all(_char_class(c, traditional) < STRONG for c in set(text)):
        return []
    marks = _marks(text, traditional)
    spans: list[tuple[int, int]] = []
    i, n = 0, len(text)
    while i < n:
        if marks[i] <= NORMAL:
            i += 1
            continue
        j = _run_end(text, marks, i)
        if _is_garbage(text, marks, i, j):
            a = i
            # A '?' that opens garbage is garbage too (an undecodable byte: "送到了?赡芸蛻糁"), unless it ends
            # a clause that asks something: then it is the question's own mark.
            if text[a] == "?" and not _PINYIN_REMNANT.match(text, a) and a > 0 and marks[a - 1] <= NORMAL \
                    and asks_question(text[:a]):
                a += 1
            spans.append((a, j))
        i = j
    # garbage separated by a few non-Han characters ("男菹10.突顒佣") is one span
    merged: list[tuple[int, int]] = []
    for a, b in spans:
        if merged and a - merged[-1][1] <= MERGE_GAP and not CJK_CHAR.search(text[merged[-1][1]:a]):
            merged[-1] = (merged[-1][0], b)
        else:
            merged.append((a, b))
    return merged
