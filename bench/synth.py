"""A synthetic corpus of any size with the statistics of the real one.

Passages are recombined seed sentences (a run of 1-3 consecutive sentences of one seed passage and 2-5
sentences from anywhere in the seeds) plus ~10% filler words drawn from jieba's dictionary by frequency, which gives
the vocabulary the long Zipf tail a real large corpus has.

- Keyword side (real tokens): every distinct seed sentence is tokenised once with the KB's own Tokenizer
  (jieba words and character bigrams); a passage's tokens are the concatenation of its sentences' tokens
  plus its filler words (a filler word's bigrams are its own). Text is never materialised at 1M.
- Dense side (synthetic vectors with real structure): a passage's vector is a random convex mix of its
  sentences' real e5 vectors (from the current KB version) plus a residual: how a real passage's own
  vector differs from the mean of its sentences' vectors, drawn from those residuals' Gaussian (their mean
  and covariance, measured on the KB). So near-duplicates, topics and hubs look like the real corpus, at any
  size, without running the model a million times.
  Why the residual and not isotropic noise: isotropic noise spreads every vector over all 384 dimensions.
  Measured on the seeds (MLE local intrinsic dimension, k=20, 941 vectors): real sentence vectors 25,
  residual-shaped mixes 35, isotropic-noise mixes 87-107; mean pairwise cosine real passages 0.900,
  residual 0.897, isotropic (norm 0.5) 0.765. An ANN index on isotropic noise is measured on a much harder,
  unreal problem (the "isotropic" model is kept as a stress test).
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from kb.units import sentence_units


class Material:
    """Seed sentences with their tokens (as ids) and real vectors, plus filler words."""

    def __init__(self, kb, filler_words: int = 60_000, seed: int = 0):
        rng = np.random.default_rng(seed)
        store = kb.store
        n = kb.manifest["counts"]["passages"]
        passages = store.rows(list(range(n)))
        offsets = np.asarray(kb.searcher.unit_offsets)
        unit_vectors = np.asarray(kb.searcher.unit_vectors, dtype=np.float32)
        self.sentences: list[str] = []
        vecs = []
        self.groups: list[tuple[int, int]] = []  # a seed passage's sentence range
        for i, p in enumerate(passages):
            units = sentence_units(p.text)
            a, b = int(offsets[i]), int(offsets[i + 1])
            start = len(self.sentences)
            if len(units) == b - a and b > a:
                self.sentences.extend(units)
                vecs.append(unit_vectors[a:b])
            else:  # the unit split changed since the version was built: use the passage vector
                self.sentences.append(p.text)
                vecs.append(np.asarray(kb.vectors[i:i + 1], dtype=np.float32))
            self.groups.append((start, len(self.sentences)))
        self.vectors = np.concatenate(vecs).astype(np.float32)
        self.residuals = _residuals(np.asarray(kb.vectors, dtype=np.float32), unit_vectors, offsets)
        tok = kb.tokenizer
        from kb.text import search_text

        self.word_vocab: dict[str, int] = {}
        self.char_vocab: dict[str, int] = {}
        self.sent_words = [self._ids(tok.words(search_text(s)), self.word_vocab) for s in self.sentences]
        self.sent_chars = [self._ids(tok.bigrams(search_text(s)), self.char_vocab) for s in self.sentences]
        self.sent_len = np.asarray([len(s) for s in self.sentences])
        words, freq = _jieba_words(filler_words)
        p = freq ** 0.75
        self.filler_p = p / p.sum()
        self.filler_words = [self._ids([w], self.word_vocab)[0] for w in words]
        self.filler_chars = [self._ids(tok.bigrams(w), self.char_vocab) for w in words]
        self.rng = rng

    @staticmethod
    def _ids(tokens: list[str], vocab: dict[str, int]) -> np.ndarray:
        return np.asarray([vocab.setdefault(t, len(vocab)) for t in tokens], dtype=np.int32)

    def vocab_lists(self) -> tuple[dict[str, int], dict[str, int]]:
        return self.word_vocab, self.char_vocab


def _residuals(passage_vectors: np.ndarray, unit_vectors: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Each real passage vector minus the normalised mean of its sentences' vectors (passages of one sentence
    left out: their residual is ~0 and would understate the spread)."""
    out = []
    for i in range(len(passage_vectors)):
        a, b = int(offsets[i]), int(offsets[i + 1])
        if b - a >= 2:
            mean = unit_vectors[a:b].mean(axis=0)
            out.append(passage_vectors[i] - mean / np.linalg.norm(mean))
    return np.asarray(out, dtype=np.float32).reshape(-1, passage_vectors.shape[1])


def _jieba_words(limit: int) -> tuple[list[str], np.ndarray]:
    import jieba

    path = Path(os.path.dirname(jieba.__file__)) / "dict.txt"
    rows = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 2 and 2 <= len(parts[0]) <= 4 and all("\u4e00" <= ch <= "\u9fff" for ch in parts[0]):
                rows.append((int(parts[1]), parts[0]))
    rows.sort(reverse=True)
    rows = rows[:limit]
    return [w for _, w in rows], np.asarray([f for f, _ in rows], dtype=np.float64)


def _ranks(lengths: np.ndarray) -> np.ndarray:
    """0..len-1 for each length, concatenated."""
    total = int(lengths.sum())
    starts = np.repeat(np.cumsum(lengths) - lengths, lengths)
    return np.arange(total, dtype=np.int64) - starts


