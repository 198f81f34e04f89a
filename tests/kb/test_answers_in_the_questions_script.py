"""Passages are shown in the script of the question: a Simplified question gets Simplified text from a
Traditional document and a Traditional one Traditional text from a Simplified document - text, titles,
headings, highlights, suggestions and the markdown - with the original kept in the answer. A question with
no script-specific characters follows the conversation; KB_DISPLAY_SCRIPT forces one script or none."""
from __future__ import annotations

import json

import pytest
from opencc import OpenCC

from tests.support.paths import DEV_SET
from kb.text import to_simplified

S2TW = OpenCC("s2tw")  # the test's own reference for "Traditional text"

SIMPLIFIED_Q = "客户说快递晚到了，文件已经没用了，非要赔钱，怎么回？"  # its case is in the Traditional seed 000
TRADITIONAL_Q = "客戶投訴時，服務失誤導致的損失怎麼處理？法則裡怎麼說"
RULES_Q = "法則說人人都是客戶經理，這是什麼意思？"  # 001, a Simplified seed, asked in Traditional


def _cards(answer):
    return [*answer.principles, *answer.cases]


def _is_simplified(text: str) -> bool:
    return to_simplified(text) == text


def _is_traditional(text: str) -> bool:
    return S2TW.convert(text) == text


def test_a_simplified_question_reads_simplified_text_with_the_original_kept(seed_kb):
    answer = seed_kb.ask(SIMPLIFIED_Q, top_k=10, session_id=None)
    assert answer.script == "simplified"
    case = next(c for c in answer.cases if "难以解决的投诉" in c.title)
    assert case.original_title == "難以解決的投訴" and "快遞公司" in case.original_text
    assert "快递公司" in case.text and _is_simplified(case.text)
    assert case.highlights and case.original_highlights
    assert all(h in case.text for h in case.highlights)
    assert all(h in case.original_text for h in case.original_highlights)
    assert "难以解决的投诉" in answer.answer and "難以解決" not in answer.answer
    for p in answer.passages:
        assert _is_simplified(p.text + p.title + p.section_path + p.doc_title), p.title
    assert all(_is_simplified(s) for s in answer.suggestions)


def test_a_traditional_question_reads_traditional_text_even_from_a_simplified_document(seed_kb):
    answer = seed_kb.ask(RULES_Q, top_k=10, session_id=None)
    assert answer.script == "traditional"
    rule = next(p for p in answer.passages if "人人都是客戶經理" in p.text)
    assert rule.original_text and "人人都是客户经理" in rule.original_text
    assert rule.title == "法則1 人人都是客戶經理" and rule.original_title == "法则1 人人都是客户经理"
    for p in answer.passages:
        assert _is_traditional(p.text + p.title + p.section_path + p.doc_title), p.title
    assert all(_is_traditional(s) for s in answer.suggestions)
    assert len(set(answer.suggestions)) == len(answer.suggestions)
    assert _is_traditional(answer.answer)


def test_a_question_without_script_specific_characters_follows_the_conversation(seed_kb):
    first = seed_kb.ask(TRADITIONAL_Q, top_k=5, session_id=None)
    assert first.script == "traditional"
    follow = seed_kb.ask("IBM 的例子", top_k=5, session_id=first.session_id)
    assert follow.script == "traditional"
    alone = seed_kb.ask("IBM 的例子", top_k=5, session_id=None)
    assert alone.script == "simplified"


@pytest.mark.parametrize("setting, script", [("original", "original"), ("traditional", "traditional"),
                                             ("simplified", "simplified")])
def test_the_setting_forces_a_script_or_none(seed_kb, monkeypatch, setting, script):
    monkeypatch.setattr(seed_kb.composer.settings, "display_script", setting)
    answer = seed_kb.ask(SIMPLIFIED_Q, top_k=10, session_id=None)
    assert answer.script == script
    case = next(c for c in answer.cases if "快" in c.text)
    if setting == "original":
        assert case.title == "難以解決的投訴" and case.original_text is None and case.original_highlights is None
    elif setting == "traditional":
        # the title was Traditional already; the scrape's Simplified leftovers in the text are converted too
        assert case.title == "難以解決的投訴" and case.original_title is None
        assert "由於某種" in case.text and "由于某種" in case.original_text
    else:
        assert case.title == "难以解决的投诉" and case.original_title == "難以解決的投訴"


def test_highlights_are_pieces_of_the_text_they_mark_in_either_script(seed_kb, monkeypatch):
    questions = [json.loads(line)["question"] for line in DEV_SET.read_text("utf-8").splitlines() if line.strip()]
    for setting in ("simplified", "traditional"):
        monkeypatch.setattr(seed_kb.composer.settings, "display_script", setting)
        converted = 0
        for q in questions:
            for card in _cards(seed_kb.ask(q, top_k=10, session_id=None)):
                assert all(h in card.text for h in card.highlights), (setting, card.title)
                if card.original_text is not None:
                    converted += 1
                    assert len(card.original_highlights) == len(card.highlights)
                    assert all(h in card.original_text for h in card.original_highlights), card.title
        assert converted >= 5, setting


def test_the_traditional_converter_is_opencc_s2tw_itself():
    """The table-driven conversion gives OpenCC's own s2tw output, and keeps every text's length (so a
    sentence converted alone is the same piece of the converted passage)."""
    from kb.text import to_traditional

    lines = [json.loads(line)["question"] for line in DEV_SET.read_text("utf-8").splitlines() if line.strip()]
    lines += ["这里的头发很干，为什么我们后来出发了。", "系统里面发现了着火点", "台湾的干部着手了解"]
    for text in lines:
        assert to_traditional(text) == S2TW.convert(text), text
        assert len(to_traditional(text)) == len(text)
