"""What wrong labels do (research2's hijack test): 10 % of the in-scope keys of every context point at a
random wrong passage (neither one that answers the label nor a near-duplicate of one), in a few random draws;
each held-out question's first passage is compared with and without them."""
from __future__ import annotations

import numpy as np

from kb.crossval.choose import RegimeResult
from kb.crossval.run import NEW, REPEATED, CrossValidation
from kb.labels.keys import Keys

SHARE = 0.1
DRAWS = 3


def _mislabelled(keys: Keys, rng: np.random.Generator, n_passages: int, near: dict[int, set[int]]
                 ) -> tuple[Keys, dict[str, int]]:
    """The keys with SHARE of the in-scope ones pointing at a wrong passage; label id -> that passage."""
    in_scope = [i for i, rows in enumerate(keys.rows) if rows]
    chosen = rng.choice(in_scope, size=max(1, round(SHARE * len(in_scope))), replace=False)
    rows = list(keys.rows)
    wrong: dict[str, int] = {}
    for i in chosen.tolist():
        banned = set(rows[i]).union(*(near.get(r, set()) for r in rows[i]))
        choices = [r for r in range(n_passages) if r not in banned]
        wrong[keys.labels[i].id] = int(rng.choice(choices))
        rows[i] = (wrong[keys.labels[i].id],)
    return Keys(keys.labels, keys.vectors, rows, keys.unresolved, keys.revision, keys.rules), wrong


def hijack(cv: CrossValidation, result: RegimeResult, seed: int = 0) -> dict:
    """Shares of held-out questions whose first passage changed, and changed to a wrong label's passage:
    new needs; paraphrases whose original kept its right label; paraphrases whose original was mislabelled
    (first passage = the wrong one)."""
    passages = cv.matcher.passages
    table = cv.kb.composer.collapser.duplicates_among(passages)
    near = {cv.matcher.row_of[pid]: {cv.matcher.row_of[q] for q in others} for pid, others in table.items()}
    counts = {k: 0 for k in ("new", "new_changed", "new_to_wrong", "unrelated", "unrelated_changed",
                             "unrelated_to_wrong", "own_wrong", "own_wrong_first")}
    rng = np.random.default_rng(seed)
    searched = [s for s in result.searched if s.part in (NEW, REPEATED) and s.context.keys is not None]
    contexts = {id(s.context): s.context for s in searched}
    for _ in range(DRAWS):
        bad = {cid: _mislabelled(ctx.keys, rng, len(passages), near) for cid, ctx in contexts.items()}
        for s in searched:
            rules = result.rules[s.fold]
            clean, keys_wrong = cv.row(s, rules), bad[id(s.context)]
            dirty = cv.row(s, rules, keys=keys_wrong[0])
            wrong_rows = set(keys_wrong[1].values())
            changed, to_wrong = dirty.top != clean.top, dirty.top != clean.top and dirty.top in wrong_rows
            if s.part == NEW:
                counts["new"] += 1
                counts["new_changed"] += changed
                counts["new_to_wrong"] += to_wrong
                continue
            original = cv.items[s.index].repeats
            if original in keys_wrong[1]:
                counts["own_wrong"] += 1
                counts["own_wrong_first"] += dirty.top == keys_wrong[1][original]
            else:
                counts["unrelated"] += 1
                counts["unrelated_changed"] += changed
                counts["unrelated_to_wrong"] += to_wrong

    def share(part: str, what: str) -> float | None:
        return round(counts[f"{part}_{what}"] / counts[part], 3) if counts[part] else None

    return {"draws": DRAWS, "share_mislabelled": SHARE,
            "new_needs": {"n": counts["new"], "changed": share("new", "changed"),
                          "to_wrong": share("new", "to_wrong")},
            "unrelated_paraphrases": {"n": counts["unrelated"], "changed": share("unrelated", "changed"),
                                      "to_wrong": share("unrelated", "to_wrong")},
            "own_original_mislabelled": {"n": counts["own_wrong"],
                                         "first_is_wrong": (round(counts["own_wrong_first"] / counts["own_wrong"], 3)
                                                            if counts["own_wrong"] else None)}}
