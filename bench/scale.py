"""Scale: build and search a synthetic corpus of 10k / 100k / 1M passages (bench/synth.py).

For each size: BM25 build (words + bigrams), each dense index kind (flat / hnsw / ivfpq) built with the
product's DenseIndex, sizes on disk; then, in a fresh child process that loads one index kind the way
a KnowledgeBase does (FAISS index in memory, vectors.npy memory-mapped, both BM25 matrices): RSS, search
latency excluding the query encode (dense top-100 + exact re-scoring, BM25 words, BM25 bigrams, the whole
hybrid search), and dense recall@10 against exact search, sweeping efSearch (HNSW) / nprobe (IVF-PQ).

Queries are real: distinct agent questions (bench/questions.py) and their real e5 vectors.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from bench.common import child_env, dir_size_mb, load, log, pct, peak_rss_mb, rss_mb
from kb.index.dense import HNSW_KINDS, holds_vectors

DEPTH = 100  # what HybridSearcher asks each channel for
HNSW_EF = (32, 64, 128, 256, 512)
IVF_NPROBE = (8, 16, 32, 64, 128, 256)
RECALL_TARGET = 0.98


def build(material, n: int, folder: Path, kinds: list[str], queries: np.ndarray, half_from: int = 500_000) -> dict:
    from bench.synth import Corpus
    from kb.index.bm25 import BM25Index
    from kb.index.dense import DenseIndex
    from kb.version.vectors import write_half_copy

    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    info: dict = {"passages": n, "build_s": {}, "disk_mb": {}, "load": load()}
    t = time.perf_counter()
    corpus = Corpus(material, n)
    info["build_s"]["corpus"] = round(time.perf_counter() - t, 2)
    for name in ("words", "chars"):
        t = time.perf_counter()
        indptr, ids = corpus.token_ids(name)
        vocab = material.word_vocab if name == "words" else material.char_vocab
        index = BM25Index.from_ids(indptr, ids, vocab, name)
        del indptr, ids
        index.save(folder)
        info["build_s"][f"bm25_{name}"] = round(time.perf_counter() - t, 2)
        info["disk_mb"][f"bm25_{name}"] = round(sum(dir_size_mb(f) for f in BM25Index.files(folder, name)), 1)
        info[f"bm25_{name}_postings"] = int(index.weights.nnz)
        del index
    t = time.perf_counter()
    vectors = np.lib.format.open_memmap(folder / "vectors.npy", mode="w+", dtype=np.float32,
                                        shape=(n, material.vectors.shape[1]))
    corpus.vectors(vectors)
    vectors.flush()
    info["build_s"]["vectors"] = round(time.perf_counter() - t, 2)
    info["disk_mb"]["vectors"] = dir_size_mb(folder / "vectors.npy")
    # what a KB version of this size stores, unless every kind built here holds its own float16 vectors
    if not all(holds_vectors(k) for k in kinds) and write_half_copy(folder, "vectors", vectors, half_from):
        info["disk_mb"]["vectors_f16"] = dir_size_mb(folder / "vectors.f16.npy")
    del corpus
    # exact top-10 (ground truth for recall) by brute force in chunks
    gt_s = np.full((len(queries), 10), -np.inf, dtype=np.float32)
    gt_i = np.zeros((len(queries), 10), dtype=np.int64)
    for a in range(0, n, 200_000):
        sims = queries @ np.asarray(vectors[a:a + 200_000]).T
        s = np.concatenate([gt_s, sims], axis=1)
        i = np.concatenate([gt_i, np.arange(a, a + sims.shape[1])[None, :].repeat(len(queries), 0)], axis=1)
        top = np.argsort(-s, axis=1)[:, :10]
        gt_s, gt_i = np.take_along_axis(s, top, 1), np.take_along_axis(i, top, 1)
    np.save(folder / "gt.npy", gt_i)
    np.save(folder / "queries.npy", queries)
    for kind in kinds:
        t = time.perf_counter()
        dense = DenseIndex.build(np.asarray(vectors), kind)
        info["build_s"][f"dense_{kind}"] = round(time.perf_counter() - t, 2)
        dense.save(folder, f"dense_{kind}")
        info["disk_mb"][f"dense_{kind}"] = dir_size_mb(folder / f"dense_{kind}.faiss")
        log(f"scale {n}: {kind} built in {info['build_s'][f'dense_{kind}']} s")
        del dense
    del vectors
    info["build_peak_rss_mb"] = peak_rss_mb()
    return info


HNSWSQ_EF = (128, 256, 512, 1024, 2048)
HNSWF16_EF = (128, 256, 384, 512, 576, 640, 768, 1024)  # finer: its recall climbs steeply near 0.98
DEFAULT_KINDS = ["flat", "hnsw", "hnswsq", "hnswf16", "ivfpq", "ivfsq"]
LARGE_KINDS = ["hnswf16"]  # from 1M on: flat costs 116 ms a query, HNSW-flat 744 s to build and 1.7 GB


def _set_param(dense, kind: str, value: int) -> None:
    if kind in HNSW_KINDS:
        dense.set_params(efSearch=value)
    elif kind in ("ivfpq", "ivfsq"):
        dense.set_params(nprobe=value)


def child(folder: Path, kind: str, qfile: Path) -> dict:
    """Runs in its own process: load like a KnowledgeBase, then measure."""
    import faiss

    from kb.blas import limit_blas_threads
    from kb.index.bm25 import BM25Index
    from kb.index.dense import DenseIndex
    from kb.text import display_text, search_text
    from kb.tokenize import Tokenizer
    from kb.version.vectors import load_rescoring

    faiss.omp_set_num_threads(1)  # one query at a time per request thread, as in the service
    limit_blas_threads()  # as a KnowledgeBase does
    out: dict = {"kind": kind, "rss_before_load_mb": rss_mb()}
    t = time.perf_counter()
    dense = DenseIndex.load(folder, f"dense_{kind}")
    # as served: the index's own float16 vectors (hnswf16), else the float16 copy from half_vectors_from on
    vectors = load_rescoring(folder, "vectors", dense)
    out["rescoring_dtype"] = str(vectors.dtype)
    out["rescoring_from"] = "index" if holds_vectors(kind) else "file"
    words, chars = BM25Index.load(folder, "words"), BM25Index.load(folder, "chars")
    tokenizer = Tokenizer.from_folder(None)
    out["load_s"] = round(time.perf_counter() - t, 2)
    out["rss_after_load_mb"] = rss_mb()
    texts = json.loads(qfile.read_text("utf-8"))
    queries = np.load(folder / "queries.npy")
    gt = np.load(folder / "gt.npy")
    n = dense.index.ntotal

    def rerank(rows: np.ndarray, q: np.ndarray) -> np.ndarray:
        rows = np.sort(rows[rows >= 0])
        sims = np.asarray(vectors[rows], dtype=np.float32) @ q
        return rows[np.argsort(-sims)[:10]]

    # recall / latency sweep of the index's search parameter
    sweep = {}
    params = {"hnsw": HNSW_EF, "hnswsq": HNSWSQ_EF, "hnswf16": HNSWF16_EF, "ivfpq": IVF_NPROBE, "ivfsq": IVF_NPROBE}.get(kind, (0,))
    for p in params:
        _set_param(dense, kind, p)
        lat, rec_raw, rec_rr, rec_deep, lat_deep = [], [], [], [], []
        for qi, q in enumerate(queries):
            t = time.perf_counter()
            rows, _ = dense.search(q, DEPTH)
            top = rerank(rows, q)
            lat.append((time.perf_counter() - t) * 1000)
            truth = set(gt[qi].tolist())
            rec_raw.append(len(truth & set(rows[:10].tolist())) / 10)
            rec_rr.append(len(truth & set(top.tolist())) / 10)
            if kind == "ivfpq":  # PQ codes are coarse: what re-scoring 10x more candidates exactly buys
                t = time.perf_counter()
                deep = rerank(dense.search(q, DEPTH * 10)[0], q)
                lat_deep.append((time.perf_counter() - t) * 1000)
                rec_deep.append(len(truth & set(deep.tolist())) / 10)
        sweep[str(p)] = {"recall@10": round(float(np.mean(rec_raw)), 4),
                         "recall@10_reranked": round(float(np.mean(rec_rr)), 4), "dense_ms": pct(lat, 50, 95)}
        if rec_deep:
            sweep[str(p)]["recall@10_reranked_top1000"] = round(float(np.mean(rec_deep)), 4)
            sweep[str(p)]["dense_ms_top1000"] = pct(lat_deep, 50, 95)
        if kind != "flat" and np.mean(rec_rr) >= 0.995 and p >= 64:
            break
    ok = [p for p in params if str(p) in sweep and sweep[str(p)]["recall@10_reranked"] >= RECALL_TARGET]
    chosen = ok[0] if ok else params[-1] if str(params[-1]) in sweep else int(list(sweep)[-1])
    _set_param(dense, kind, chosen)
    out["sweep"] = sweep
    out["chosen_param"] = chosen
    out["param_name"] = "efSearch" if kind in HNSW_KINDS else {"ivfpq": "nprobe", "ivfsq": "nprobe"}.get(kind)
    out["dense_recall@10"] = sweep[str(chosen)]["recall@10_reranked"]

    # the channels and the whole hybrid search (encode excluded: the query vector is given)
    timings: dict[str, list[float]] = {"dense": [], "bm25_words": [], "bm25_chars": [], "hybrid": []}
    tokens = []
    for text in texts:
        norm = search_text(display_text(text))
        tokens.append((tokenizer.words(norm), tokenizer.bigrams(norm)))
    searcher = None
    try:
        from kb.search import HybridSearcher

        offsets = np.arange(n + 1, dtype=np.int64)
        searcher = HybridSearcher(dense, dense, vectors, vectors, offsets, words, chars, tokenizer, None)
    except Exception as exc:  # noqa: BLE001 - the searcher's signature does not fit: report the channels only
        out["hybrid_error"] = f"{type(exc).__name__}: {exc}"
    for qi, (q, (w, c)) in enumerate(zip(queries, tokens)):
        t = time.perf_counter()
        rerank(dense.search(q, DEPTH)[0], q)
        timings["dense"].append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        words.search(w, DEPTH)
        timings["bm25_words"].append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        chars.search(c, DEPTH)
        timings["bm25_chars"].append((time.perf_counter() - t) * 1000)
        if searcher is not None:
            t = time.perf_counter()
            try:
                searcher.search(texts[qi], 10, query_vector=q)
            except Exception as exc:  # noqa: BLE001
                out["hybrid_error"] = f"{type(exc).__name__}: {exc}"
                searcher = None
                continue
            timings["hybrid"].append((time.perf_counter() - t) * 1000)
    out["search_ms"] = {k: pct(v, 50, 95) for k, v in timings.items() if v}
    # What a serving process holds after answering (the exhaustive BM25 reference below reads whole posting
    # lists the product never reads, so the RSS after it is reported separately).
    out["rss_after_search_mb"] = rss_mb()
    out["rss_after_search_file_backed_mb"] = _rss_file_mb()
    # BM25: the pruned search against exhaustive scoring of every posting (ties at the k-th by row)
    for name, index, pos in (("words", words, 0), ("chars", chars, 1)):
        rec, same, lat = [], 0, []
        for toks in tokens[:50]:
            t0 = time.perf_counter()
            exact = index.search_exhaustive(toks[pos], DEPTH)
            lat.append((time.perf_counter() - t0) * 1000)
            if exact[0].size == 0:
                continue
            got = index.search(toks[pos], DEPTH)
            same += int(np.array_equal(exact[0], got[0]) and np.array_equal(exact[1], got[1]))
            rec.append(len(set(exact[0][:10].tolist()) & set(got[0][:10].tolist())) / min(10, exact[0].size))
        out[f"bm25_{name}_recall@10_vs_exact"] = round(float(np.mean(rec)), 4) if rec else None
        out[f"bm25_{name}_identical_top{DEPTH}"] = f"{same}/{len(rec)}"
        out[f"bm25_{name}_exhaustive_ms"] = pct(lat, 50, 95)
    out["rss_after_queries_mb"] = rss_mb()  # incl. the exhaustive reference scans
    out["rss_file_backed_mb"] = _rss_file_mb()  # memory-mapped pages touched (BM25 postings, vectors.npy)
    if searcher is not None:
        _with_model(out, searcher, texts)
    out["peak_rss_mb"] = peak_rss_mb()
    out["load"] = load()
    return out


def _with_model(out: dict, searcher, texts: list[str]) -> None:
    """The service's own model loaded beside the indexes, questions encoded for real: what a process
    serving this corpus holds (the web layer adds a few tens of MB), and search latency with the encode."""
    from kb.encoders import Encoder
    from kb.settings import Settings
    from kb.text import display_text, to_simplified

    try:
        encoder = Encoder.from_settings(Settings())
    except Exception as exc:  # noqa: BLE001 - no model here: the figures without it still stand
        out["with_model_error"] = f"{type(exc).__name__}: {exc}"
        return
    lat = []
    for text in texts[:100]:
        t = time.perf_counter()
        searcher.search(text, 10, query_vector=encoder.encode_query(to_simplified(display_text(text))))
        lat.append((time.perf_counter() - t) * 1000)
    out["search_with_encode_ms"] = pct(lat, 50, 95)
    out["rss_with_model_mb"] = rss_mb()
    out["rss_with_model_file_backed_mb"] = _rss_file_mb()


def _rss_file_mb() -> float | None:
    try:
        for line in open("/proc/self/status"):
            if line.startswith("RssFile:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return None


def run(settings, kb, out_dir: Path, sizes: list[int], questions: list[str], kinds_for: dict) -> dict:
    from bench.synth import Material

    tmp = out_dir / "tmp" / "scale"
    tmp.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    queries = np.stack([kb.encoder.encode_query_uncached(q) for q in questions]).astype(np.float32)
    qfile = tmp / "questions.json"
    qfile.write_text(json.dumps(questions, ensure_ascii=False), "utf-8")
    material = Material(kb)
    log(f"scale: material ready ({len(material.sentences)} seed sentences, {len(queries)} real query vectors, "
        f"{time.perf_counter() - t:.1f} s)")
    results = {"method": __doc__.strip().splitlines()[0], "sizes": {}, "synthetic": {
        "text": "recombined seed sentences + jieba-dictionary filler words; tokens are the KB tokenizer's",
        "vectors": "synthetic: random convex mix of the passage's seed-sentence e5 vectors + a residual drawn "
                   "from the real passages' residual Gaussian (not model-encoded; see bench/synth.py)",
        "queries": f"{len(queries)} distinct agent questions, real e5 vectors"}}
    for n in sizes:
        folder = tmp / f"n{n}"
        kinds = kinds_for.get(n, DEFAULT_KINDS if n < 1_000_000 else LARGE_KINDS)
        log(f"scale: building {n} passages ({', '.join(kinds)})")
        info = build(material, n, folder, kinds, queries, settings.half_vectors_from)
        info["search"] = {}
        for kind in kinds:
            proc = subprocess.run([sys.executable, "-m", "bench.scale", str(folder), kind, str(qfile)],
                                  capture_output=True, text=True, timeout=7200, env=child_env(
                                      KB_MODEL=settings.model_name_or_path,
                                      KB_ENCODER_ENGINE=settings.encoder_engine))
            if proc.returncode != 0:
                info["search"][kind] = {"error": proc.stderr[-1500:]}
                log(f"scale {n} {kind}: FAILED {proc.stderr[-300:]}")
                continue
            r = json.loads(proc.stdout.strip().splitlines()[-1])
            info["search"][kind] = r
            log(f"scale {n} {kind}: hybrid p50 {r['search_ms'].get('hybrid', {}).get('p50')} ms, "
                f"RSS {r.get('rss_after_search_mb')} MB serving ({r['rss_after_queries_mb']} MB after the exhaustive "
                f"reference), recall@10 {r['dense_recall@10']}")
        results["sizes"][str(n)] = info
        shutil.rmtree(folder, ignore_errors=True)
    return results


if __name__ == "__main__":
    print(json.dumps(child(Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3]))))
