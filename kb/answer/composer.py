"""`AnswerComposer.ask`: a question's answer from hybrid search - near-duplicates collapsed, the
calibrated "does the KB answer this" decision, principles and cases with highlights, suggestions - and
follow-ups resolved through the session."""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from kb.answer import compose
from kb.answer.calibration import LABEL_FEATURE, Calibration, signals, word_idf
from kb.answer.collapse import Collapser
from kb.answer.highlight import CACHE_MAX, Highlighter
from kb.answer.model import Answer, Card, PassageView, RankedPassage, Source
from kb.answer.script import in_script, shown_script
from kb.labels.keys import Keys, LabelHit
from kb.labels.rules import apply_label_rules
from kb.passage import Passage
from kb.search import HybridSearcher, SearchResult
from kb.sessions import Turn, resolve
from kb.text import display_text, search_text, to_simplified

log = logging.getLogger(__name__)

# Fused results an answer is composed from: the listed top_k, near-duplicates of them, and the strongest
# others for suggestions. Dev set identical at 20 and 40; 20 saves ~0.5 ms a question (fewer objects,
# a smaller duplicate matrix).
MIN_CANDIDATES = 20
WARM_AT_OPEN = 2000  # passages (~0.6 ms each, on a thread of its own); above, answers work it out per question


@dataclass
class Ranking:
    """A question's results and the decision whether the KB answers it."""

    ranked: compose.Ranked  # near-duplicates collapsed
    idf: dict[str, float]  # the question's words' idf
    features: dict[str, float]  # the no-answer model's signals
    confidence: float
    matched: bool
    hit: LabelHit | None  # what the labels said


