"""Answers on the real seed KB: hybrid retrieval quality floor, composition, no-answer, follow-ups."""
from __future__ import annotations

from kb.evaluate import evaluate_file, read_items
from tests.support.paths import DEV_SET


def test_dev_set_quality_floor(seed_kb):
    res = evaluate_file(seed_kb, DEV_SET)
    print({k: v for k, v in res.items() if k != "rows"})
    assert res["R@5"] >= 0.90
    assert res["MRR@10"] >= 0.75
    assert res["oos_reject"] >= 0.80
    assert res["answered"] >= 0.90


def test_answer_object_shape_and_quotes(seed_kb):
    ans = seed_kb.ask("客户说快递晚到了，文件已经没用了，非要赔钱，怎么回？").model_dump()
    for key in ("matched", "answer", "principles", "cases", "passages", "confidence", "suggestions",
                "session_id"):
        assert key in ans
    assert len(ans["passages"]) == 10
    assert 1 <= len(ans["principles"]) <= 3 and len(ans["cases"]) <= 2
    for card in ans["principles"] + ans["cases"]:
        # everything shown is quoted: highlights are sentences of the passage itself
        assert all(h in card["text"] for h in card["highlights"])
        assert card["doc_title"] and card["id"]
    for p in ans["passages"]:
        assert {"id", "kind", "text", "doc", "section", "score"} <= set(p)
        assert seed_kb.get_passage(p["id"]).text == (p["original_text"] or p["text"])  # shown in the question's script
    assert ans["matched"]  # a seed question: the answer text quotes principles with their sources
    assert "【原则】" in ans["answer"] and "来源" in ans["answer"]


def test_how_to_question_gets_principles_and_a_case(seed_kb):
    ans = seed_kb.ask("客户投诉的时候情绪很激动，我应该怎么处理？有没有案例").model_dump()
    assert ans["matched"]
    assert ans["principles"] and ans["cases"]


def test_out_of_scope_says_so_but_still_lists_passages(seed_kb):
    ans = seed_kb.ask("北京明天尾号限行是几号").model_dump()
    assert not ans["matched"]
    assert ans["answer"].startswith("知识库里没有相关内容")
    assert ans["passages"] and not ans["principles"] and not ans["cases"]


def test_traditional_and_simplified_find_the_same_passage(seed_kb):
    s = seed_kb.ask("跟客户道歉怎么道才不显得敷衍").model_dump()
    t = seed_kb.ask("跟客戶道歉怎麼道才不顯得敷衍").model_dump()
    assert s["passages"][0]["id"] == t["passages"][0]["id"]


def test_follow_up_uses_the_previous_question(seed_kb):
    first = seed_kb.ask("客户期望值太高怎么办").model_dump()
    follow = seed_kb.ask("有没有案例？", session_id=first["session_id"]).model_dump()
    assert follow["session_id"] == first["session_id"]
    assert follow["resolved_question"] and "期望" in follow["resolved_question"]
    assert follow["matched"] and follow["cases"]
    alone = seed_kb.ask("有没有案例？").model_dump()
    assert alone["session_id"] != first["session_id"]


def test_unknown_session_id_starts_a_new_session(seed_kb):
    ans = seed_kb.ask("怎么道歉", session_id="does-not-exist").model_dump()
    assert ans["session_id"] == "does-not-exist" and ans["resolved_question"] is None


def test_no_passage_text_is_listed_twice_in_an_answer(seed_kb):
    """(The dev questions' answers hold no near-duplicates to collapse; the collapse itself, with its sources,
    is checked on inserted copies in test_near_duplicates_collapse.py.)"""
    for item in read_items(DEV_SET)[:10]:
        ans = seed_kb.ask(item["question"]).model_dump()
        texts = [p["text"] for p in ans["passages"]]
        assert len(set(texts)) == len(texts)


def test_the_api_sends_kbs_answer_model_with_the_fields_pages_read(seed_kb):
    """One model for kb and the API (bot/schemas.py re-exports kb's); its JSON keeps the field names the chat
    page, the widget and the ask log read."""
    from bot import schemas
    from kb.answer import Answer, PassageView

    assert schemas.Answer is Answer and schemas.PassageView is PassageView
    ans = seed_kb.ask("客户投诉的时候情绪很激动，我应该怎么处理？有没有案例").model_dump(mode="json")
    assert set(ans) == {"question", "resolved_question", "matched", "confidence", "signals", "answer", "script",
                        "principles", "cases", "passages", "suggestions", "session_id", "version", "timings_ms"}
    passage = {"id", "kind", "title", "text", "doc", "doc_title", "section", "section_path", "page", "start", "end",
               "sources", "original_title", "original_text"}
    assert all(set(p) == passage | {"score"} for p in ans["passages"])
    assert ans["principles"] and all(set(c) == passage | {"score", "highlights", "original_highlights"}
                                     for c in ans["principles"] + ans["cases"])
    assert set(ans["passages"][0]["sources"][0]) == {"doc", "doc_title", "section_path", "passage_id"}
    assert set(seed_kb.get_passage(ans["passages"][0]["id"]).model_dump()) == passage
