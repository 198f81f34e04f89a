"""`kb eval --cv`: run the regimes and print their held-out figures."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kb.crossval.choose import FIX_OFF, RegimeResult, nested
from kb.crossval.items import Item, figures
from kb.crossval.run import ABLATIONS, NEW, REGIMES, REPEATED, TEST, CrossValidation
from kb.crossval.space import Space, SpaceFor

COLUMNS = ("R@1", "R@5", "MRR@10", "answered", "oos_reject")


def paired_gain(groups: list[str], diffs: list[float], resamples: int = 10_000, seed: int = 0) -> dict:
    """The mean of per-question differences, with a 95 % interval and the share of resamples with no gain
    (p_no_gain: the gain <= 0) from a bootstrap that resamples whole groups (a question and its paraphrases)."""
    names = sorted(set(groups))
    at = {g: i for i, g in enumerate(names)}
    inv = np.asarray([at[g] for g in groups])
    values = np.asarray(diffs, dtype=np.float64)
    sums, counts = np.bincount(inv, values, len(names)), np.bincount(inv, minlength=len(names))
    picks = np.random.default_rng(seed).integers(0, len(names), size=(resamples, len(names)))
    boot = sums[picks].sum(1) / counts[picks].sum(1)
    lo, hi = np.percentile(boot, [2.5, 97.5])
    return {"mrr_gain": round(float(values.mean()), 3), "ci95": [round(float(lo), 3), round(float(hi), 3)],
            "p_no_gain": round(float(np.mean(boot <= 0)), 4), "n": len(values)}


@dataclass
class CVReport:
    cv: CrossValidation
    results: list[RegimeResult]
    skipped: list[str]  # regimes not run, and why

    def result(self, name: str) -> RegimeResult | None:
        return next((r for r in self.results if r.regime.name == name), None)

    def tables(self) -> list[dict]:
        """One entry per regime, part and source: the figures (what --json prints)."""
        out = []
        for res in self.results:
            for part in (NEW, REPEATED, TEST):
                rows = res.rows[part]
                if not rows:
                    continue
                items = self.cv.part_items(part)
                sources = list(dict.fromkeys(items[r.index].source for r in rows))
                groups = [("all", rows)] if len(sources) > 1 else []
                groups += [(src, [r for r in rows if items[r.index].source == src]) for src in sources]
                for source, subset in groups:
                    out.append({"regime": res.regime.name, "part": part, "set": source, **figures(subset)})
        return out

    def gain(self, name: str, part: str, resamples: int = 10_000, seed: int = 0, against: str = "zero-shot"
             ) -> dict | None:
        """MRR@10 of regime `name` minus `against`'s on the same held-out in-scope questions, with a 95 %
        interval and the share of resamples with no gain (p_no_gain: the gain <= 0) from a paired bootstrap over
        paraphrase groups."""
        base, other = self.result(against), self.result(name)
        if base is None or other is None or not other.rows[part]:
            return None
        items = self.cv.part_items(part)
        before = {r.index: r for r in base.rows[part] if r.in_scope}
        pairs = [(items[r.index].group, (1 / r.rank if r.rank else 0.0) - (1 / before[r.index].rank
                                                                          if before[r.index].rank else 0.0))
                 for r in other.rows[part] if r.in_scope and r.index in before]
        return {**paired_gain([g for g, _ in pairs], [d for _, d in pairs], resamples, seed), "against": against}

    def choices(self) -> dict:
        return {res.regime.name: {str(f): {"fix_cosine": r.fix_cosine, "agree_bonus": r.agree_bonus,
                                                  "agree_depth": r.agree_depth}
                                  for f, r in res.rules.items()}
                for res in self.results if res.regime.keys}


def run_cv(kb, items: list[Item], k: int = 5, test: list[Item] | None = None, tuned: SpaceFor | None = None,
           regimes: tuple[str, ...] | None = None, known: dict | None = None, base: Space | None = None,
           new_only: bool = False, skip_tuned: str = "") -> CVReport:
    """tuned: training labels -> the space of a model tuned on them (the `tuned` and `both` regimes); without
    it those two are skipped (skip_tuned: why, for the report). known: question vectors computed already
    (kb/crossval/space.py base_space). base: the base model's space when the KB's own vectors are not it (a
    version embedded with a tuned model). new_only: the new-needs part alone (no context learns from every
    original)."""
    cv = CrossValidation(kb, items, k, test, tuned, known=known, base=base, new_only=new_only)
    results, skipped = [], []
    for regime in (*REGIMES, *ABLATIONS):
        if regime in ABLATIONS and (regimes is None or regime.name not in regimes):
            continue
        if regimes is not None and regime.name not in regimes:
            continue
        if regime.tuned and tuned is None:
            skipped.append(f"{regime.name}: {skip_tuned or '没有微调模型 / no tuned model'}")
            continue
        results.append(nested(cv, regime, kb.settings.answer_threshold))
    return CVReport(cv, results, skipped)


PART_TITLES = {
    NEW: "new needs: each fold's questions, with the labels of the other folds only",
    REPEATED: "repeated needs: questions that rephrase a labelled one (`of`), its original among the labels",
    TEST: "test: the --test questions, with every other question as labels",
}


def _cell(value) -> str:
    return f"{value:.3f}" if isinstance(value, float) else ("-" if value is None else str(value))


def render(report: CVReport) -> str:
    cv = report.cv
    sources = ", ".join(f"{s} {n}" for s, n in _counts(cv.items).items())
    lines = [f"cross-validation: {len(cv.items)} questions ({sources}), {cv.k} folds, a paraphrase group in "
             "one fold; every figure from held-out questions"]
    tables = report.tables()
    for part in (NEW, REPEATED, TEST):
        part_rows = [t for t in tables if t["part"] == part]
        if not part_rows:
            continue
        lines += ["", PART_TITLES[part],
                  f"{'regime':<10} {'set':<14} {'n':>7}  " + "  ".join(f"{c:>10}" for c in COLUMNS)]
        for t in part_rows:
            lines.append(f"{t['regime']:<10} {t['set']:<14} {str(t['n']) + '+' + str(t['n_oos']):>7}  "
                         + "  ".join(f"{_cell(t.get(c)):>10}" for c in COLUMNS))
    pairs = [(res.regime.name, "zero-shot") for res in report.results if res.regime.name != "zero-shot"]
    if report.result("both") is not None and report.result("labels") is not None:
        pairs.append(("both", "labels"))  # what tuning adds to the labels (the `kb tune` gate's comparison)
    gains = [(n, a, part, report.gain(n, part, against=a)) for n, a in pairs for part in (NEW, REPEATED, TEST)]
    gains = [(n, a, p, g) for n, a, p, g in gains if g]
    if gains:
        lines += ["", "MRR@10 gain, same questions (95 % interval and P(gain <= 0), bootstrap over paraphrase "
                      "groups):"]
        lines += [f"  {n + ' - ' + a:<22} {p:<9} {g['mrr_gain']:+.3f} [{g['ci95'][0]:+.3f}, {g['ci95'][1]:+.3f}]  "
                  f"P={g['p_no_gain']:.3f}  n={g['n']}" for n, a, p, g in gains]
    for name, per_fold in report.choices().items():
        folds = [per_fold[str(f)] for f in range(cv.k)]
        final = per_fold["-1"]
        lines += ["", f"{name}: chosen on the other folds: fix cosine "
                  + " ".join(_fix(c["fix_cosine"]) for c in folds) + ", agree bonus "
                  + " ".join(f"{c['agree_bonus']}/{c['agree_depth']}" for c in folds)
                  + f"; on every fold: fix cosine {_fix(final['fix_cosine'])}, agree bonus "
                    f"{final['agree_bonus']}/{final['agree_depth']}"]
    lines += [f"not run: {s}" for s in report.skipped]
    return "\n".join(lines)


def _fix(value: float) -> str:
    return "off" if value >= FIX_OFF else f"{value:.3f}"


def _counts(items: list[Item]) -> dict[str, int]:
    out: dict[str, int] = {}
    for it in items:
        out[it.source] = out.get(it.source, 0) + 1
    return out
