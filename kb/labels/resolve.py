"""Which passages of a version answer each label: its gold phrases under the evaluation match rule
(kb/evaluate.py `match_text`: the passage's normalised text, title and heading path contain a normalised gold
phrase). Done at every version and for every new label; a label no passage answers is reported
(`Resolution.unresolved`), never dropped: it comes back when a later version holds its passage again.

An editor's pick of a passage is stored as a phrase that identifies that passage (`identifying_phrase`), so
it resolves again after a re-index that keeps the passage's text.
"""
from __future__ import annotations

from dataclasses import dataclass

from kb.evaluate import match_text
from kb.labels.model import Label
from kb.passage import Passage
from kb.text import match_key
from kb.units import sentence_units

# An identifying phrase: long enough to be specific, short enough to survive small edits around it.
PHRASE_MIN, PHRASE_MAX = 8, 40


class PassageMatcher:
    """A version's passages as the match rule sees them."""

    def __init__(self, passages: list[Passage]):
        self.passages = passages
        self.ids = [p.id for p in passages]
        self.row_of = {p.id: i for i, p in enumerate(passages)}
        self.texts = [match_text(p.text, p.title, p.section) for p in passages]
        self._cache: dict[tuple[str, ...], tuple[int, ...]] = {}

    def rows_for(self, gold: tuple[str, ...]) -> tuple[int, ...]:
        """Rows of the passages that contain any of the phrases."""
        hit = self._cache.get(gold)
        if hit is None:
            keys = [k for k in (match_key(g) for g in gold) if k]
            hit = self._cache[gold] = tuple(i for i, t in enumerate(self.texts) if any(k in t for k in keys))
        return hit


@dataclass(frozen=True)
class Resolution:
    rows: dict[str, tuple[int, ...]]  # in-scope label id -> rows of the passages that answer it
    unresolved: list[Label]  # in-scope labels no passage of the version answers


def resolve(labels: list[Label], matcher: PassageMatcher) -> Resolution:
    rows: dict[str, tuple[int, ...]] = {}
    unresolved = []
    for label in labels:
        if not label.in_scope:
            continue
        found = matcher.rows_for(label.gold)
        if found:
            rows[label.id] = found
        else:
            unresolved.append(label)
    return Resolution(rows, unresolved)


def identifying_phrase(row: int, matcher: PassageMatcher) -> str:
    """A sentence of the passage that no other passage contains, of PHRASE_MIN..PHRASE_MAX characters when
    there is one (the longest such), else the passage's most specific sentence; what an editor's pick is
    stored as. A passage repeated word for word elsewhere resolves to every copy, which is right: each
    answers."""
    p = matcher.passages[row]
    others = [t for i, t in enumerate(matcher.texts) if i != row]
    best, best_score = "", (-1, 0)
    for sentence in sentence_units(p.text) or [p.text]:
        key = match_key(sentence)
        if len(key) < PHRASE_MIN:
            continue
        phrase = sentence if len(key) <= PHRASE_MAX else _cut(sentence)
        unique = not any(match_key(phrase) in t for t in others)
        score = (int(unique), min(len(match_key(phrase)), PHRASE_MAX))
        if score > best_score:
            best, best_score = phrase, score
    return (best or p.text[:PHRASE_MAX]).strip()


def _cut(sentence: str) -> str:
    """The first PHRASE_MAX normalised characters' worth of a long sentence, cut in the original text."""
    out = ""
    for ch in sentence:
        out += ch
        if len(match_key(out)) >= PHRASE_MAX:
            break
    return out
