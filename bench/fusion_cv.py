"""Are the fusion weights (kb/search.py FusionWeights) still the right ones, judged on questions they were not
chosen on? `python -m bench.fusion_cv [--json]`.

Every in-scope labelled seed question (train, dev, paraphrases: a paraphrase group in one fold) is searched
zero-shot with each candidate set of weights and ranked by the product's own code. For each of 5 folds, the
weights are chosen on the other folds' questions (coordinate descent from today's weights over CHOICES, at
most two sweeps, by MRR@10) and scored on the fold's. Prints the held-out MRR@10 and R@1 of the weights so
chosen against today's on the same questions, by set, with a paired bootstrap over paraphrase groups, and the
weights each fold chose. Needs a built KB (`make run`); a few minutes on two cores.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SETS = [REPO / "seeds" / "labels" / "train.jsonl", REPO / "tests" / "data" / "dev.jsonl",
        REPO / "tests" / "data" / "paraphrases.jsonl"]
CHOICES = {"sentence": (0.5, 1.0, 1.5, 2.0, 3.0), "words": (0.25, 0.5, 0.75, 1.0, 1.5),
           "chars": (0.0, 0.25, 0.5, 0.75, 1.0), "k": (3.0, 5.0, 10.0, 20.0, 40.0),
           "hubness": (0.0, 0.5, 1.0, 1.5, 2.0)}  # the passage channel's weight stays 1: the scale
FOLDS = 5


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = p.parse_args()
    os.environ["KB_USE_LABELS"] = "false"  # zero-shot: the stored labels change nothing here
    from kb.crossval.items import read_sets
    from kb.crossval.report import paired_gain
    from kb.crossval.run import REGIMES, CrossValidation
    from kb.knowledge_base import KnowledgeBase
    from kb.labels.keys import LabelRules
    from kb.search import FusionWeights
    from kb.settings import Settings

    kb = KnowledgeBase.open(Settings())
    items = read_sets(SETS)
    cv = CrossValidation(kb, items, FOLDS, new_only=True)
    zero_shot = next(r for r in REGIMES if r.name == "zero-shot")
    today = FusionWeights()
    reciprocal: dict[tuple, np.ndarray] = {}
    order: list[int] = []  # item index of each in-scope question, in the order searched

    def scores(w: FusionWeights) -> np.ndarray:
        """1 / rank of the first passage that answers (0 beyond 10), per in-scope question."""
        key = dataclasses.astuple(w)
        if key not in reciprocal:
            kb.searcher.weights = w  # each fold's searcher is a copy of the KB's
            rows = [(s.index, cv.row(s, LabelRules())) for s in cv.searches(zero_shot)]
            rows = [(i, r) for i, r in rows if r.in_scope]
            if not order:
                order.extend(i for i, _ in rows)
            reciprocal[key] = np.asarray([1.0 / r.rank if r.rank else 0.0 for _, r in rows])
            print(f"  {len(reciprocal):3d} weights {key}: MRR@10 {reciprocal[key].mean():.3f}", file=sys.stderr)
        return reciprocal[key]

    def descend(mask: np.ndarray) -> FusionWeights:
        w, best = today, scores(today)[mask].mean()
        for _ in range(2):
            moved = False
            for name, values in CHOICES.items():
                for v in values:
                    candidate = dataclasses.replace(w, **{name: v})
                    m = scores(candidate)[mask].mean()
                    if m > best + 1e-9:
                        w, best, moved = candidate, m, True
            if not moved:
                break
        return w

    base = scores(today)
    folds = np.asarray([cv.folds[i] for i in order])
    held, chosen = np.zeros_like(base), []
    for f in range(FOLDS):
        w = descend(folds != f)
        chosen.append(dataclasses.asdict(w))
        held[folds == f] = scores(w)[folds == f]
    sources = np.asarray([items[i].source for i in order])
    by_set = {s: {"chosen": round(float(held[sources == s].mean()), 3),
                  "today": round(float(base[sources == s].mean()), 3)} for s in dict.fromkeys(sources.tolist())}
    out = {"questions": len(order), "today": dataclasses.asdict(today), "chosen_per_fold": chosen,
           "MRR@10": {"chosen": round(float(held.mean()), 3), "today": round(float(base.mean()), 3)},
           "R@1": {"chosen": round(float((held == 1).mean()), 3), "today": round(float((base == 1).mean()), 3)},
           "by_set": by_set,
           "gain": paired_gain([items[i].group for i in order], (held - base).tolist())}
    if args.json:
        print(json.dumps(out, ensure_ascii=False, indent=1))
        return
    print(f"{out['questions']} in-scope questions, held out; weights chosen per fold vs today's {out['today']}")
    print(f"MRR@10 {out['MRR@10']['chosen']} vs {out['MRR@10']['today']}, R@1 {out['R@1']['chosen']} vs "
          f"{out['R@1']['today']}; gain {out['gain']['mrr_gain']} {out['gain']['ci95']}, "
          f"P(gain <= 0) {out['gain']['p_no_gain']}")
    for s, v in by_set.items():
        print(f"  {s}: MRR@10 {v['chosen']} vs {v['today']}")
    for f, w in enumerate(chosen):
        print(f"  fold {f} chose {w}")


if __name__ == "__main__":
    main()
