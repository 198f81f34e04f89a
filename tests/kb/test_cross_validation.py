"""`kb eval --cv` (kb/crossval): a paraphrase group stays in one fold; a held-out question is answered with
keys, hub reference, model and no-answer model that never saw its fold's labels; a repeated need is answered
with its original among the labels; a tuned model plugs in per fold."""
from __future__ import annotations

import json

import numpy as np
import pytest

from kb.crossval.items import Item, group_folds, read_sets
from kb.labels.model import parse_label
from tests.support.paths import DEV_SET, REPO

TRAIN = REPO / "seeds" / "labels" / "train.jsonl"
PARAPHRASES = REPO / "tests" / "data" / "paraphrases.jsonl"


def _item(n: int, kind: str, of: str | None = None) -> Item:
    obj = {"id": f"x{n}", "question": f"问题{n}", "kind": kind, "gold": [] if kind == "oos" else ["证据"]}
    if of:
        obj["of"] = of
    label = parse_label(obj)
    return Item(label, "s", of or label.id)


def test_a_paraphrase_group_stays_in_one_fold_and_every_fold_gets_each_kind():
    items = [_item(n, ("principle", "case", "oos")[n % 3]) for n in range(30)]
    items += [_item(100 + n, items[n].label.kind, of=items[n].label.id) for n in range(30) for _ in range(2)]
    folds = group_folds(items, 5)
    fold_of = {it.label.id: f for it, f in zip(items, folds)}
    assert all(fold_of[it.label.id] == fold_of[it.group] for it in items)
    for f in range(5):
        kinds = {it.label.kind for it, g in zip(items, folds) if g == f}
        assert kinds == {"principle", "case", "oos"}
    assert np.array_equal(folds, group_folds(items, 5))  # seeded: the same folds every run


@pytest.fixture(scope="module")
def items() -> list[Item]:
    every = read_sets([TRAIN])
    train = [it for it in every if it.label.in_scope][:45] + [it for it in every if not it.label.in_scope][:15]
    originals = {it.label.id for it in train}
    paraphrases = [it for it in read_sets([PARAPHRASES]) if it.repeats in originals]
    return train + paraphrases


def test_held_out_questions_never_meet_their_folds_labels(seed_kb, items):
    from kb.crossval.run import NEW, REGIMES, REPEATED, CrossValidation

    cv = CrossValidation(seed_kb, items, 5)
    labels_regime = next(r for r in REGIMES if r.name == "labels")
    searched = cv.searches(labels_regime)
    ids_of_fold = {f: {it.label.id for it, g in zip(items, cv.folds) if g == f} for f in range(5)}
    originals = {it.label.id for it in items if it.repeats is None}
    assert {s.part for s in searched} == {NEW, REPEATED}
    for s in searched:
        keys = {label.id for label in s.context.keys.labels}
        if s.part == NEW:
            assert not keys & ids_of_fold[s.fold] and not s.same_text
        else:
            assert items[s.index].repeats in keys and keys <= originals  # its original labelled, no paraphrase
    # the hub reference is the keys' questions: the fold's searcher differs from the version's own
    new = next(s for s in searched if s.part == NEW)
    assert not np.array_equal(new.context.searcher.hubs, seed_kb.searcher.hubs)


def test_the_report_gives_every_regime_and_a_tuned_model_plugs_in_per_fold(seed_kb, items):
    from kb.crossval.report import render, run_cv
    from kb.crossval.space import base_space

    trained_on: list[set[str]] = []

    def tuned(training):
        trained_on.append({label.id for label in training})
        space = base_space(seed_kb)
        space.exact = True  # search by products over the space's own vectors, as a re-embedded model does
        return space

    report = run_cv(seed_kb, items, 5, test=read_sets([DEV_SET])[:10], tuned=tuned)
    tables = report.tables()
    assert {t["regime"] for t in tables} == {"zero-shot", "labels", "tuned", "both"}
    assert {t["part"] for t in tables} == {"new", "repeated", "test"}
    folds = report.cv.folds
    for f in range(5):
        held_out = {it.label.id for it, g in zip(items, folds) if g == f}
        assert any(ids == {it.label.id for it in items} - held_out for ids in trained_on)
    # the same base model as "tuned": the same figures, which a leak into one of them would break
    same = {(t["part"], t["set"]): t for t in tables if t["regime"] == "zero-shot"}
    for t in tables:
        if t["regime"] == "tuned":
            assert {k: t[k] for k in ("R@1", "R@5", "MRR@10")} == {k: same[(t["part"], t["set"])][k]
                                                                    for k in ("R@1", "R@5", "MRR@10")}
    text = render(report)
    assert "every figure from held-out questions" in text and "fix cosine" in text
    json.dumps({"tables": tables, "chosen": report.choices()})  # what --json prints


def test_a_question_is_ranked_from_its_own_search_after_earlier_searches_are_gone(seed_kb, items):
    """A ranking is kept with the search it ranks: searches that were dropped (their memory reused by new
    ones) hand nothing to later ones."""
    import gc

    from kb.crossval.run import REGIMES, CrossValidation
    from kb.labels.keys import LabelRules

    by_name = {r.name: r for r in REGIMES}
    fresh = CrossValidation(seed_kb, items, 5)
    expected = [fresh.row(s, LabelRules()).rank for s in fresh.searches(by_name["zero-shot"])]
    cv = CrossValidation(seed_kb, items, 5)
    for _ in range(3):  # rankings of searches that are then dropped
        dropped = cv.searches(by_name["labels"])
        [cv.row(s, LabelRules()) for s in dropped]
        del dropped
        gc.collect()
        assert [cv.row(s, LabelRules()).rank for s in cv.searches(by_name["zero-shot"])] == expected
