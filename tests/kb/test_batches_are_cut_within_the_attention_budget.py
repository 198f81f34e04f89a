"""How a batch is cut into runs (kb/encoders/exported.py `_runs`): length-sorted, at most `size` texts, and with
an attention budget at most budget texts x tokens^2 (OpenVINO keeps each attention buffer at its largest
shape)."""
from __future__ import annotations

import random
from types import SimpleNamespace

import pytest

from kb.encoders.exported import ExportedGraphBackend


@pytest.mark.parametrize("budget", [None, 512 * 512, 4 * 512 * 512])
def test_runs_cover_every_text_once_sorted_and_within_bounds(budget):
    rng = random.Random(7)
    lengths = [rng.choice([rng.randint(8, 60), rng.randint(60, 512)]) for _ in range(300)]
    ids = [[1] * n for n in lengths]
    runs = ExportedGraphBackend._runs(SimpleNamespace(attention_budget=budget), ids, 16)
    flat = [i for run in runs for i in run]
    assert sorted(flat) == list(range(len(ids)))
    assert [lengths[i] for i in flat] == sorted(lengths)
    for run in runs:
        width = max(lengths[i] for i in run)
        assert 1 <= len(run) <= 16
        if budget is not None:
            assert len(run) == 1 or len(run) * width * width <= budget
    if budget is None:  # only the size bound: every run but the last is full
        assert all(len(run) == 16 for run in runs[:-1])


def test_a_budget_splits_long_texts_and_leaves_questions_whole():
    fake = SimpleNamespace(attention_budget=512 * 512)
    questions = [[1] * n for n in (12, 30, 45, 22, 17, 40, 33, 28)]
    assert ExportedGraphBackend._runs(fake, questions * 2, 16) == [sorted(range(16), key=lambda i: len(questions[i % 8]))]
    passages = [[1] * 512] * 3 + [[1] * 256] * 8
    runs = ExportedGraphBackend._runs(fake, passages, 16)
    assert [len(r) for r in runs] == [4, 4, 1, 1, 1]  # 4 x 256^2 = 512^2; a 512-token text alone
