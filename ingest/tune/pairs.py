"""What the model is tuned on: one pair (label question -> a passage that answers it) per in-scope label and
distinct answering passage, each with mined hard negatives, and the seeded batches they are cut into.

- A label whose gold phrases are in several near-duplicate passages (the same text in two documents) gives
  one pair, not one per copy: the copies are the same target.
- Hard negatives: the first passages of the base model's hybrid ranking for the question that neither answer
  it nor near-duplicate a passage that does (nor one another) - what the product would wrongly rank first.
- Batches (research2 `tune.batches`): greedy and seeded, like sentence-transformers' NO_DUPLICATES sampler,
  and no row joins a batch whose passages answer its question, or whose questions its own passages answer:
  MultipleNegativesRankingLoss takes every other passage of the batch for a wrong answer, so such a batch
  would teach the model that a right answer is wrong.
"""
from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from kb.labels.keys import key_text
from kb.labels.model import Label
from kb.labels.resolve import PassageMatcher


@dataclass(frozen=True)
class Pair:
    question: str  # as the model encodes it (kb.labels.keys.key_text), without the prompt
    positive: int  # the row of a passage that answers it
    negatives: tuple[int, ...]  # rows of passages ranked high that do not
    excluded: frozenset[int]  # rows that answer it, and their near-duplicates: never a wrong answer for it


def distinct(rows: tuple[int, ...], duplicates: list[frozenset[int]]) -> list[int]:
    """One row of each group of near-duplicates, the first."""
    kept: list[int] = []
    for r in rows:
        if not any(r in duplicates[k] for k in kept):
            kept.append(r)
    return kept


def pick_negatives(ranked: list[int], excluded: frozenset[int], duplicates: list[frozenset[int]], n: int,
                   passages: int) -> tuple[int, ...]:
    """The first n rows of `ranked` (then of every row, in order, if it runs short) that are not excluded
    and not near-duplicates of one already picked."""
    chosen: list[int] = []
    for r in [*ranked, *range(passages)]:
        if len(chosen) == n:
            break
        if r in excluded or r in chosen or any(r in duplicates[c] for c in chosen):
            continue
        chosen.append(r)
    return tuple(chosen)


def training_pairs(labels: list[Label], matcher: PassageMatcher, duplicates: list[frozenset[int]],
                   ranked: Callable[[str], list[int]], negatives: int) -> list[Pair]:
    """The pairs of the in-scope labels that some passage answers. duplicates[r]: the near-duplicates of row
    r; ranked(question): rows in the base model's hybrid order."""
    pairs: list[Pair] = []
    for label in labels:
        if not label.in_scope:
            continue
        gold = matcher.rows_for(label.gold)
        if not gold:
            continue
        excluded = frozenset(gold) | frozenset(d for r in gold for d in duplicates[r])
        question = key_text(label.question)
        negs = pick_negatives(ranked(question), excluded, duplicates, negatives, len(duplicates)) \
            if negatives else ()
        pairs += [Pair(question, r, negs, excluded) for r in distinct(gold, duplicates)]
    return pairs


def batches(pairs: list[Pair], size: int, seed: int) -> list[list[int]]:
    """Indexes into `pairs`, cut into batches of at most `size` with no repeated question, no passage twice
    and no false negative (module doc); every pair once, in an order the seed fixes."""
    rng = random.Random(seed)
    remaining = list(range(len(pairs)))
    rng.shuffle(remaining)
    out: list[list[int]] = []
    while remaining:
        batch: list[int] = []
        questions: set[str] = set()
        answers: set[int] = set()  # rows that answer a question of the batch (or near-duplicate one)
        rows: set[int] = set()  # the batch's passages
        rest: list[int] = []
        for i in remaining:
            pair = pairs[i]
            own = {pair.positive, *pair.negatives}
            if (len(batch) < size and pair.question not in questions and not own & rows and not own & answers
                    and not pair.excluded & rows):
                batch.append(i)
                questions.add(pair.question)
                rows |= own
                answers |= pair.excluded
            else:
                rest.append(i)
        out.append(batch)
        remaining = rest
    return out


def step_plan(pairs: list[Pair], batch: int, epochs: int, seed: int) -> list[list[int]]:
    """Every epoch's batches, each epoch shuffled with its own seed (seed + epoch)."""
    return [b for epoch in range(epochs) for b in batches(pairs, batch, seed + epoch)]
