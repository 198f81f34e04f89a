"""The editors' jieba user dictionary and synonym list: what a valid one is, read and written through the
deployment's `DictionaryStore` (kb/state).

Edits take effect at the next re-index: each KB version carries a copy of the files it was built with.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from kb.state.base import DictionaryStore

MAX_BYTES = 1024 * 1024
USER_DICT = "userdict.txt"
SYNONYMS = "synonyms.txt"


def _with_final_newline(text: str) -> str:
    return text if text.endswith("\n") or not text else text + "\n"


def _check_common(text: str) -> list[str]:
    if len(text.encode("utf-8")) > MAX_BYTES:
        raise ValueError("词典太大（上限 1 MB） / dictionary too large (1 MB max)")
    if any(ch in text for ch in "\x00\r") or any(ord(ch) < 32 and ch not in "\n\t" for ch in text):
        raise ValueError("含控制字符 / contains control characters")
    return [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def validate_user_dict(text: str) -> None:
    """Each line: word [frequency] [part-of-speech], e.g. `服务补救 20 n`."""
    for n, line in enumerate(_check_common(text), 1):
        parts = line.split()
        if len(parts) > 3 or (len(parts) >= 2 and not parts[1].isdigit()):
            raise ValueError(f"第 {n} 行格式应为「词 [词频] [词性]」 / line {n}: expected `word [freq] [pos]`: {line}")
        if len(parts[0]) > 30:
            raise ValueError(f"第 {n} 行词太长 / line {n}: word too long")


def validate_synonyms(text: str) -> None:
    """Each line: canonical word followed by one or more synonyms, separated by spaces."""
    seen: dict[str, int] = {}
    for n, line in enumerate(_check_common(text), 1):
        words = line.split("#", 1)[0].split()
        if len(words) < 2:
            raise ValueError(f"第 {n} 行至少需要两个词 / line {n}: needs a canonical word and a synonym")
        for w in words[1:]:
            if w in seen and seen[w] != n:
                raise ValueError(f"「{w}」出现在多组同义词中 / '{w}' is in more than one group (line {n})")
            seen[w] = n


def read_user_dict(store: DictionaryStore) -> str:
    return store.read(USER_DICT)


def write_user_dict(store: DictionaryStore, text: str) -> None:
    validate_user_dict(text)
    store.write(USER_DICT, _with_final_newline(text))


def read_synonyms(store: DictionaryStore) -> str:
    return store.read(SYNONYMS)


def write_synonyms(store: DictionaryStore, text: str) -> None:
    validate_synonyms(text)
    store.write(SYNONYMS, _with_final_newline(text))
