"""What the cross-validation chooses, always on folds other than the one it is scored on.

- The fix cosine: the lowest cosine at which a key's fix would have answered at most MAX_HARM of the
  other folds' new-need questions wrongly (another passage, or the other scope) - so that unrelated questions
  are (almost) never affected - which lets the most paraphrases through.
- The agree bonus and depth (research2's rule): the best repeated-need MRR@10 among the (bonus, depth) pairs
  whose new-need MRR@10 is within MRR_DROP of no bonus; without repeated needs, the best new-need MRR@10.
- The no-answer model: the product's logistic regression (kb/calibrate.py) fitted on the held-out rows of the
  other folds (cross-fitted), never on a question's own in-sample signals.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from kb.answer.calibration import FEATURES, LABEL_FEATURE, Calibration
from kb.calibrate import fit_logistic
from kb.crossval.items import Row, mrr
from kb.crossval.run import NEW, REPEATED, TEST, CrossValidation, Regime, Searched
from kb.labels.keys import LabelRules

FIX_GRID = tuple(float(x) for x in np.round(np.arange(0.90, 0.9951, 0.005), 3))
FIX_OFF = 1.01  # above any cosine: only an equal question text is fixed
MAX_HARM = 0.01
BONUS_GRID = (0.0, 0.01, 0.02, 0.05, 0.1)
DEPTH_GRID = (10, 20)  # 20: every candidate the search returns (MIN_CANDIDATES)
MRR_DROP = 0.01


def choose_fix(new: list[Searched]) -> float:
    if not new:
        return FIX_OFF
    for tau in FIX_GRID:
        harmful = sum(1 for s in new if s.nearest_harms and s.nearest_cos >= tau and not s.same_text)
        if harmful <= MAX_HARM * len(new):
            return tau
    return FIX_OFF


def choose_bonus(cv: CrossValidation, new: list[Searched], repeated: list[Searched], fix: float) -> tuple[float, int]:
    """(agree bonus, agree depth)."""
    def score(searched: list[Searched], bonus: float, depth: int) -> float:
        return mrr([cv.row(s, LabelRules(fix, bonus, depth)) for s in searched])

    floor = score(new, 0.0, DEPTH_GRID[0]) - MRR_DROP
    best, best_value = (0.0, DEPTH_GRID[0]), -1.0
    for bonus in BONUS_GRID:
        for depth in DEPTH_GRID if bonus > 0 else DEPTH_GRID[:1]:
            new_mrr = score(new, bonus, depth)
            if new_mrr < floor:
                continue
            value = (score(repeated, bonus, depth) if repeated else 0.0) + 1e-3 * new_mrr
            if value > best_value + 1e-9:
                best, best_value = (bonus, depth), value
    return best


def choose_rules(cv: CrossValidation, searched: list[Searched]) -> LabelRules:
    new = [s for s in searched if s.part == NEW]
    fix = choose_fix(new)
    return LabelRules(fix, *choose_bonus(cv, new, [s for s in searched if s.part == REPEATED], fix))


def feature_names(regime: Regime) -> tuple[str, ...]:
    return (*FEATURES, LABEL_FEATURE) if regime.keys else FEATURES


def fit_calibration(rows: list[Row], names: tuple[str, ...]) -> Calibration:
    x = np.asarray([[r.features[f] for f in names] for r in rows], dtype=float)
    y = np.asarray([1.0 if r.in_scope else 0.0 for r in rows])
    if y.min() == y.max():
        raise ValueError("需要范围内和范围外的问题 / need both in-scope and out-of-scope questions to calibrate")
    bias, w = fit_logistic(x, y)
    return Calibration(float(bias), {f: float(v) for f, v in zip(names, w)})


def decide(rows: list[Row], calibration: Calibration, threshold: float) -> None:
    for r in rows:
        if r.forced is not None:
            r.matched = r.forced and r.top is not None
        else:
            r.matched = r.top is not None and calibration.confidence(r.features) >= threshold


@dataclass
class RegimeResult:
    regime: Regime
    rows: dict[str, list[Row]]  # by part: NEW, REPEATED, TEST
    rules: dict[int, LabelRules] = field(default_factory=dict)  # per outer fold, and -1: chosen on every fold
    calibration: Calibration | None = None  # fitted on every held-out new-need row: what `kb calibrate` stores
    searched: list[Searched] = field(default_factory=list)


def nested(cv: CrossValidation, regime: Regime, threshold: float) -> RegimeResult:
    """Every question's held-out row: rules chosen and no-answer model fitted on the other folds only."""
    searched = cv.searches(regime)
    result = RegimeResult(regime, {NEW: [], REPEATED: [], TEST: []}, searched=searched)
    for f in [*range(cv.k), -1]:
        if regime.keys:
            rules = choose_rules(cv, [s for s in searched if s.fold != f and s.part != TEST])
        else:
            rules = LabelRules()  # without keys the rules change nothing
        result.rules[f] = rules
        for s in searched:
            if s.fold == f and (s.part != TEST) == (f != -1):
                result.rows[s.part].append(cv.row(s, rules))
    names = feature_names(regime)
    new = result.rows[NEW]
    for f in range(cv.k):
        calibration = fit_calibration([r for r in new if r.fold != f], names)
        decide([r for part in (NEW, REPEATED) for r in result.rows[part] if r.fold == f], calibration, threshold)
    result.calibration = fit_calibration(new, names)
    decide(result.rows[TEST], result.calibration, threshold)
    return result
