"""Sentence units of a passage: the fine-grained pieces that are embedded besides the whole passage.

An agent's question usually matches one sentence or list item of a passage; scoring a passage by its
best-matching sentence ("small to big") keeps a long passage from diluting that match.
"""
from __future__ import annotations

from kb.sentences import sentences
from kb.text import to_simplified

MIN_UNIT = 6
MAX_UNIT = 120


def sentence_units(text: str) -> list[str]:
    """Simplified sentences of `text`; tiny ones join their neighbour, very long ones are cut."""
    out: list[str] = []
    carry = ""
    for raw in sentences(to_simplified(text)):
        s = carry + raw
        carry = ""
        if len(s) < MIN_UNIT:
            carry = s
            continue
        while len(s) > MAX_UNIT:
            cut = max(s.rfind(c, 40, MAX_UNIT) for c in ",，、:：")
            cut = cut + 1 if cut > 0 else MAX_UNIT
            out.append(s[:cut])
            s = s[cut:]
        if len(s) < MIN_UNIT and out:
            out[-1] += s
        elif s:
            out.append(s)
    if carry:
        if out:
            out[-1] += carry
        else:
            out.append(carry)
    return out
