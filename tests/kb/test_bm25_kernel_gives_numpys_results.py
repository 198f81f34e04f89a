"""The compiled BM25 MaxScore (kb/index/_bm25c.c) against numpy's: built by the install, the same rows and
float32 scores bit for bit on every kind of index and query, safe to call from several threads at once,
and clear about arguments it cannot take."""
from __future__ import annotations

import threading

import numpy as np
import pytest

from kb.index import bm25
from kb.index.bm25 import BM25Index
from tests.support.bm25_corpus import corpus as _corpus
from tests.support.bm25_corpus import pruned as _pruned


def test_the_install_built_the_kernel():
    assert bm25._bm25c is not None, "kb/index/_bm25c.c was not compiled: run `pip install -e .` (needs a C compiler)"
    index = BM25Index.build([["a", "b"], ["b", "c"]], "t")
    assert index.native
    assert not BM25Index(index.indptr, index.rows, index.vocab, "t", tf=index.tf, norm=index.norm,
                         idf=index.idf, native=False).native


def _same_as_numpy(index: BM25Index, queries: list[list[str]], ks=(1, 7, 100)) -> int:
    """Every query's native result equals numpy's pruned one (rows, scores, dtype); returns how many ran."""
    assert index.native
    ran = 0
    for q in queries:
        for k in ks:
            got, ref = index.search(q, k), index.search_numpy(q, k)
            np.testing.assert_array_equal(got[0], ref[0])
            np.testing.assert_array_equal(got[1], ref[1])
            assert got[0].dtype == ref[0].dtype and got[1].dtype == ref[1].dtype
            ran += 1
    return ran


@pytest.mark.parametrize("stored", [True, False])
@pytest.mark.parametrize("seed", range(3))
def test_native_equals_numpy_and_exhaustive(seed, stored, monkeypatch):
    if not stored:  # weights computed from tf/norm/idf per posting, as in every large index
        monkeypatch.setattr(BM25Index, "STORE_WEIGHTS_MAX", 0)
    rng = np.random.default_rng(seed)
    docs = _corpus(rng, n=4000, vocab=500, mean_len=25)
    index = _pruned(BM25Index.build(docs, "t"))
    assert (index._stored is not None) == stored
    queries = []
    for _ in range(50):
        q = [f"t{t}" for t in rng.integers(0, 150, size=int(rng.integers(1, 18)))]  # repeats and unknowns
        queries.append(q + rng.choice(docs[int(rng.integers(len(docs)))], size=3).tolist())
    assert _same_as_numpy(index, queries) == 150
    for q in queries[:20]:  # and both are the exact top-k (ties by row)
        for x, y in zip(index.search(q, 50), index.search_exhaustive(q, 50)):
            np.testing.assert_array_equal(x, y)


def test_native_with_short_heads_wide_tf_and_many_ties(monkeypatch):
    """HEAD=4: the threshold starts from a partial view; uint16 term frequencies; many identical passages
    (ties at the k-th score, broken by row); k larger than the passages that match."""
    monkeypatch.setattr(BM25Index, "STORE_WEIGHTS_MAX", 0)
    rng = np.random.default_rng(11)
    docs = _corpus(rng, n=1500, vocab=80, mean_len=8)
    docs += [["t1", "t2", "t3"]] * 300 + [["t5"] * 300 + ["t6"]]  # copies; a tf over 255
    index = _pruned(BM25Index.build(docs, "t"))
    assert index.tf.dtype == np.uint16
    index.HEAD = 4
    index.colmax, index.headptr, index.headrows = index._bounds()
    queries = [[f"t{t}" for t in rng.integers(0, 82, size=int(rng.integers(1, 10)))] for _ in range(60)]
    queries += [["t1", "t2", "t3"], ["t5", "t6", "t6"], ["t1"] * 3 + ["t79"]]
    assert _same_as_numpy(index, queries, ks=(1, 3, 299, 301, 5000)) == 315


def test_native_round_trip_memory_mapped(tmp_path, monkeypatch):
    """As served: postings memory-mapped read-only; native=False at load keeps numpy."""
    monkeypatch.setattr(BM25Index, "STORE_WEIGHTS_MAX", 0)
    rng = np.random.default_rng(2)
    docs = _corpus(rng, n=3000, vocab=300, mean_len=20)
    BM25Index.build(docs, "w").save(tmp_path)
    mapped = _pruned(BM25Index.load(tmp_path, "w"))
    assert isinstance(mapped.rows, np.ndarray) and not mapped.rows.flags.writeable
    plain = _pruned(BM25Index.load(tmp_path, "w", native=False))
    assert mapped.native and not plain.native
    for _ in range(40):
        q = [f"t{t}" for t in rng.integers(0, 100, size=int(rng.integers(2, 14)))]
        for x, y in zip(mapped.search(q, 30), plain.search(q, 30)):
            np.testing.assert_array_equal(x, y)