class Corpus:
    """n synthetic passages: token-id streams for both BM25 indexes, sentence lists, vectors on demand."""

    def __init__(self, material: Material, n: int, seed: int = 1):
        m = material
        rng = np.random.default_rng(seed)
        self.n = n
        groups = m.groups
        g_idx = rng.integers(0, len(groups), n)
        run_len = rng.integers(1, 4, n)
        extra = rng.integers(2, 6, n)
        sent_lists: list[np.ndarray] = []
        n_sent = len(m.sentences)
        for i in range(n):
            a, b = groups[g_idx[i]]
            size = b - a
            take = min(int(run_len[i]), size)
            start = a + int(rng.integers(0, size - take + 1))
            s = np.concatenate([np.arange(start, start + take), rng.integers(0, n_sent, int(extra[i]))])
            sent_lists.append(s.astype(np.int32))
        self.sentences = sent_lists
        # filler words: ~10% of a passage's words
        word_counts = np.asarray([sum(len(m.sent_words[j]) for j in s) for s in sent_lists])
        n_fill = np.maximum(1, (word_counts * 0.1).astype(np.int64))
        fill_total = int(n_fill.sum())
        fill = rng.choice(len(m.filler_words), size=fill_total, p=m.filler_p)
        fill_ptr = np.concatenate([[0], np.cumsum(n_fill)])
        self.fill, self.fill_ptr = fill, fill_ptr
        self.material = m

    def token_ids(self, which: str) -> tuple[np.ndarray, np.ndarray]:
        """(indptr, ids) of every passage's tokens for "words" or "chars" (vectorised range gathers)."""
        m = self.material
        sent = m.sent_words if which == "words" else m.sent_chars
        filler = ([np.asarray([w], dtype=np.int32) for w in m.filler_words] if which == "words"
                  else m.filler_chars)
        pieces = list(sent) + list(filler)
        pool_len = np.asarray([len(x) for x in pieces], dtype=np.int64)
        pool_ptr = np.concatenate([[0], np.cumsum(pool_len)])
        pool = np.concatenate(pieces).astype(np.int32)
        # every passage's segments: its sentences, then its filler words (offset past the sentences)
        s_len = np.asarray([len(x) for x in self.sentences], dtype=np.int64)
        f_len = np.diff(self.fill_ptr)
        sent_flat = np.concatenate(self.sentences).astype(np.int64)
        fill_flat = self.fill.astype(np.int64) + len(sent)
        seg_ptr = np.concatenate([[0], np.cumsum(s_len + f_len)])
        segs = np.empty(int(seg_ptr[-1]), dtype=np.int64)
        s_pos = np.repeat(seg_ptr[:-1], s_len) + _ranks(s_len)
        f_pos = np.repeat(seg_ptr[:-1] + s_len, f_len) + _ranks(f_len)
        segs[s_pos] = sent_flat
        segs[f_pos] = fill_flat
        seg_len = pool_len[segs]
        ids = pool[np.repeat(pool_ptr[segs], seg_len) + _ranks(seg_len)]
        per_passage = np.add.reduceat(seg_len, seg_ptr[:-1]) if len(seg_len) else np.zeros(self.n, np.int64)
        per_passage[np.diff(seg_ptr) == 0] = 0
        indptr = np.concatenate([[0], np.cumsum(per_passage)])
        return indptr, ids

    def vectors(self, out: np.ndarray, noise: str = "residual", scale: float = 0.5, seed: int = 2,
                chunk: int = 50_000) -> None:
        """Fill out (n × dim, may be a memmap): a random convex mix (Dirichlet weights) of the passage's
        sentence vectors, normalised, plus noise, normalised again. noise "residual": drawn from the real
        passage residuals' Gaussian (module docstring); "isotropic": Gaussian of norm ~ `scale`."""
        from scipy import sparse

        m = self.material
        rng = np.random.default_rng(seed)
        dim = m.vectors.shape[1]
        if noise == "residual":
            if len(m.residuals) < 2:
                raise ValueError("residual noise needs at least 2 passages of 2+ sentences in the KB")
            r_mean = m.residuals.mean(axis=0)
            # z @ r_centred has exactly the residuals' covariance for z ~ N(0, 1)
            r_centred = (m.residuals - r_mean) / np.sqrt(len(m.residuals) - 1)
        elif noise != "isotropic":
            raise ValueError(f"unknown noise model: {noise}")
        for a in range(0, self.n, chunk):
            b = min(self.n, a + chunk)
            lists = self.sentences[a:b]
            indptr = np.concatenate([[0], np.cumsum([len(s) for s in lists])])
            cols = np.concatenate(lists)
            vals = rng.gamma(1.0, size=len(cols)).astype(np.float32)  # Dirichlet(1) weights per passage
            mix = sparse.csr_matrix((vals, cols, indptr), shape=(b - a, len(m.sentences)))
            v = np.asarray(mix @ m.vectors, dtype=np.float32)
            v /= np.linalg.norm(v, axis=1, keepdims=True)
            if noise == "residual":
                v += r_mean + rng.standard_normal((b - a, len(r_centred)), dtype=np.float32) @ r_centred
            else:
                v += rng.standard_normal(v.shape, dtype=np.float32) * (scale / np.sqrt(dim))
            v /= np.linalg.norm(v, axis=1, keepdims=True)
            out[a:b] = v

    def text(self, i: int) -> str:
        """The passage as text (for inspection and small runs)."""
        m = self.material
        body = "".join(m.sentences[j] for j in self.sentences[i])
        return body
