"""The no-answer model fitted on labelled questions, honestly: on the held-out rows of a cross-validation,
each row's signals computed with the keys and hub reference of the other folds only, never on a question's
own in-sample signals (its own label would make it look certain). What `kb calibrate` and every build with
labels in use (ingest/pipeline.py) store."""
from __future__ import annotations

import time

from kb.crossval.items import Item
from kb.crossval.report import CVReport, run_cv
from kb.labels.model import Label

FOLDS = 5
MIN_EACH = FOLDS  # in-scope and out-of-scope labels needed at least, so that every training side has both


def items_of(labels: list[Label], source: str = "labels") -> list[Item]:
    return [Item(label, source, label.item.get("of") or label.id) for label in labels]


def why_not(items: list[Item]) -> str | None:
    """Why no model can be fitted on these questions (None: it can)."""
    n_oos = sum(1 for it in items if not it.label.in_scope)
    n_in = len(items) - n_oos
    if n_in < MIN_EACH or n_oos < MIN_EACH:
        return (f"需要至少 {MIN_EACH} 个范围内和 {MIN_EACH} 个范围外的标注 / needs at least {MIN_EACH} in-scope and "
                f"{MIN_EACH} out-of-scope labels (has {n_in} and {n_oos})")
    return None


def fit_no_answer(kb, items: list[Item], k: int = FOLDS, known: dict | None = None) -> dict:
    """The model (bias, weights) with what it was fitted on and its held-out figures. Labels in use: the
    four signals and the label margin; KB_USE_LABELS=false: the four signals of a KB without labels."""
    regime = "labels" if kb.settings.use_labels else "zero-shot"
    report = run_cv(kb, items, k, regimes=(regime,), known=known)
    return fitted_model(report, regime, kb.settings.answer_threshold)


def fitted_model(report: CVReport, regime: str, threshold: float) -> dict:
    """The no-answer model a run of `regime` fitted on every held-out new-need row, as it is stored: bias,
    weights, what it was fitted on and its held-out figures."""
    res = report.result(regime)
    items, k = report.cv.items, report.cv.k
    tables = [t for t in report.tables() if t["regime"] == regime and t["part"] == "new"]
    held_out = next((t for t in tables if t["set"] == "all"), tables[0])
    sources: dict[str, int] = {}
    for it in items:
        sources[it.source] = sources.get(it.source, 0) + 1
    described = ", ".join(f"{s} {n}" for s, n in sources.items())
    how = {"labels": "labels in use", "zero-shot": "no labels (zero-shot)",
           "both": "labels in use, each fold's model tuned on the other folds' labels"}.get(regime, regime)
    return {"bias": round(res.calibration.bias, 4),
            "weights": {f: round(w, 4) for f, w in res.calibration.weights.items()},
            "fitted_on": f"{len(items)} labelled questions ({described}): the held-out rows of a {k}-fold "
                         f"cross-validation, {how}",
            "fitted_at": time.strftime("%Y-%m-%d"),
            "held_out": {"answered": held_out.get("answered"), "oos_reject": held_out.get("oos_reject"),
                         "threshold": threshold}}