class AnswerComposer:
    def __init__(self, kb):
        self.kb = kb
        self.settings = kb.settings
        self.calibration = self.stored_calibration()
        self.collapser = Collapser()
        self.highlighter = Highlighter()
        self._fields: dict[str, dict] = {}
        # What does not depend on the question is worked out once, beside the first requests, for a KB of
        # up to WARM_AT_OPEN passages: every pair's near-duplicate verdict and every passage's normalised
        # sentences for highlighting. Until `warmed` is set, answers compute what they need themselves.
        self.warmed = threading.Event()
        self._closing = threading.Event()
        self._warm_thread = threading.Thread(target=self._warm, name="answer-warm-up", daemon=True)
        self._warm_thread.start()

    def stored_calibration(self) -> Calibration:
        return Calibration.choose(self.kb.content.calibration.get(), self.settings.use_labels)

    def refresh_calibration(self) -> None:
        """Take up a model `kb calibrate` stored meanwhile (called by the label watch, about every second)."""
        self.calibration = self.stored_calibration()

    def close(self) -> None:
        """Stop the warm-up and wait for it: it reads the store, and closing SQLite under a running
        query crashes the process (a KB opened and closed at once, e.g. a re-index's candidate)."""
        self._closing.set()
        self._warm_thread.join()

    def _warm(self) -> None:
        try:
            n = len(self.kb.store.kinds)
            if 0 < n <= WARM_AT_OPEN and not self._closing.is_set():
                passages = self.kb.passages(list(range(n)))
                if self._closing.is_set():
                    return
                self.collapser.know_all(passages)
                for p in passages:
                    if self._closing.is_set():
                        return
                    self.highlighter.sentence_keys(p)
        except Exception:  # noqa: BLE001 - e.g. the version closed meanwhile; answers work without it
            log.warning("answer warm-up skipped", exc_info=True)
        finally:
            self.warmed.set()

    def _own_fields(self, p: Passage) -> dict:
        """The passage's own fields, once per version (an answer lists ~14 passages)."""
        base = self._fields.get(p.id)
        if base is None:
            if len(self._fields) >= CACHE_MAX:
                self._fields.clear()
            base = self._fields[p.id] = {
                "id": p.id, "kind": p.kind, "title": p.title, "text": p.text, "doc": p.doc_id,
                "doc_title": p.doc_title, "section": p.section, "section_path": p.section_path, "page": p.page,
                "start": p.start, "end": p.end,
            }
        return base

    def passage_view(self, p: Passage) -> PassageView:
        own = Source(doc=p.doc_id, doc_title=p.doc_title, section_path=p.section_path, passage_id=p.id)
        return PassageView(**self._own_fields(p), sources=[own])

    def _ranked(self, p: Passage, score: float, sources: list[dict], highlights: list[str] | None = None
                ) -> RankedPassage:
        """The passage as a result (a `Card` when given highlights)."""
        fields = {**self._own_fields(p), "sources": sources, "score": round(float(score), 4)}
        return RankedPassage(**fields) if highlights is None else Card(**fields, highlights=highlights)

    def rank(self, result: SearchResult, qv, question: str, keys: Keys | None, calibration: Calibration,
             searcher: HybridSearcher | None = None) -> Ranking:
        """The search's candidates as the answer ranks them - the labels' rules (kb/labels/rules.py),
        near-duplicates collapsed - and the no-answer decision. keys: None without labels in use. The
        cross-validation (kb/crossval) calls this with each fold's keys, model and searcher."""
        searcher = searcher or self.kb.searcher
        hit = keys.match(qv, question) if keys is not None else None
        candidates = result.candidates
        if keys is not None:
            candidates = apply_label_rules(candidates, hit, keys.rules, lambda rows: searcher.describe(rows, qv))
        passages = self.kb.passages([c.row for c in candidates])
        ranked = self.collapser.collapse(list(zip(candidates, passages)))
        idf = word_idf(searcher.words, list(dict.fromkeys(result.query_words)))
        features = signals(idf, [(c, p) for c, p, _ in ranked])
        if keys is not None:
            features[LABEL_FEATURE] = hit.margin if hit is not None else 0.0
        confidence = calibration.confidence(features)
        matched = confidence >= self.settings.answer_threshold and bool(ranked)
        if hit is not None and hit.fix is not None:  # the editor said whether the KB answers this question
            matched = hit.fix.in_scope and bool(ranked)
        return Ranking(ranked, idf, features, confidence, matched, hit)

    def ask(self, question: str, top_k: int, session_id: str | None) -> Answer:
        timings: dict[str, float] = {}
        session = self.kb.sessions.get(session_id)
        shown = display_text(question)
        # Content words only matter for a possible follow-up: a first question reaches the model without jieba.
        content = len(self.kb.tokenizer.words(search_text(shown))) if session.turns else 0
        resolved = resolve(session, shown, content)
        simplified = to_simplified(shown)

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
        keys = self.kb.labels.keys if self.kb.labels is not None else None
        ranking = self.rank(result, qvec.result(), resolved, keys, self.calibration)
        ranked, idf, features, confidence, matched = (ranking.ranked, ranking.idf, ranking.features,
                                                      ranking.confidence, ranking.matched)
        grams = set(result.query_bigrams)

        principles, cases = compose.pick(ranked, compose.wants_case(simplified))

        def card(c, p, sources) -> Card:
            return self._ranked(p, c.score, sources, self.highlighter.highlights(p, idf, grams))

        principle_cards = [card(*x) for x in principles] if matched else []
        case_cards = [card(*x) for x in cases] if matched else []
        listed = [self._ranked(p, c.score, s) for c, p, s in ranked[:top_k]]
        suggestions = compose.suggest(ranked, principles + cases)
        answer_text = compose.render(principle_cards, case_cards) if matched else compose.render_none(listed)
        script = shown_script(self.settings.display_script, shown, [turn.question for turn in session.turns])
        self.kb.sessions.record(session, Turn(shown, resolved, [d.id for d in listed[:3]]))
        answer = Answer(
            question=question,
            resolved_question=resolved if resolved != shown else None,
            matched=matched,
            confidence=round(confidence, 4),
            signals={k: round(v, 4) for k, v in features.items()},
            answer=answer_text,
            script=script,
            principles=principle_cards,
            cases=case_cards,
            passages=listed,
            suggestions=suggestions,
            session_id=session.id,
            version=self.kb.version_id,
            timings_ms={},
        )
        answer = in_script(answer, script)
        timings["compose"] = (time.perf_counter() - t) * 1000
        answer.timings_ms.update({k: round(v, 2) for k, v in timings.items()})
        return answer
