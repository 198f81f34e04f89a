"""Answer composition: principles + cases quoted from the passages, sources, highlights, an honest
"no answer" decided from calibrated signals, follow-ups resolved through the session."""
from __future__ import annotations

import json
import logging
import math
import re
import threading
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
from scipy import sparse

from kb.passage import Passage
from kb.search import Candidate
from kb.sentences import sentences
from kb.sessions import Turn, resolve
from kb.text import display_text, match_key, search_text, to_simplified

log = logging.getLogger(__name__)

NO_ANSWER = "知识库里没有相关内容。"
_CASE_INTENT = re.compile(r"案例|例子|举例|举个|故事|实例|有没有(公司|企业|哪家)|别人(怎么|是怎么)|怎么做的|经验")
_NUMBERING = re.compile(r"^\s*(第[一二三四五六七八九十百\d]+[章节篇条]|[一二三四五六七八九十]+[、.．]|[(（][一二三四五六七八九十\d]+[)）]|\d+(\.\d+)*[、.．]?|法则\s*\d+)\s*")
_HAN = re.compile(r"[\u4e00-\u9fff]")
# Fused results an answer is composed from: the listed top_k, near-duplicates of them, and the strongest
# others for suggestions. Dev set identical at 20 and 40; 20 saves ~0.5 ms a question (fewer objects,
# a smaller duplicate matrix).
MIN_CANDIDATES = 20
DUP_JACCARD = 0.8
WARM_AT_OPEN = 2000  # passages (~0.6 ms each, on a thread of its own); above, answers work it out per question


FEATURES = ("sentence", "passage", "coverage", "lexical")


@dataclass
class Calibration:
    """Logistic model over retrieval signals → probability that the KB answers the question.

    Signals: the best hub-corrected sentence and passage cosines among the top results, the idf-weighted
    share of the question's words found in the best passages, and the strongest BM25 evidence.
    Fitted by `kb calibrate` on labelled questions; the decision threshold is a setting.
    """

    bias: float
    weights: dict

    @classmethod
    def load(cls, data_dir: Path | None = None) -> "Calibration":
        """The editors' calibration (data/calibration.json, written by `kb calibrate`) or the shipped one."""
        if data_dir is not None and (data_dir / "calibration.json").exists():
            raw = json.loads((data_dir / "calibration.json").read_text())
        else:
            raw = json.loads(resources.files("kb.resources").joinpath("calibration.json").read_text())
        return cls(float(raw["bias"]), {f: float(raw["weights"].get(f, 0.0)) for f in FEATURES})

    def confidence(self, features: dict) -> float:
        z = self.bias + sum(w * features[f] for f, w in self.weights.items())
        return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))


def _grams(text: str, n: int = 4) -> set[str]:
    key = match_key(text)
    return {key[i:i + n] for i in range(max(1, len(key) - n + 1))}


def _sizes(ids: list[np.ndarray]) -> np.ndarray:
    return np.fromiter((len(g) for g in ids), dtype=np.int64, count=len(ids))


def _incidence(ids: list[np.ndarray], width: int) -> sparse.csr_matrix:
    """One row per passage, a 1 for each of its distinct 4-grams (given as sorted ids)."""
    cols = np.concatenate(ids) if ids else np.zeros(0, dtype=np.int64)
    return sparse.csr_matrix((np.ones(len(cols), dtype=np.float32), cols,
                              np.concatenate(([0], np.cumsum(_sizes(ids))))), shape=(len(ids), width))


def _near_duplicates(a: sparse.csr_matrix, b: sparse.csr_matrix, a_sizes: np.ndarray, b_sizes: np.ndarray
                     ) -> np.ndarray:
    """(len(a) x len(b)) booleans: >= DUP_JACCARD of the union shared, or >= 95 % of the smaller one."""
    shared = (a @ b.T).toarray()
    union = a_sizes[:, None] + b_sizes[None, :] - shared
    smaller = np.minimum(a_sizes[:, None], b_sizes[None, :])
    with np.errstate(divide="ignore", invalid="ignore"):
        return (shared > 0) & ((shared / union >= DUP_JACCARD) | (shared / smaller >= 0.95))


