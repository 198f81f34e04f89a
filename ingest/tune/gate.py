"""Whether a tuned model may be published: the labels' cross-validation (kb/crossval, a paraphrase group in
one fold), every fold's model tuned on the other folds' labels only, and the product's own ranking of each
held-out question with labels in use - the base model (`labels`, what a KB without tuning serves) against
the fold's tuned model (`both`, what the tuned version would serve).

Published only if all of:
- the mean reciprocal-rank gain over the held-out in-scope questions is above 0, and a paired bootstrap
  (10,000 resamples of paraphrase groups, seed 0) finds no gain in at most 5 % of resamples (P_MAX): research2
  measured the recipe's gain at +0.04 MRR with a fold-to-fold spread of +-0.08, so no single fold, and no
  pooled gain that noise could give, is trusted;
- answered and oos_reject, each from the no-answer model fitted on the other folds, fall by no more than
  TOLERANCE, or one question of that set where one question is worth more (26 out-of-scope labels: 0.038):
  an MRR gate alone would not see the no-answer decision getting worse (tuning lowered its separability).

The base model, not a model the current version may already be tuned with: a model tuned on every label
has seen the held-out questions, and the same recipe per fold is what estimates it honestly.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field

from kb.crossval.fit import fitted_model
from kb.crossval.items import Item
from kb.crossval.report import CVReport, run_cv
from kb.crossval.space import Space, SpaceFor

P_MAX = 0.05
TOLERANCE = 0.02
CURRENT, TUNED = "labels", "both"  # the regimes compared (kb/crossval/run.py REGIMES)
SHOWN = ("zero-shot", "labels", "tuned", "both")


@dataclass
class GateResult:
    folds: int
    questions: int  # held-out in-scope questions
    out_of_scope: int
    figures: dict[str, dict]  # regime -> R@1, R@5, MRR@10, answered, oos_reject (held-out new needs)
    gain: dict  # `both` against `labels`: mrr_gain, ci95, p_no_gain, n
    passed: bool
    reasons: list[str] = field(default_factory=list)  # why not (bilingual), empty when passed
    calibration: dict = field(default_factory=dict)  # the tuned version's no-answer model (held-out rows)
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)


def allowed_drop(n: int) -> float:
    """How much a share over n questions may fall: TOLERANCE, or one question of n."""
    return max(TOLERANCE, 1.0 / n) if n else TOLERANCE


def verdict(figures: dict[str, dict], gain: dict) -> list[str]:
    """The reasons to refuse (none: publish)."""
    reasons = []
    if gain["mrr_gain"] <= 0:
        reasons.append(f"MRR@10 没有提高 / no MRR@10 gain: {gain['mrr_gain']:+.3f}")
    elif gain["p_no_gain"] > P_MAX:
        reasons.append(f"提高不可靠 / the gain is not reliable: P(gain <= 0) = {gain['p_no_gain']:.3f} > {P_MAX} "
                       f"(95 % interval [{gain['ci95'][0]:+.3f}, {gain['ci95'][1]:+.3f}])")
    current, tuned = figures[CURRENT], figures[TUNED]
    for name, zh, n in (("answered", "回答率下降", current["n"]), ("oos_reject", "范围外拒答率下降", current["n_oos"])):
        before, after = current.get(name), tuned.get(name)
        if before is None or after is None:
            continue
        if before - after > allowed_drop(n) + 1e-9:
            reasons.append(f"{zh} / {name} falls: {before:.3f} -> {after:.3f} (at most {allowed_drop(n):.3f})")
    return reasons


def held_out_figures(report: CVReport) -> dict[str, dict]:
    out = {}
    for t in report.tables():
        if t["part"] == "new" and t["regime"] in SHOWN and (t["regime"] not in out or t["set"] == "all"):
            out[t["regime"]] = {k: v for k, v in t.items() if k not in ("regime", "part", "set")}
    return out


def run_gate(kb, items: list[Item], folds: int, tuner: SpaceFor, base: Space | None) -> GateResult:
    """Tunes one model per fold (tuner) and compares; base: the base model's space when the KB's own vectors
    are not it."""
    t0 = time.perf_counter()
    report = run_cv(kb, items, folds, tuned=tuner, regimes=SHOWN, base=base, new_only=True)
    figures = held_out_figures(report)
    gain = report.gain(TUNED, "new", against=CURRENT)
    reasons = verdict(figures, gain)
    return GateResult(folds, figures[CURRENT]["n"], figures[CURRENT]["n_oos"], figures, gain, not reasons, reasons,
                      fitted_model(report, TUNED, kb.settings.answer_threshold),
                      round(time.perf_counter() - t0, 1))


def render(gate: GateResult) -> list[str]:
    """The figures as the CLI prints them."""
    cols = ("R@1", "R@5", "MRR@10", "answered", "oos_reject")
    lines = [(f"held-out new needs: {gate.questions} in scope + {gate.out_of_scope} out of scope, {gate.folds} folds "
              "(each fold's model tuned on the other folds' labels only)"),
             f"{'regime':<10} " + " ".join(f"{c:>10}" for c in cols)]
    for name in SHOWN:
        row = gate.figures.get(name)
        if row:
            lines.append(f"{name:<10} " + " ".join(f"{row[c]:>10.3f}" if isinstance(row.get(c), float)
                                                   else f"{'-':>10}" for c in cols))
    g = gate.gain
    lines.append(f"both - labels: MRR@10 {g['mrr_gain']:+.3f} [{g['ci95'][0]:+.3f}, {g['ci95'][1]:+.3f}], "
                 f"P(gain <= 0) = {g['p_no_gain']:.3f} (publish: gain > 0 and P <= {P_MAX}; answered and "
                 f"oos_reject not lower by more than {TOLERANCE} or one question)")
    return lines
