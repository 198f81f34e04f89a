"""The question is encoded while BM25 runs: a Future of the query vector, delivered by the micro-batcher.

The overlapped path must answer exactly as the sequential one, errors must reach every waiter, and
concurrent callers must each get their own question's vector."""
from __future__ import annotations

import dataclasses
import threading
import time
from concurrent.futures import Future

import numpy as np
import pytest

from kb.search import Candidate

QUESTIONS = ["客户投诉快递晚到要赔钱，我该怎么处理？", "客户很生气一直骂人怎么办", "什么是首问负责制",
             "退货超过七天还能退吗", "服务补救的步骤有哪些", "客人嫌等太久要求打折"]


def test_async_vector_equals_direct_encode_and_is_cached(encoder):
    encoder.clear_cache()
    q = "坐席如何安抚情绪激动的客户？"
    fut = encoder.encode_query_async(q)
    vec = fut.result(timeout=30)
    np.testing.assert_allclose(vec, encoder.encode_query_uncached(q), rtol=0, atol=1e-6)
    hits = encoder.stats["cache_hits"]
    again = encoder.encode_query_async(q)
    assert again.done(), "a cached question must not wait for the model"
    assert again.result() is vec
    assert encoder.stats["cache_hits"] == hits + 1


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


def test_model_error_reaches_every_waiter():
    from kb.encoders.batcher import MicroBatcher

    def broken(texts):
        raise RuntimeError("model exploded")

    batcher = MicroBatcher(broken, 8)
    futures = [batcher.submit_async(f"q{i}") for i in range(5)]
    for f in futures:
        with pytest.raises(RuntimeError, match="model exploded"):
            f.result(timeout=10)


def test_model_error_reaches_every_waiter_on_lanes():
    from kb.encoders.batcher import MicroBatcher

    def broken(texts, lane=False):
        raise RuntimeError("model exploded")

    batcher = MicroBatcher(broken, 8, lanes=2, lane_max=4)
    futures = [batcher.submit_async(f"q{i}") for i in range(9)]
    for f in futures:
        with pytest.raises(RuntimeError, match="model exploded"):
            f.result(timeout=10)


def test_lanes_run_a_lone_request_on_all_cores_and_a_crowd_in_small_batches():
    """Continuous batching: a lone request takes the all-cores path; under load each worker takes at most
    lane_max queued requests, and a lone run never overlaps a lane run (the gate)."""
    import time

    from kb.encoders.batcher import MicroBatcher

    calls: list[tuple[int, bool]] = []
    running = {"solo": 0, "lane": 0}
    overlap: list[str] = []
    lock = threading.Lock()

    def fn(texts, lane=False):
        kind = "lane" if lane else "solo"
        with lock:
            calls.append((len(texts), lane))
            running[kind] += 1
            if running["solo"] and running["lane"]:
                overlap.append(kind)
        time.sleep(0.005)
        with lock:
            running[kind] -= 1
        return [np.full(2, float(t[1:])) for t in texts]

    batcher = MicroBatcher(fn, 32, lanes=2, lane_max=4)
    assert batcher.submit_async("q7").result(timeout=10)[0] == 7.0
    assert calls == [(1, False)]
    futures = [batcher.submit_async(f"q{i}") for i in range(40)]
    assert [f.result(timeout=10)[0] for f in futures] == [float(i) for i in range(40)]
    assert sum(n for n, _ in calls[1:]) == 40
    assert max(n for n, _ in calls) <= 4
    assert any(lane for _, lane in calls), "a crowd is spread over the lanes"
    assert not overlap


def test_concurrent_callers_get_their_own_vectors(encoder):
    encoder.clear_cache()
    expected = {q: encoder.encode_query_uncached(q) for q in QUESTIONS}
    got: dict[str, np.ndarray] = {}
    barrier = threading.Barrier(len(QUESTIONS))

    def ask(q):
        barrier.wait()
        got[q] = encoder.encode_query_async(q).result(timeout=30)

    threads = [threading.Thread(target=ask, args=(q,)) for q in QUESTIONS]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for q in QUESTIONS:  # batched with padding: the same vector up to float rounding
        assert float(got[q] @ expected[q]) > 0.99999, q


def _reference_collapse(ranked):
    """The rule spelled out with Python sets: join the first kept result sharing >= 80 % (Jaccard) or
    containing 95 % of the smaller one's 4-grams."""
    from kb.answer.collapse import DUP_JACCARD, _grams

    kept = []
    for i, (_, p) in enumerate(ranked):
        g = _grams(p.text)
        for k in kept:
            h = _grams(ranked[k[0]][1].text)
            inter = len(g & h)
            if inter and (inter / len(g | h) >= DUP_JACCARD or inter / min(len(g), len(h)) >= 0.95):
                k[1].append(p.id)
                break
        else:
            kept.append((i, [p.id]))
    return [(i, ids) for i, ids in kept]


