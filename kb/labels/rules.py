"""How a label match (kb/labels/keys.py `LabelHit`) changes a question's fused candidates, before
near-duplicates are collapsed and the answer is composed. The same function serves answers and the
cross-validation (kb/crossval), so what is measured is what is served."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from kb.labels.keys import LabelHit, LabelRules
from kb.search import Candidate


def _ordered(candidates: list[Candidate]) -> list[Candidate]:
    """Best fused score first, ties by row: the order hybrid search gives."""
    return sorted(candidates, key=lambda c: (-c.score, c.row))


def apply_label_rules(candidates: list[Candidate], hit: LabelHit | None, rules: LabelRules,
                      describe: Callable[[list[int]], list[Candidate]]) -> list[Candidate]:
    """The candidates reordered by the editor's fix or the agree bonus (a new list; the given candidates are
    left as they are). describe(rows): candidates for passages the search did not return (their dense
    evidence), so a fixed passage can be answered from anywhere in the version."""
    if hit is None or not candidates:
        return candidates
    if hit.fix is not None:
        if not hit.fix.in_scope:
            return candidates  # out of scope: the ranking stays, the answer says there is none
        return _fixed(candidates, hit.fix_rows, describe)
    if rules.agree_bonus <= 0 or not hit.nearest_rows:
        return candidates
    nearest = set(hit.nearest_rows)
    head = candidates[:rules.agree_depth]
    if not any(c.row in nearest for c in head):
        return candidates
    head = [replace(c, score=c.score + rules.agree_bonus) if c.row in nearest else c for c in head]
    return _ordered(head) + candidates[len(head):]


def _fixed(candidates: list[Candidate], rows: tuple[int, ...], describe) -> list[Candidate]:
    """The label's passage first, with the top fused score (the answer's principle and case thresholds are
    relative to it): the best-ranked of its passages, or the first when the search returned none."""
    by_row = {c.row: c for c in candidates}
    present = [c for c in candidates if c.row in set(rows)]
    found = present[0] if present else describe([rows[0]])[0]
    chosen = replace(found, score=max(found.score, candidates[0].score))
    rest = [c for c in candidates if c is not found]
    if found.row not in by_row:
        rest = rest[:len(candidates) - 1]  # as many candidates as before
    return [chosen, *rest]
