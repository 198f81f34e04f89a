"""The indexes find the exact top k: BM25 (on token lists) ranks by Okapi weights, and its pruned search is
exactly the exhaustive top-k on small random corpora, ties by row; the on-disk formats round-trip
(memory-mapped); every dense index kind finds each vector itself, and `auto` chooses the kind by size."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kb.index.bm25 import BM25Index
from kb.index.dense import DenseIndex, choose_kind
from tests.support.bm25_corpus import corpus as _corpus
from tests.support.bm25_corpus import pruned as _pruned


def _assert_same(index: BM25Index, query: list[str], k: int) -> None:
    got_rows, got_scores = index.search(query, k)
    ref_rows, ref_scores = index.search_exhaustive(query, k)
    np.testing.assert_array_equal(got_rows, ref_rows)
    np.testing.assert_array_equal(got_scores, ref_scores)
    # and the exhaustive reference agrees with scoring every passage (float32 vs float64 sums: allclose)
    full = index.scores(query)
    nz = np.flatnonzero(full > 0)
    assert ref_rows.size == min(k, nz.size)
    np.testing.assert_allclose(ref_scores, full[ref_rows], rtol=1e-5)
    if nz.size > k:
        assert full[nz].max() >= ref_scores[0] - 1e-5 and np.sort(full[nz])[-k] <= ref_scores[-1] + 1e-4


@pytest.mark.parametrize("seed", range(6))
def test_bm25_pruned_search_is_exact(seed):
    rng = np.random.default_rng(seed)
    docs = _corpus(rng, n=3000, vocab=400, mean_len=20)
    index = _pruned(BM25Index.build(docs, "t"))
    for _ in range(60):
        q = [f"t{t}" for t in rng.integers(0, 120, size=int(rng.integers(1, 16)))]
        q += rng.choice(docs[int(rng.integers(len(docs)))], size=3).tolist()  # words of one passage
        for k in (1, 10, 100):
            _assert_same(index, q, k)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), n=st.integers(1, 600), vocab=st.integers(2, 60),
       k=st.integers(1, 40), qlen=st.integers(1, 12))
def test_bm25_pruned_search_is_exact_hypothesis(seed, n, vocab, k, qlen):
    rng = np.random.default_rng(seed)
    docs = _corpus(rng, n=n, vocab=vocab, mean_len=6)
    index = _pruned(BM25Index.build(docs, "t"))
    index.HEAD = 4  # heads shorter than most lists, so the threshold comes from a partial view
    index.colmax, index.headptr, index.headrows = index._bounds()
    q = [f"t{t}" for t in rng.integers(0, vocab + 2, size=qlen)]  # may hold unknown and repeated tokens
    _assert_same(index, q, k)


def test_bm25_round_trip_memory_mapped(tmp_path):
    rng = np.random.default_rng(3)
    docs = _corpus(rng, n=2000, vocab=300, mean_len=15)
    index = BM25Index.build(docs, "w")
    index.save(tmp_path)
    again = BM25Index.load(tmp_path, "w")
    assert again.n_docs == 2000 and again.weights.shape == index.weights.shape
    assert again.df(again.vocab["t0"]) == index.df(index.vocab["t0"]) > 0
    for _ in range(30):
        q = [f"t{t}" for t in rng.integers(0, 80, size=6)]
        for a, b in zip(index.search(q, 20), again.search(q, 20)):
            np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(index.scores(q), again.scores(q))


def test_bm25_weights_kept_at_load_rank_bit_for_bit_like_weights_computed_per_query(monkeypatch):
    """Small indexes compute every posting's weight once (STORE_WEIGHTS_MAX); larger ones per query term.
    Both must give the same float32 scores, on the exhaustive and on the pruned path."""
    rng = np.random.default_rng(5)
    docs = _corpus(rng, n=2500, vocab=300, mean_len=15)
    kept = BM25Index.build(docs, "t")
    monkeypatch.setattr(BM25Index, "STORE_WEIGHTS_MAX", 0)
    computed = BM25Index.build(docs, "t")
    assert kept._stored is not None and computed._stored is None
    queries = [[f"t{t}" for t in rng.integers(0, 100, size=int(rng.integers(1, 12)))] for _ in range(40)]
    for pruned in (False, True):
        if pruned:
            _pruned(kept), _pruned(computed)
        for q in queries:
            for x, y in zip(kept.search(q, 20), computed.search(q, 20)):
                np.testing.assert_array_equal(x, y)
            np.testing.assert_array_equal(kept.scores(q), computed.scores(q))


def test_bm25_weights_are_okapi():
    docs = [["a", "b"], ["a", "a", "c"], ["d"]]
    index = BM25Index.build(docs, "t")
    n, avgdl, k1, b = 3, 2.0, 1.2, 0.75
    idf = np.log1p((n - 2 + 0.5) / (2 + 0.5))
    tf, dl = 2, 3
    expect = tf * (k1 + 1) / (tf + k1 * (1 - b + b * dl / avgdl)) * idf
    assert index.scores(["a"])[1] == pytest.approx(expect, rel=1e-6)


@pytest.mark.parametrize("kind", ["flat", "hnsw", "hnswsq", "hnswf16", "ivfpq", "ivfsq"])
def test_dense_index_kinds_at_small_scale(tmp_path, kind):
    rng = np.random.default_rng(0)
    v = rng.normal(size=(3000, 32)).astype(np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    idx = DenseIndex.build(v, kind, pq_m=8)
    idx.save(tmp_path, "d")
    again = DenseIndex.load(tmp_path, "d")
    assert again.kind == kind
    hits = sum(int(again.search(v[i], 5)[0][0] == i) for i in range(0, 3000, 100))
    assert hits >= 27  # each vector is its own nearest neighbour (quantised kinds may miss a few)


def test_choose_kind_by_size():
    assert choose_kind("flat", 10**7, 50_000) == "flat"
    assert choose_kind("auto", 1_000, 50_000) == "flat"
    assert choose_kind("auto", 49_999, 50_000) == "flat"
    assert choose_kind("auto", 50_000, 50_000) == "hnsw"
    assert choose_kind("auto", 499_999, 50_000, 500_000) == "hnsw"
    assert choose_kind("auto", 1_000_000, 50_000, 500_000) == "hnswf16"
    assert choose_kind("hnswsq", 1_000_000, 50_000, 500_000) == "hnswsq"


def test_hnswf16_stored_vectors_are_the_float16_vectors_without_a_copy(tmp_path):
    """The re-scoring copy of an hnswf16 index is a read-only view of its own codes: float16 within one
    unit in the last place of `astype(float16)`, still valid after the index object is dropped by its
    caller (the array holds it), and the same after a save/load round trip. Other kinds store none."""
    import gc

    rng = np.random.default_rng(3)
    v = rng.normal(size=(2000, 48)).astype(np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    half = v.astype(np.float16)
    idx = DenseIndex.build(v, "hnswf16")
    stored = idx.stored_vectors()
    assert stored.shape == v.shape and stored.dtype == np.float16 and not stored.flags.writeable
    ulp = np.abs(np.spacing(half)).astype(np.float32)
    assert np.all(np.abs(stored.astype(np.float32) - half.astype(np.float32)) <= ulp)
    assert np.mean(stored == half) > 0.999
    assert not stored.flags.owndata and stored.base is not None  # a view of the index's memory, no copy
    idx.save(tmp_path, "d")
    del idx
    gc.collect()
    np.testing.assert_array_equal(stored, stored.copy())  # the index is alive while the array is
    again = DenseIndex.load(tmp_path, "d").stored_vectors()
    gc.collect()
    np.testing.assert_array_equal(again, stored)
    rows, scores = DenseIndex.load(tmp_path, "d").search(v[7], 3)
    assert rows[0] == 7 and abs(scores[0] - float(again[7].astype(np.float32) @ v[7])) < 1e-3
    assert DenseIndex.build(v, "hnsw").stored_vectors() is None
    assert DenseIndex.build(v, "hnswsq").stored_vectors() is None
    assert DenseIndex.build(v[:0], "hnswf16").stored_vectors().shape == (0, 48)


def test_bm25_scores_equal_term_by_term_accumulation(monkeypatch):
    """`scores` sums all postings in one bincount: bit for bit what adding each distinct term's weights
    × its count into a float64 accumulator gives, for stored and computed weights, repeated and unknown
    query tokens."""
    rng = np.random.default_rng(11)
    docs = _corpus(rng, n=800, vocab=200, mean_len=12)
    kept = BM25Index.build(docs, "t")
    monkeypatch.setattr(BM25Index, "STORE_WEIGHTS_MAX", 0)
    computed = BM25Index.build(docs, "t")

    def reference(index: BM25Index, tokens: list[str]) -> np.ndarray:
        acc = np.zeros(index.n_docs, dtype=np.float64)
        counts: dict[int, int] = {}
        for t in tokens:
            if t in index.vocab:
                counts[index.vocab[t]] = counts.get(index.vocab[t], 0) + 1
        for col in sorted(counts):
            a, b = int(index.indptr[col]), int(index.indptr[col + 1])
            w = index._slice_weights(a, b, col)
            acc[index.rows[a:b]] += w * np.float32(counts[col]) if counts[col] != 1 else w
        return acc.astype(np.float32)

    queries = [[f"t{t}" for t in rng.integers(0, 220, size=int(rng.integers(0, 25)))] for _ in range(200)]
    queries += [["t1", "t1", "t2"], ["nope"], [], ["t3"] * 4]
    for index in (kept, computed):
        for q in queries:
            np.testing.assert_array_equal(index.scores(q), reference(index, q))


def test_bm25_ties_break_by_row_at_every_corpus_size():
    """One tie rule for small and large corpora: equal scores rank by row, whichever path scores them."""
    for n in (40, 300):
        index = BM25Index.build([["same", "words", f"u{i}"] for i in range(n)], "t")
        rows, scores = index.search(["same"], 7)
        assert rows.tolist() == list(range(7)) and len(set(scores.tolist())) == 1
        np.testing.assert_array_equal(rows, index.search_exhaustive(["same"], 7)[0])


def test_bm25_takes_token_lists_and_ranks(tmp_path):
    docs = [["投诉", "处理", "步骤"], ["道歉", "真诚"], ["投诉", "投诉", "赔偿"], []]
    idx = BM25Index.build(docs, "t")
    rows, scores = idx.search(["投诉", "赔偿"], 3)
    assert list(rows[:2]) == [2, 0] and scores[0] > scores[1] > 0
    idx.save(tmp_path)
    again = BM25Index.load(tmp_path, "t")
    assert np.allclose(again.scores(["投诉"]), idx.scores(["投诉"]))
    assert idx.search(["不存在"], 3)[0].size == 0


@pytest.mark.parametrize("kind", ["flat", "hnsw", "ivfpq"])
def test_dense_index_kinds(tmp_path, kind):
    rng = np.random.default_rng(0)
    v = rng.normal(size=(2000, 64)).astype(np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    idx = DenseIndex.build(v, kind, pq_m=16)
    rows, scores = idx.search(v[123], 5)
    assert rows[0] == 123
    idx.save(tmp_path)
    assert DenseIndex.load(tmp_path).search(v[7], 1)[0][0] == 7