def _with_copies(kb, questions):
    """Each question's results with near-duplicates inserted as editors make them: a copy in another
    document, a copy with a line cut off, a copy with a sentence added."""
    cases = []
    for q in questions:
        res = kb.searcher.search(q, 30)
        ranked = list(zip(res.candidates, kb.passages([c.row for c in res.candidates])))
        for n, (c, p) in enumerate(ranked[:6]):
            text = [p.text, p.text[: int(len(p.text) * 0.9)], p.text + "另外请注意记录客户的联系方式。"][n % 3]
            ranked.insert(2 * n + 3, (Candidate(row=c.row), dataclasses.replace(p, id=f"{p.id}-copy{n}", text=text)))
        cases.append(ranked)
    return cases


def test_collapse_matches_the_set_rule_also_from_many_threads(seed_kb):
    comp = seed_kb.composer.collapser
    cases = _with_copies(seed_kb, QUESTIONS + ["课件里重复的幻灯片", "服务质量"])

    def ours(ranked):
        index = {id(c): i for i, (c, _) in enumerate(ranked)}
        return [(index[id(c)], [s["passage_id"] for s in sources]) for c, _, sources in comp.collapse(ranked)]

    expected = [_reference_collapse(r) for r in cases]
    assert any(len(e) < len(r) for e, r in zip(expected, cases)), "the seeds hold near-duplicates"
    comp._grams.clear()
    comp._gram_vocab.clear()
    got: dict[int, list] = {}

    def work(k):  # every thread starts from a cold cache: gram ids are handed out concurrently
        got[k] = [ours(r) for r in cases]

    threads = [threading.Thread(target=work, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for k in range(6):
        assert got[k] == expected


def test_near_duplicates_found_at_open_give_what_comparing_per_question_gives(seed_kb):
    """Small KBs compare all their passages' pairs once, beside the first requests; collapse then only
    looks them up."""
    assert seed_kb.composer.warmed.wait(30)
    comp = seed_kb.composer.collapser
    assert set(comp._neighbours) == {p.id for p in seed_kb.passages(list(range(seed_kb.stats()["passages"])))}
    cases = _with_copies(seed_kb, QUESTIONS + ["课件里重复的幻灯片", "服务质量"])
    table = comp.duplicates_among([p for ranked in cases for _, p in ranked])
    assert sum(1 for v in table.values() if v) >= 6
    original = comp._neighbours
    comp._neighbours = table  # as if these passages (copies included) were the version's
    try:
        for ranked in cases:
            index = {id(c): i for i, (c, _) in enumerate(ranked)}
            got = [(index[id(c)], [s["passage_id"] for s in sources]) for c, _, sources in comp.collapse(ranked)]
            assert got == _reference_collapse(ranked)
    finally:
        comp._neighbours = original


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


def _wait_idle(enc, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while enc._batcher._busy or not enc._batcher._queue.empty():
        assert time.monotonic() < deadline, "the encoder never became idle"
        time.sleep(0.001)


def test_a_caller_woken_by_its_vector_finds_the_encoder_idle(seed_kb):
    """Workers stop counting as busy before they hand out results: the next question of a caller whose
    vector just arrived runs alone on all cores, not beside a batch that has finished already."""
    enc = seed_kb.encoder
    _wait_idle(enc)
    seen: list[bool] = []
    for i in range(5):
        fut = enc._batcher.submit_async(f"刚刚算完的问题 {i}")
        # a done-callback runs the moment the result is set, on the worker's thread: the earliest any
        # woken caller could look
        fut.add_done_callback(lambda _: seen.append(enc._batcher._busy == 0))
        fut.result(timeout=30)
    assert seen == [True] * 5


def test_closing_a_kb_at_once_stops_its_warm_up_before_the_store_closes(seed_settings, seed_build, encoder):
    """A KB closed while its warm-up still reads SQLite (a re-index candidate, a CLI command) used to
    close the connection under the running query, which crashed the process."""
    from kb.knowledge_base import KnowledgeBase

    for _ in range(30):
        kb = KnowledgeBase.open(seed_settings, encoder)
        thread = kb.composer._warm_thread
        kb.close()
        assert not thread.is_alive()
    kb = KnowledgeBase.open(seed_settings, encoder)  # and one left to finish still warms fully
    try:
        assert kb.composer.warmed.wait(30)
        assert kb.composer.collapser._neighbours
    finally:
        kb.close()
