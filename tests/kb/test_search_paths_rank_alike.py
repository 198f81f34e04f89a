"""Every path of the hybrid search ranks exactly as the plain sequential one: with the query vector given,
with a Future of it (the question is encoded while BM25 runs), or with none; with the dense channel and the
bigram BM25 on the searcher's threads (large KBs) or not; with the exact dense channel by one product or
through FAISS; and the fused score is the weighted reciprocal-rank sum of each channel's ranks. Errors of a
channel reach the caller; nothing hangs."""
from __future__ import annotations

import threading
from concurrent.futures import Future

import numpy as np
import pytest

from tests.support.questions import QUESTIONS


def test_search_with_a_future_ranks_exactly_like_with_the_vector(seed_kb):
    searcher, enc = seed_kb.searcher, seed_kb.encoder
    for q in QUESTIONS:
        vec = enc.encode_query_uncached(q)
        fut: Future = Future()
        threading.Timer(0.01, fut.set_result, args=(vec,)).start()  # arrives while BM25 is running
        a = searcher.search(q, 20, query_vector=vec)
        b = searcher.search(q, 20, query_vector=fut)
        assert [(c.row, c.score, c.dense, c.sentence_index, c.ranks) for c in a.candidates] == \
               [(c.row, c.score, c.dense, c.sentence_index, c.ranks) for c in b.candidates]
        assert "encode_wait" in b.timings_ms and "bm25" in b.timings_ms


def test_fused_ranks_follow_each_channel(seed_kb):
    """Each returned candidate carries its rank in every channel that found it, and the fused score is the
    weighted reciprocal-rank sum of exactly those ranks."""
    searcher = seed_kb.searcher
    w = searcher.weights
    res = searcher.search(QUESTIONS[0], 40)
    assert res.candidates
    for c in res.candidates:
        assert {"passage", "sentence"} <= set(c.ranks)
        expected = sum(getattr(w, name) / (w.k + r) for name, r in c.ranks.items())
        assert c.score == pytest.approx(expected, rel=1e-12)
    scores = [c.score for c in res.candidates]
    assert scores == sorted(scores, reverse=True)
    words = sorted((c.ranks["words"], c.words_score) for c in res.candidates if "words" in c.ranks)
    assert [s for _, s in words] == sorted((s for _, s in words), reverse=True), "BM25 ranks follow BM25 scores"


def test_parallel_dense_channel_ranks_exactly_like_the_sequential_one(seed_kb):
    """Large KBs run the dense search on its own threads beside BM25 (kb.search.PARALLEL_FROM); forced on
    here for the seeds, it must return the same candidates, with a vector, a Future, or neither."""
    import copy
    from concurrent.futures import ThreadPoolExecutor

    sequential = copy.copy(seed_kb.searcher)
    parallel = copy.copy(sequential)
    parallel._pool = ThreadPoolExecutor(2, thread_name_prefix="dense-search")
    try:
        for q in QUESTIONS:
            vec = seed_kb.encoder.encode_query_uncached(q)
            ref = [(c.row, c.score, c.ranks) for c in sequential.search(q, 20, query_vector=vec).candidates]
            fut: Future = Future()
            threading.Timer(0.005, fut.set_result, args=(vec,)).start()
            for given in (vec, fut, None):
                res = parallel.search(q, 20, query_vector=given)
                assert [(c.row, c.score, c.ranks) for c in res.candidates] == ref
                assert "dense_wait" in res.timings_ms
        broken: Future = Future()
        broken.set_exception(RuntimeError("model exploded"))
        with pytest.raises(RuntimeError, match="model exploded"):
            parallel.search(QUESTIONS[0], 10, query_vector=broken)

        class FailingIndex:  # one half of the dense channel fails: its error reaches the caller, no hang
            kind = "hnsw"

            def search(self, qv, k):
                raise RuntimeError("sentence index failed")

        half_broken = copy.copy(parallel)
        half_broken.units = FailingIndex()
        with pytest.raises(RuntimeError, match="sentence index failed"):
            half_broken.search(QUESTIONS[0], 10, query_vector=seed_kb.encoder.encode_query_uncached(QUESTIONS[0]))
    finally:
        parallel.close()
    late: Future = Future()  # a vector arriving after the pool closed is an error, never a hang
    threading.Timer(0.01, late.set_result, args=(seed_kb.encoder.encode_query_uncached(QUESTIONS[0]),)).start()
    with pytest.raises(RuntimeError):
        parallel.search(QUESTIONS[0], 10, query_vector=late)