class AnswerComposer:
    def __init__(self, kb):
        self.kb = kb
        self.settings = kb.settings
        self.calibration = Calibration.load(kb.settings.root)
        self._grams: dict[str, np.ndarray] = {}
        self._gram_vocab: dict[str, int] = {}
        self._gram_lock = threading.Lock()
        self._sentences: dict[str, tuple[list[tuple[str, str]], str]] = {}
        self._fields: dict[str, dict] = {}
        # What does not depend on the question is worked out once, beside the first requests, for a KB of
        # up to WARM_AT_OPEN passages: every pair's near-duplicate verdict (`collapse` then only looks it
        # up) and every passage's normalised sentences for highlighting. Until `warmed` is set, answers
        # compute what they need themselves.
        self._neighbours: dict[str, frozenset[str]] = {}
        self.warmed = threading.Event()
        self._closing = threading.Event()
        self._warm_thread = threading.Thread(target=self._warm, name="answer-warm-up", daemon=True)
        self._warm_thread.start()

    def close(self) -> None:
        """Stop the warm-up and wait for it: it reads the store, and closing SQLite under a running
        query crashes the process (a KB opened and closed at once, e.g. a re-index's candidate)."""
        self._closing.set()
        self._warm_thread.join()

    # --- pieces --------------------------------------------------------------------------------
    def passage_dict(self, p: Passage, score: float | None = None, sources: list[dict] | None = None) -> dict:
        base = self._fields.get(p.id)
        if base is None:  # the passage's own fields, once per version (an answer lists ~14 passages)
            if len(self._fields) >= 16384:
                self._fields.clear()
            base = self._fields[p.id] = {
                "id": p.id, "kind": p.kind, "title": p.title, "text": p.text, "doc": p.doc_id,
                "doc_title": p.doc_title, "section": p.section, "section_path": p.section_path, "page": p.page,
                "start": p.start, "end": p.end,
            }
        d = dict(base)
        d["sources"] = sources or [{"doc": p.doc_id, "doc_title": p.doc_title, "section_path": p.section_path,
                                    "passage_id": p.id}]
        if score is not None:
            d["score"] = round(float(score), 4)
        return d

    def features(self, idf: dict[str, float], top: list[tuple[Candidate, Passage]]) -> dict:
        head = top[:5]
        total = sum(idf.values()) or 1.0
        texts = [p.search_text for _, p in top[:3]]
        covered = sum(v for w, v in idf.items() if any(w in t for t in texts))
        return {
            "sentence": max((c.sentence_adjusted for c, _ in head), default=0.0),
            "passage": max((c.dense_adjusted for c, _ in head), default=0.0),
            "coverage": covered / total if idf else 0.0,
            "lexical": math.log1p(max((c.words_score for c, _ in head), default=0.0)),
        }

    def _idf(self, words: list[str]) -> dict[str, float]:
        index = self.kb.searcher.words
        n = index.n_docs
        out = {}
        for w in words:
            col = index.vocab.get(w)
            df = index.df(col) if col is not None else 0
            out[w] = math.log1p((n - df + 0.5) / (df + 0.5))
        return out

    def highlights(self, p: Passage, idf: dict[str, float], grams: set[str], limit: int = 2) -> list[str]:
        """The passage's sentences that share most with the question (idf-weighted words + bigrams)."""
        keys, joined = self._sentence_keys(p)
        # Only what occurs somewhere in the passage can score a sentence: one look through all its sentences
        # at once first (most of the question's words and bigrams are absent), then each sentence. The same
        # sums in the same order: the terms left out would have added nothing.
        words = [(w, v) for w, v in idf.items() if w in joined]
        found = [g for g in grams if g in joined]
        if not words and not found:
            return []
        scored = []
        for i, (s, key) in enumerate(keys):
            score = sum(v for w, v in words if w in key)
            score += 0.3 * sum(1 for g in found if g in key)
            if score > 0 and len(s) >= 6:
                scored.append((score, i, s))
        best = sorted(scored, key=lambda x: (-x[0], x[1]))[:limit]
        return [s for _, _, s in sorted(best, key=lambda x: x[1])]

    def _sentence_keys(self, p: Passage) -> tuple[list[tuple[str, str]], str]:
        """The passage's sentences with their normalised search text, and those texts joined by NULs (a
        word in any of them is in the joined text). Cached: normalising is most of the highlighting cost,
        and a version never changes."""
        hit = self._sentences.get(p.id)
        if hit is None:
            if len(self._sentences) >= 16384:
                self._sentences.clear()
            keys = [(s, search_text(s)) for s in sentences(p.text)]
            hit = self._sentences[p.id] = (keys, "\0".join(key for _, key in keys))
        return hit

    def _gram_ids(self, p: Passage) -> np.ndarray:
        """The passage's distinct 4-grams as sorted ids of one vocabulary shared by the cached passages
        (cached: a version never changes). Shared ids let `collapse` build its incidence matrix without
        sorting every question's grams (np.unique was half of its time)."""
        hit = self._grams.get(p.id)
        if hit is None:
            vocab = self._gram_vocab
            hit = np.unique(np.fromiter((vocab.setdefault(g, len(vocab)) for g in _grams(p.text)), dtype=np.int64))
            self._grams[p.id] = hit
        return hit

    def collapse(self, ranked: list[tuple[Candidate, Passage]]) -> list[tuple[Candidate, Passage, list[dict]]]:
        """Near-duplicates (same text in two documents, repeated slides) become one result with both sources.

        A result joins the first kept one it shares >= 80 % of its 4-grams with (Jaccard) or that contains
        95 % of the smaller one's. For a KB whose pairs were all compared at open (`_warm`) a look-up (20
        results: ~0.08 ms instead of ~0.47); otherwise the overlaps come from one sparse product instead
        of ~800 set intersections."""
        if not ranked:
            return []
        table = self._neighbours
        if all(p.id in table for _, p in ranked):  # the version's own passages (the usual case)
            neighbours = [table[p.id] for _, p in ranked]
            return self._keep_first(ranked, lambda i, j: ranked[j][1].id in neighbours[i],
                                    alone=[not n for n in neighbours])
        with self._gram_lock:  # one vocabulary for all request threads: ids must not race or be reset mid-way
            if len(self._grams) >= 16384 or len(self._gram_vocab) >= 2_000_000:  # bound the memory
                self._grams.clear()
                self._gram_vocab.clear()
            ids = [self._gram_ids(p) for _, p in ranked]
            width = len(self._gram_vocab)
        incidence, sizes = _incidence(ids, width), _sizes(ids)
        dup = _near_duplicates(incidence, incidence, sizes, sizes).tolist()
        return self._keep_first(ranked, lambda i, j: dup[i][j])

    @staticmethod
    def _keep_first(ranked: list[tuple[Candidate, Passage]], dup, alone: list[bool] | None = None
                    ) -> list[tuple[Candidate, Passage, list[dict]]]:
        """Each result joins the first kept one it is a near-duplicate of (dup(i, j), j < i), or is kept.
        alone[i]: result i has no near-duplicate at all (most), so it is kept without asking dup."""
        kept: list[tuple[int, list[dict]]] = []
        for i, (c, p) in enumerate(ranked):
            src = {"doc": p.doc_id, "doc_title": p.doc_title, "section_path": p.section_path, "passage_id": p.id}
            if alone is not None and alone[i]:
                kept.append((i, [src]))
                continue
            for j, sources in kept:
                if dup(i, j):
                    if all(s["passage_id"] != p.id for s in sources):
                        sources.append(src)
                    break
            else:
                kept.append((i, [src]))
        return [(ranked[i][0], ranked[i][1], sources) for i, sources in kept]

    def _warm(self) -> None:
        """All passages' near-duplicates and highlight sentences, if there are at most WARM_AT_OPEN
        (seeds: 184 passages, ~0.11 s); larger KBs compare and normalise per question, caching as they go."""
        try:
            n = len(self.kb.store.kinds)
            if 0 < n <= WARM_AT_OPEN and not self._closing.is_set():
                passages = self.kb.passages(list(range(n)))
                if self._closing.is_set():
                    return
                self._neighbours = self.duplicates_among(passages)
                for p in passages:
                    if self._closing.is_set():
                        return
                    self._sentence_keys(p)
        except Exception:  # noqa: BLE001 - e.g. the version closed meanwhile; answers work without it
            log.warning("answer warm-up skipped", exc_info=True)
        finally:
            self.warmed.set()

    def duplicates_among(self, passages: list[Passage], block: int = 512) -> dict[str, frozenset[str]]:
        """Passage id -> ids of its near-duplicates among `passages` (every id present)."""
        n = len(passages)
        with self._gram_lock:
            ids = [self._gram_ids(p) for p in passages]
            width = len(self._gram_vocab)
        incidence, sizes = _incidence(ids, width), _sizes(ids)
        table: dict[str, set[str]] = {p.id: set() for p in passages}
        for start in range(0, n, block):
            dup = _near_duplicates(incidence[start:start + block], incidence, sizes[start:start + block], sizes)
            for a, b in zip(*np.nonzero(dup)):
                if start + a != b:
                    table[passages[start + a].id].add(passages[b].id)
        return {k: frozenset(v) for k, v in table.items()}

    # --- the answer ----------------------------------------------------------------------------
    def ask(self, question: str, top_k: int, session_id: str | None) -> dict:
        timings: dict[str, float] = {}
        session = self.kb.sessions.get(session_id)
        shown = display_text(question)
        # Content words only matter for a possible follow-up: a first question reaches the model without jieba.
        content = len(self.kb.tokenizer.words(search_text(shown))) if session.turns else 0
        resolved = resolve(session, shown, content)
        simplified = to_simplified(shown)
        wants_case = bool(_CASE_INTENT.search(simplified))

        # The model encodes the question while BM25 runs here: "encode" is submit-to-vector time (it
        # overlaps "bm25"), "encode_wait" the part this request still waited for.
        t = time.perf_counter()
        qvec = self.kb.encoder.encode_query_async(simplified if resolved is shown else to_simplified(resolved))
        ready: list[float] = []
        qvec.add_done_callback(lambda _: ready.append(time.perf_counter()))
        result = self.kb.searcher.search(resolved, max(MIN_CANDIDATES, top_k + 10), query_vector=qvec)
        timings["encode"] = ((ready[0] if ready else time.perf_counter()) - t) * 1000
        timings.update(result.timings_ms)

        t = time.perf_counter()
        rows = [c.row for c in result.candidates]
        passages = self.kb.passages(rows)
        ranked = self.collapse(list(zip(result.candidates, passages)))
        idf = self._idf(list(dict.fromkeys(result.query_words)))  # once per question: features + highlights
        grams = set(result.query_bigrams)
        features = self.features(idf, [(c, p) for c, p, _ in ranked])
        confidence = self.calibration.confidence(features)
        matched = confidence >= self.settings.answer_threshold and bool(ranked)

        principles, cases = self.pick(ranked, wants_case)

        def card(c, p, sources):
            d = self.passage_dict(p, c.score, sources)
            d["highlights"] = self.highlights(p, idf, grams)
            return d

        principle_cards = [card(*x) for x in principles]
        case_cards = [card(*x) for x in cases]
        listed = [self.passage_dict(p, c.score, s) for c, p, s in ranked[:top_k]]
        suggestions = self.suggest(ranked, principles + cases)
        answer_text = self.render(principle_cards, case_cards) if matched else self.render_none(listed)
        timings["compose"] = (time.perf_counter() - t) * 1000
        self.kb.sessions.record(session, Turn(shown, resolved, [d["id"] for d in listed[:3]]))
        return {
            "question": question,
            "resolved_question": resolved if resolved != shown else None,
            "matched": matched,
            "confidence": round(confidence, 4),
            "signals": {k: round(v, 4) for k, v in features.items()},
            "answer": answer_text,
            "principles": principle_cards if matched else [],
            "cases": case_cards if matched else [],
            "passages": listed,
            "suggestions": suggestions,
            "session_id": session.id,
            "version": self.kb.version_id,
            "timings_ms": {k: round(v, 2) for k, v in timings.items()},
        }

    def pick(self, ranked, wants_case: bool):
        """1–3 principles and 1–2 cases among the strongest results; a how-to answer holds both kinds."""
        if not ranked:
            return [], []
        best = ranked[0][0].score
        window = ranked[:12]
        principles = [x for x in window if x[1].kind == "principle" and x[0].score >= 0.55 * best][:3]
        cases = [x for x in window if x[1].kind == "case" and x[0].score >= 0.45 * best][: 2 if wants_case else 1]
        if not principles and not wants_case:
            # No principle-kind passage scored close: the strongest 'other' passage still states the point.
            principles = [x for x in window[:3] if x[1].kind == "other"][:1]
        return principles, cases

    def suggest(self, ranked, shown) -> list[str]:
        """Headings of the other strong results: topics to try next, worded as the documents word them."""
        seen = {p.id for _, p, _ in shown}
        shown_labels = {_NUMBERING.sub("", x).strip() for _, p, _ in shown for x in (p.title, *p.section[-1:])}
        out: list[str] = []
        for _, p, _ in ranked[:15]:
            if p.id in seen:
                continue
            for label in (p.section[-1] if p.section else "", p.title):
                label = _NUMBERING.sub("", label).strip(" ：:,，。-…")
                if 4 <= len(label) <= 30 and _HAN.search(label[:2]) and label not in out \
                        and label not in shown_labels:
                    out.append(label)
                    break
            if len(out) == 4:
                break
        return out

    @staticmethod
    def _quote(card: dict) -> str:
        text = " ".join(card["highlights"]) if card["highlights"] else card["text"]
        return text if len(text) <= 220 else text[:220] + "……"

    def render(self, principles: list[dict], cases: list[dict]) -> str:
        lines, sources = [], []
        for label, cards in (("【原则】", principles), ("【案例】", cases)):
            if not cards:
                continue
            lines.append(label)
            for card in cards:
                sources.append(card)
                head = card["title"] or (card["section"][-1] if card["section"] else "")
                lines.append(f"{len(sources)}. {head + '：' if head else ''}{self._quote(card)} [{len(sources)}]")
        lines.append("")
        lines.append("来源：")
        for i, card in enumerate(sources, 1):
            where = f" · {card['section_path']}" if card["section_path"] else ""
            lines.append(f"[{i}] {card['doc_title']}{where}")
        return "\n".join(lines)

    @staticmethod
    def render_none(listed: list[dict]) -> str:
        if not listed:
            return NO_ANSWER
        near = "；".join(f"{d['title'] or d['section_path'] or d['doc_title']}" for d in listed[:3])
        return f"{NO_ANSWER}最接近的内容：{near}（仅供参考）"
