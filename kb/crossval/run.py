"""Each labelled question searched once per regime, in the context of its fold, then ranked by the product's
own code (`AnswerComposer.rank`) under the label rules being compared.

Contexts (what a question is answered with):
- new needs: fold f's questions, with a model, hub reference and keys that know only the other folds' labels;
- repeated needs: a question that rephrases another (`of`) whose original is among the items, with every
  item that rephrases nothing as labels (its original among them), as research measured repeats;
- test: a separate file's questions with every item as labels.
Without labels (zero-shot, tuned only) the hub scores are the passages' own and there are no keys.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from kb.answer import MIN_CANDIDATES, Calibration
from kb.crossval.items import Item, Row, group_folds
from kb.crossval.space import Space, SpaceFor, base_space, fold_searcher
from kb.labels.keys import Keys, LabelRules, build_keys, key_text
from kb.labels.resolve import PassageMatcher
from kb.search import HybridSearcher, SearchResult

NEW, REPEATED, TEST = "new", "repeated", "test"
_UNDECIDED = Calibration(0.0, {})  # the no-answer model is fitted afterwards, on the held-out rows


@dataclass(frozen=True)
class Regime:
    name: str
    tuned: bool  # a model that learned from the fold's labels (`tuned`), else the base model
    keys: bool  # similar-question keys and the label-margin signal
    question_hubs: bool  # hub scores measured against the label questions

    @property
    def labels(self) -> bool:
        return self.keys or self.question_hubs


# `both` is what a version embedded with a tuned model serves: its keys, and hub scores against the passages
# (kb/version/model.py hubs_against_questions).
REGIMES = (Regime("zero-shot", False, False, False), Regime("labels", False, True, True),
           Regime("tuned", True, False, False), Regime("both", True, True, False))
# What each part of "labels" does on its own (`kb eval --cv K --ablation`)
ABLATIONS = (Regime("hubs-only", False, False, True), Regime("keys-only", False, True, False))


@dataclass
class Context:
    searcher: HybridSearcher
    keys: Keys | None
    space: Space
    questions: frozenset[str] = frozenset()  # the keys' questions under the match rule's normalisation


@dataclass
class Searched:
    """One question searched in one context."""

    index: int  # into the items of its part
    part: str  # NEW, REPEATED or TEST
    fold: int  # the item's fold (TEST: -1)
    context: Context
    result: SearchResult
    qv: np.ndarray
    nearest_cos: float  # cosine to the nearest key (labels regimes; -1 without keys)
    nearest_harms: bool  # whether a fix by that key would answer wrongly
    same_text: bool  # a key has the same question text: the fix applies at any cosine
    rows: dict[LabelRules, Row] = field(default_factory=dict, repr=False)  # ranked under its context's keys


class CrossValidation:
    def __init__(self, kb, items: list[Item], k: int = 5, test: list[Item] | None = None,
                 tuned: SpaceFor | None = None, seed: int = 0, known: dict | None = None, base: Space | None = None,
                 new_only: bool = False):
        """base: the base model's space, when the KB's own vectors are not it (embedded with a tuned model).
        new_only: no repeated-needs part (a paraphrase is still a held-out question of its group's fold)."""
        if k < 2:
            raise ValueError("--cv 需要至少 2 折 / needs at least 2 folds")
        self.kb, self.items, self.k, self.test = kb, items, k, test or []
        self.folds = group_folds(items, k, seed)
        self.tuned = tuned
        self.base = base or base_space(kb, known)
        self.matcher = PassageMatcher(kb.all_passages())
        ids = {it.label.id for it in items}
        self.repeats = [] if new_only else [i for i, it in enumerate(items) if it.repeats in ids]
        self._spaces: dict[tuple, Space] = {}

    def gold(self, item: Item) -> set[int]:
        return set(self.matcher.rows_for(item.label.gold))

    def part_items(self, part: str) -> list[Item]:
        return self.test if part == TEST else self.items

    # --- contexts and searches ------------------------------------------------------------------
    def _space(self, regime: Regime, training: list[Item]) -> Space:
        if not regime.tuned:
            return self.base
        key = tuple(it.label.id for it in training)
        if key not in self._spaces:
            self._spaces[key] = self.tuned([it.label for it in training])
        return self._spaces[key]

    def _context(self, regime: Regime, training: list[Item]) -> Context:
        space = self._space(regime, training)
        questions = [key_text(it.label.question) for it in training]
        hubs = space.hubs(questions if regime.question_hubs else None)
        keys = None
        if regime.keys:
            keys = build_keys([it.label for it in training], self.matcher, space.queries, space.vectors.shape[1])
        same = frozenset(label.key for label in keys.labels) if keys is not None else frozenset()
        return Context(fold_searcher(self.kb, space, hubs), keys, space, same)

    def _search(self, context: Context, part: str, index: int, fold: int) -> Searched:
        item = self.part_items(part)[index]
        question = item.label.question
        qv = context.space.queries([key_text(question)])[0]
        result = context.searcher.search(question, MIN_CANDIDATES, query_vector=qv)
        cos, harms, same = -1.0, False, False
        keys = context.keys
        if keys is not None and len(keys):
            sims = keys.vectors @ qv
            top = int(np.argmax(sims))
            cos = float(sims[top])
            harms = self._harms(item, keys.labels[top].in_scope, keys.rows[top])
            same = item.label.key in context.questions
        return Searched(index, part, fold, context, result, qv, cos, harms, same)

    def _harms(self, item: Item, key_in_scope: bool, rows: tuple[int, ...]) -> bool:
        """A fix by this key would be wrong for the item: the other scope, or none of its passages answers."""
        if key_in_scope != item.label.in_scope:
            return True
        return key_in_scope and not (set(rows) & self.gold(item))

    def searches(self, regime: Regime) -> list[Searched]:
        """Every question of every part, searched once in its context."""
        out: list[Searched] = []
        for f in range(self.k):
            training = [it for it, g in zip(self.items, self.folds) if g != f]
            context = self._context(regime, training)
            out += [self._search(context, NEW, i, f) for i in np.flatnonzero(self.folds == f).tolist()]
        if self.repeats:
            context = self._context(regime, [it for it in self.items if it.repeats is None])
            out += [self._search(context, REPEATED, i, int(self.folds[i])) for i in self.repeats]
        if self.test:
            context = self._context(regime, self.items)
            out += [self._search(context, TEST, i, -1) for i in range(len(self.test))]
        return out

    # --- ranking ----------------------------------------------------------------------------------
    def row(self, s: Searched, rules: LabelRules, keys: Keys | None = None) -> Row:
        """The question ranked under `rules` (keys: other keys than its context's, e.g. with wrong labels)."""
        cached = keys is None  # other keys are one-off: not kept
        if cached and rules in s.rows:
            return s.rows[rules]
        keys = keys if keys is not None else s.context.keys
        item = self.part_items(s.part)[s.index]
        with_rules = keys.with_rules(rules) if keys is not None else None
        ranking = self.kb.composer.rank(s.result, s.qv, item.label.question, with_rules, _UNDECIDED,
                                        s.context.searcher)
        listed = [c.row for c, _, _ in ranking.ranked[:10]]
        gold = self.gold(item)
        rank = next((n for n, r in enumerate(listed, 1) if r in gold), None)
        fix = ranking.hit.fix if ranking.hit is not None else None
        row = Row(s.index, s.fold, item.label.in_scope, rank, listed[0] if listed else None, ranking.features,
                  fix.in_scope if fix is not None else None)
        if cached:
            s.rows[rules] = row
        return row
