"""Small exact KBs fuse every passage in whole arrays (kb/search.py, _WholeKB); larger ones fuse the
union of each channel's top rows. Both are the same weighted RRF: the whole-array path must equal a plain
reference over all passages, and agree with the candidate path wherever the candidate path saw a row."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from kb.search import HybridSearcher

ROOT = Path(__file__).resolve().parents[1]
QUESTIONS = [json.loads(line)["question"] for line in (ROOT / "tests/data/dev.jsonl").read_text("utf-8").splitlines()
             if line.strip()]


@pytest.fixture(scope="module")
def candidate_path(seed_kb):
    s = seed_kb.searcher
    other = HybridSearcher(s.dense, s.units, s.vectors, s.unit_vectors, s.unit_offsets, s.words, s.chars,
                           s.tokenizer, s.encoder, s.hubs, s.unit_hubs, s.weights, s.depth, fuse_all_up_to=0)
    assert s._whole is not None and other._whole is None
    return other


def _reference(searcher: HybridSearcher, question: str, qv: np.ndarray, k: int) -> list[tuple[int, float, dict]]:
    """Weighted RRF over all passages, one passage at a time: ranks by (score desc, row), lexical channels
    ranking only passages with a score > 0."""
    norm = searcher.tokenizer
    from kb.text import display_text, search_text

    text = search_text(display_text(question))
    lam = searcher.weights.hubness / 2
    n = len(searcher.vectors)
    passage = [float(np.float32(searcher.vectors[r] @ qv) - np.float32(lam * searcher.hubs[r])) for r in range(n)]
    sentence = []
    for r in range(n):
        a, b = int(searcher.unit_offsets[r]), int(searcher.unit_offsets[r + 1])
        sims = [np.float32(searcher.unit_vectors[u] @ qv) - np.float32(lam * searcher.unit_hubs[u]) for u in range(a, b)]
        sentence.append(float(max(sims)) if sims else passage[r])
    channels = {"words": searcher.words.scores(norm.words(text)).tolist(),
                "chars": searcher.chars.scores(norm.bigrams(text)).tolist(),
                "passage": passage, "sentence": sentence}
    ranks = {}
    for name, scores in channels.items():
        order = sorted((r for r in range(n) if name in ("passage", "sentence") or scores[r] > 0),
                       key=lambda r: (-scores[r], r))
        ranks[name] = {r: i + 1 for i, r in enumerate(order)}
    fused = []
    for r in range(n):
        total = 0.0
        for name in channels:
            if r in ranks[name]:
                total += getattr(searcher.weights, name) / (searcher.weights.k + ranks[name][r])
        fused.append((r, total, {name: ranks[name][r] for name in channels if r in ranks[name]}))
    return sorted(fused, key=lambda x: (-x[1], x[0]))[:k]


def test_whole_array_fusion_equals_a_reference_over_all_passages(seed_kb):
    s = seed_kb.searcher
    for q in QUESTIONS[:8] + ["服务", "退款", "zzzz 无关的问题"]:
        qv = seed_kb.encoder.encode_query(q)
        got = s.search(q, 20, query_vector=qv).candidates
        ref = _reference(s, q, qv, 20)
        assert [c.row for c in got] == [r for r, _, _ in ref], q
        for c, (_, score, ranks) in zip(got, ref):
            assert c.score == pytest.approx(score, rel=1e-6, abs=1e-9)
            assert c.ranks == ranks


def test_whole_array_fusion_agrees_with_the_candidate_path(seed_kb, candidate_path):
    """Same first result for every dev question; same dense evidence for every row both return; the same
    lexical scores wherever the candidate path had one (it zeroes rows beyond a channel's top 100)."""
    for q in QUESTIONS:
        qv = seed_kb.encoder.encode_query(q)
        whole = seed_kb.searcher.search(q, 20, query_vector=qv)
        cand = candidate_path.search(q, 20, query_vector=qv)
        assert whole.candidates[0].row == cand.candidates[0].row, q
        assert (whole.query_words, whole.query_bigrams) == (cand.query_words, cand.query_bigrams)
        by_row = {c.row: c for c in cand.candidates}
        shared = [c for c in whole.candidates if c.row in by_row]
        assert len(shared) >= 12, q
        for c in shared:
            o = by_row[c.row]
            assert (c.dense, c.sentence, c.sentence_index, c.dense_adjusted, c.sentence_adjusted) == \
                   (o.dense, o.sentence, o.sentence_index, o.dense_adjusted, o.sentence_adjusted)
            for key in ("words_score", "chars_score"):
                if getattr(o, key) > 0:
                    assert getattr(c, key) == getattr(o, key)


def test_single_channel_modes_and_larger_kbs_keep_the_candidate_path(seed_kb, candidate_path):
    s = seed_kb.searcher
    for q in QUESTIONS[:5]:
        for mode in ("dense", "bm25"):
            assert [(c.row, c.score) for c in s.search(q, 10, mode=mode).candidates] == \
                   [(c.row, c.score) for c in candidate_path.search(q, 10, mode=mode).candidates]
    n = len(s.vectors)
    bigger = HybridSearcher(s.dense, s.units, s.vectors, s.unit_vectors, s.unit_offsets, s.words, s.chars,
                            s.tokenizer, s.encoder, s.hubs, s.unit_hubs, s.weights, s.depth, fuse_all_up_to=n - 1)
    assert bigger._whole is None
    assert HybridSearcher(s.dense, s.units, s.vectors, s.unit_vectors, s.unit_offsets, s.words, s.chars,
                          s.tokenizer, s.encoder, s.hubs, s.unit_hubs, s.weights, s.depth,
                          fuse_all_up_to=n)._whole is not None