def test_native_is_thread_safe_and_hands_back_a_zeroed_accumulator(monkeypatch):
    """The kernel runs without the GIL: several threads searching one index at once get what one thread
    gets, and every pooled accumulator is all zeros afterwards (the next search starts from it)."""
    monkeypatch.setattr(BM25Index, "STORE_WEIGHTS_MAX", 0)
    rng = np.random.default_rng(9)
    docs = _corpus(rng, n=20_000, vocab=2000, mean_len=30)
    index = _pruned(BM25Index.build(docs, "t"))
    queries = [[f"t{t}" for t in rng.integers(0, 300, size=12)] for _ in range(40)]
    expected = [index.search_numpy(q, 100) for q in queries]
    failures: list[str] = []

    def worker(offset: int) -> None:
        for i in range(len(queries)):
            j = (i + offset) % len(queries)
            rows, scores = index.search(queries[j], 100)
            if not (np.array_equal(rows, expected[j][0]) and np.array_equal(scores, expected[j][1])):
                failures.append(f"query {j}")

    threads = [threading.Thread(target=worker, args=(n * 7,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures
    assert index._pool and all(not acc.any() for acc in index._pool)


def test_native_refuses_arrays_of_the_wrong_kind():
    index = BM25Index.build([["a", "b"], ["b", "c"], ["c"]], "t")
    cols, counts = np.asarray([0, 1], dtype=np.int64), np.ones(2, dtype=np.int64)
    acc = np.zeros(index.n_docs)
    out = (np.empty(2, dtype=np.int64), np.empty(2, dtype=np.float32))
    args = [index.indptr, index.rows, index.tf, index.norm, index.idf, None, index.headptr, index.headrows,
            index.colmax, cols, counts, acc, out, 2.2, 2, 1e-6]
    assert bm25._bm25c.maxscore(*args) == 2  # as given, it runs
    bad = list(args)
    bad[1] = index.rows.astype(np.int64)
    with pytest.raises(TypeError, match="rows"):
        bm25._bm25c.maxscore(*bad)
    bad = list(args)
    bad[11] = np.zeros(index.n_docs + 1)
    with pytest.raises(ValueError, match="sizes"):
        bm25._bm25c.maxscore(*bad)
    bad = list(args)
    bad[11] = np.zeros(index.n_docs)
    bad[11].flags.writeable = False
    with pytest.raises((TypeError, ValueError, BufferError)):
        bm25._bm25c.maxscore(*bad)


def test_without_the_kernel_numpy_answers_and_says_so(monkeypatch, caplog):
    """An install that could not compile the kernel still searches (numpy), and logs why it is slower."""
    rng = np.random.default_rng(4)
    docs = _corpus(rng, n=2000, vocab=200, mean_len=15)
    with_kernel = _pruned(BM25Index.build(docs, "t"))
    queries = [[f"t{t}" for t in rng.integers(0, 60, size=8)] for _ in range(10)]
    expected = [with_kernel.search(q, 20) for q in queries]
    monkeypatch.setattr(bm25, "_bm25c", None)
    bm25._warn_no_kernel.cache_clear()
    with caplog.at_level("WARNING", logger="kb.index.bm25"):
        without = _pruned(BM25Index.build(docs, "t"))
    assert not without.native and "not built" in caplog.text
    for q, ref in zip(queries, expected):
        for x, y in zip(without.search(q, 20), ref):
            np.testing.assert_array_equal(x, y)
    bm25._warn_no_kernel.cache_clear()


def test_a_damaged_index_is_an_error_not_a_write_out_of_bounds(monkeypatch):
    """Rows or offsets that point outside the index (a damaged file) raise ValueError; the accumulator the
    search borrowed goes back zeroed, and the index answers as before once its arrays are whole again."""
    monkeypatch.setattr(BM25Index, "STORE_WEIGHTS_MAX", 0)
    rng = np.random.default_rng(8)
    docs = _corpus(rng, n=3000, vocab=100, mean_len=20)
    index = _pruned(BM25Index.build(docs, "t"))
    last_term = max(index.vocab, key=index.vocab.get)
    query = [f"t{t}" for t in range(12)] + [last_term]
    ok = index.search(query, 50)
    good = index.rows
    damaged = good.copy()
    for term in query:  # a row past the last passage in every term's list (the first term is always read)
        damaged[index.indptr[index.vocab[term]]] = index.n_docs + 5
    index.rows = damaged
    with pytest.raises(ValueError, match="does not have"):
        index.search(query, 50)
    assert index._pool and all(not acc.any() for acc in index._pool)
    index.rows = np.ascontiguousarray(good[:-10])  # postings cut short: the last term's run past them
    with pytest.raises(ValueError, match="outside"):
        index.search(query, 50)
    index.rows = good
    for x, y in zip(index.search(query, 50), ok):
        np.testing.assert_array_equal(x, y)
