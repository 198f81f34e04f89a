"""Near-duplicate passages collapse into one result listing every source (kb/answer/collapse.py): exactly
the rule spelled out with Python sets, also from many threads on a cold cache; the pairs found once when a
small KB opens give what comparing per question gives; and closing a KB at once stops that warm-up
before its store closes."""
from __future__ import annotations

import dataclasses
import threading

from kb.search import Candidate
from tests.support.questions import QUESTIONS


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


def test_closing_a_kb_at_once_stops_its_warm_up_before_the_store_closes(seed_settings, seed_build, encoder):
    """A KB closed while its warm-up still reads SQLite (a re-index candidate, a CLI command): closing the
    connection under the running query would crash the process, so the warm-up stops first."""
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