def _parts(s):
    return (s.dense, s.units, s.vectors, s.unit_vectors, s.unit_offsets, s.words, s.chars, s.tokenizer, s.encoder,
            s.hubs, s.unit_hubs, s.weights, s.depth)


def test_parallel_channels_of_large_kbs_answer_exactly_as_the_serial_path(seed_kb):
    """From PARALLEL_FROM passages on, the dense channel and the bigram BM25 run on the searcher's pool beside
    the words channel: same candidates, same scores, with a vector, a Future of one, or none."""
    from kb.search import HybridSearcher

    s = HybridSearcher(*_parts(seed_kb.searcher))  # serial
    parallel = HybridSearcher(*_parts(seed_kb.searcher), parallel_from=0)
    try:
        assert parallel._pool is not None and s._pool is None
        for q in QUESTIONS:
            expected = s.search(q, 20)
            for qv in (None, seed_kb.encoder.encode_query(q), seed_kb.encoder.encode_query_async(q)):
                got = parallel.search(q, 20, query_vector=qv)
                assert [(c.row, c.score, c.ranks) for c in got.candidates] == \
                       [(c.row, c.score, c.ranks) for c in expected.candidates], q
            bm25 = parallel.search(q, 20, mode="bm25")
            assert [c.row for c in bm25.candidates] == [c.row for c in s.search(q, 20, mode="bm25").candidates]
    finally:
        parallel.close()


def test_exact_channel_by_one_product_finds_what_the_flat_index_finds(seed_kb):
    """Over flat indexes the dense channel ranks one product of all vectors itself: same top rows and
    cosines as FAISS (equal cosines by row), and the fusion gets the same scores with or without them."""
    import copy

    from kb.search import _top

    s = seed_kb.searcher
    assert s.dense.kind == "flat" and s.units.kind == "flat"
    for q in QUESTIONS:
        qv = seed_kb.encoder.encode_query_uncached(q)
        for index, vectors, k in ((s.dense, s.vectors, s.depth), (s.units, s.unit_vectors, s.depth * 3)):
            sims = vectors @ qv
            mine = _top(sims, k)
            rows, scores = index.search(qv, k)
            np.testing.assert_allclose(sims[mine], scores, atol=1e-5)
            clear = scores[-1] + 1e-5  # above the k-th cosine: no tie can move a row in or out
            assert set(mine[sims[mine] > clear].tolist()) == set(rows[scores > clear].tolist())
            assert np.all(np.diff(sims[mine]) <= 0)
        via_faiss = copy.copy(s)
        via_faiss.vectors = s.vectors.astype(np.float16)  # not float32: the channel asks FAISS instead
        via_faiss.unit_vectors = s.unit_vectors.astype(np.float16)
        _, found, _, full = via_faiss._dense_channel(qv)
        assert full == {}
        _, found_np, _, full_np = s._dense_channel(qv)
        assert set(full_np) == {"passage", "unit"}
        rows = np.unique(np.concatenate(found + found_np))
        a, b = s._exact_dense(rows, qv, full_np), s._exact_dense(rows, qv, {})
        for key in a:
            np.testing.assert_allclose(a[key], b[key], atol=1e-5)


def test_best_sentence_is_the_first_of_the_highest_in_each_passage(seed_kb):
    """The vectorised best-unit choice against a loop with np.argmax, with ties and passages without units."""
    import copy

    s = copy.copy(seed_kb.searcher)
    rng = np.random.default_rng(3)
    counts = rng.integers(0, 5, 60)
    s.unit_offsets = np.concatenate(([0], np.cumsum(counts)))
    n_units = int(counts.sum())
    unit_sims = np.round(rng.random(n_units), 1).astype(np.float32)  # coarse: many exact ties
    full = {"passage": rng.random(60).astype(np.float32), "unit": unit_sims}
    s.hubs, s.unit_hubs = np.zeros(60, np.float32), np.zeros(n_units, np.float32)
    rows = rng.permutation(60)[:40]
    got = s._exact_dense(rows, None, full)
    for i, r in enumerate(rows):
        a, b = s.unit_offsets[r], s.unit_offsets[r + 1]
        if b == a:
            assert got["sentence_index"][i] == -1 and got["sentence"][i] == full["passage"][r]
        else:
            assert got["sentence_index"][i] == int(np.argmax(unit_sims[a:b]))
            assert got["sentence"][i] == unit_sims[a:b].max()
