"""Tuned models as the cross-validation sees them (kb/crossval/space.py `Space`): `FoldTuner` is the
`SpaceFor` that trains a model on a fold's training labels only and embeds the version's passages, sentences
and the questions with it; `base_space_for` is the base model's space of the version (re-embedded when the
version's own vectors come from a tuned model, which learned from every label, held-out ones included).

A fold's model runs on torch in fp32 and lives only while it embeds: its space keeps the vectors of every
question the cross-validation will ask (given up front), not the model.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ingest.passage_text import embed_input, indexed_text
from ingest.tune.pairs import Pair, training_pairs
from ingest.tune.recipe import Recipe
from ingest.tune.train import Trained, release_memory, train
from kb.answer import MIN_CANDIDATES
from kb.answer.collapse import Collapser
from kb.crossval.space import Space, base_space, fold_searcher
from kb.labels.model import Label
from kb.labels.reference import text_key
from kb.labels.resolve import PassageMatcher
from kb.settings import Settings
from kb.units import sentence_units

Progress = Callable[[str, int, int], None]  # (stage, done, total), as ingest reports


@dataclass
class VersionTexts:
    """What the KB embeds of a version, in its rows: each passage's input, then every sentence unit."""

    passages: list[str]
    units: list[str]


def version_texts(kb) -> VersionTexts:
    passages = kb.all_passages()
    return VersionTexts([embed_input(p) for p in passages],
                        [u for p in passages for u in sentence_units(indexed_text(p))])


def near_duplicates(kb) -> list[frozenset[int]]:
    """Row -> rows of its near-duplicates (kb/answer/collapse.py's rule)."""
    passages = kb.all_passages()
    row = {p.id: i for i, p in enumerate(passages)}
    table = Collapser().duplicates_among(passages)
    return [frozenset(row[d] for d in table[p.id]) for p in passages]


def torch_encode(model, prompt: str, texts: list[str], threads: int, batch: int = 32) -> np.ndarray:
    """L2-normalised vectors of prompt + text, as kb/encoders/torch_engine.py computes them."""
    import torch

    if not texts:
        return np.zeros((0, model.get_embedding_dimension()), dtype=np.float32)
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        with torch.inference_mode():
            vecs = model.encode([prompt + t for t in texts], batch_size=batch, convert_to_numpy=True,
                                normalize_embeddings=True, show_progress_bar=False)
    finally:
        torch.set_num_threads(before)
    return np.asarray(vecs, dtype=np.float32)


def _not_encoded(texts: list[str]) -> np.ndarray:
    raise KeyError(f"question not encoded by the fold's model: {texts[:1]}")


def base_space_for(kb, settings: Settings) -> Space:
    """The base model's view of the KB's version: its own vectors and encoder, or, for a version embedded
    with a tuned model (whose vectors learned from every label), the version embedded again by the base
    model."""
    from kb.encoders import Encoder

    if not kb.manifest.get("tuned_model"):
        return base_space(kb)
    encoder = Encoder.from_settings(settings)
    texts = version_texts(kb)
    vectors, units = encoder.encode_passages(texts.passages), encoder.encode_passages(texts.units)
    return Space("base", encoder.encode_queries, vectors, units, exact=True)


class BaseRanking:
    """Rows of the version's passages in the base model's hybrid order for a question (hub scores against
    the passages themselves: no label is involved), remembered per question."""

    def __init__(self, kb, base: Space):
        self.base = base
        self.searcher = fold_searcher(kb, base, base.hubs(None))
        self._cache: dict[str, list[int]] = {}

    def __call__(self, question: str) -> list[int]:
        hit = self._cache.get(question)
        if hit is None:
            qv = self.base.queries([question])[0]
            result = self.searcher.search(question, MIN_CANDIDATES, query_vector=qv)
            hit = self._cache[question] = [c.row for c in result.candidates]
        return hit


class FoldTuner:
    """The `SpaceFor` of tuned models: called with a fold's training labels, trains on them alone and returns
    the space of that model. questions: every question text (kb.labels.keys.key_text) the cross-validation
    will encode, embedded while the model is loaded. Reports (stage, steps done, steps) while training, the
    stage named by `stage(n)` for the n-th model (from 1)."""

    def __init__(self, kb, settings: Settings, base: Space, recipe: Recipe, seed: int, questions: list[str],
                 progress: Progress | None = None, stage: Callable[[int], str] = lambda n: f"tune model {n}"):
        self.kb, self.settings, self.recipe, self.seed = kb, settings, recipe, seed
        self.questions = list(dict.fromkeys(questions))
        self.progress = progress or (lambda stage, done, total: None)
        self.stage = stage
        self.texts = version_texts(kb)
        self.matcher = PassageMatcher(kb.all_passages())
        self.duplicates = near_duplicates(kb)
        self.ranked = BaseRanking(kb, base)
        self.trained: list[Trained] = []  # what each call trained (figures for the report)

    def pairs(self, labels: list[Label]) -> list[Pair]:
        return training_pairs(labels, self.matcher, self.duplicates, self.ranked, self.recipe.negatives)

    def train(self, labels: list[Label], stage: str) -> Trained:
        s = self.settings
        return train(s.model_name_or_path, self.pairs(labels), self.texts.passages, self.recipe, self.seed,
                     s.tune_threads, (s.query_prompt, s.passage_prompt),
                     lambda done, total: self.progress(stage, done, total))

    def __call__(self, labels: list[Label]) -> Space:
        n = len(self.trained) + 1
        stage = self.stage(n)
        trained = self.train(labels, stage)
        self.trained.append(trained)
        s, threads = self.settings, self.settings.tune_threads
        self.progress(f"{stage} embed", 0, 1)
        vectors = torch_encode(trained.model, s.passage_prompt, self.texts.passages, threads)
        units = torch_encode(trained.model, s.passage_prompt, self.texts.units, threads)
        asked = torch_encode(trained.model, s.query_prompt, self.questions, threads)
        self.progress(f"{stage} embed", 1, 1)
        trained.model = None  # the space keeps vectors only
        release_memory()
        known = {text_key(q): v for q, v in zip(self.questions, asked)}
        return Space(f"tuned-{n}", _not_encoded, vectors, units, exact=True, _cache=known)
