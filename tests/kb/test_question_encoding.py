"""Questions are encoded by a micro-batcher (kb/encoders/batcher.py): a Future of each question's vector,
equal to encoding it directly and cached; a lone question runs on all cores, a crowd in small batches on
the lanes; concurrent callers each get their own question's vector; a model error reaches every waiter;
and a caller woken by its vector finds the encoder idle."""
from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from tests.support.questions import QUESTIONS


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
