"""Which sentences of a passage an answer card marks: those that share most with the question."""
from __future__ import annotations

from kb.passage import Passage
from kb.sentences import sentences
from kb.text import search_text

CACHE_MAX = 16384  # passages whose normalised sentences are kept


class Highlighter:
    def __init__(self):
        self._sentences: dict[str, tuple[list[tuple[str, str]], str]] = {}

    def highlights(self, p: Passage, idf: dict[str, float], grams: set[str], limit: int = 2) -> list[str]:
        """Up to `limit` of the passage's sentences (6 characters or more), in passage order, scored by the
        idf of the question words and 0.3 for each question bigram they contain."""
        keys, joined = self.sentence_keys(p)
        # Only what occurs somewhere in the passage can score a sentence: one look through all its sentences
        # at once first (most of the question's words and bigrams are absent), then each sentence. The same
        # sums in the same order: the terms left out would have added nothing.
        words = [(w, v) for w, v in idf.items() if w in joined]
        found = [g for g in grams if g in joined]
        if not words and not found:
            return []
        scored = []
        for i, (s, key) in enumerate(keys):
            score = sum(v for w, v in words if w in key)
            score += 0.3 * sum(1 for g in found if g in key)
            if score > 0 and len(s) >= 6:
                scored.append((score, i, s))
        best = sorted(scored, key=lambda x: (-x[0], x[1]))[:limit]
        return [s for _, _, s in sorted(best, key=lambda x: x[1])]

    def sentence_keys(self, p: Passage) -> tuple[list[tuple[str, str]], str]:
        """The passage's sentences with their normalised search text, and those texts joined by NULs (a
        word in any of them is in the joined text). Cached: normalising is most of the highlighting cost,
        and a version never changes."""
        hit = self._sentences.get(p.id)
        if hit is None:
            if len(self._sentences) >= CACHE_MAX:
                self._sentences.clear()
            keys = [(s, search_text(s)) for s in sentences(p.text)]
            hit = self._sentences[p.id] = (keys, "\0".join(key for _, key in keys))
        return hit
