"""Which script a document is in. Display text keeps the document's own script (Traditional stays
Traditional); the script tells mojibake detection which characters are out of place."""
from __future__ import annotations

from functools import lru_cache

from kb.text import to_simplified


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
def simplified_only(ch: str) -> bool:
    """A character that only exists in Simplified script (it changes under s2t, not under t2s)."""
    return to_simplified(ch) == ch and _s2t().convert(ch) != ch
