"""Text is folded one way for display, search and matching (kb/text.py), and cut into sentences by one rule
for ingest units and answer highlights (kb/sentences.py)."""
from __future__ import annotations

from kb.text import display_text, match_key, search_text


def test_text_folding():
    assert display_text("服務(wù)創造價值（P35）") == "服務創造價值(P35)"
    assert search_text("服務(wù)ＡＢＣ") == "服务abc"
    assert match_key("「請稍等，馬上」") == "请稍等马上"


def test_one_sentence_rule_for_ingest_units_and_highlights():
    from kb.sentences import sentence_spans, sentences

    text = " 他说：“来，给您倒点水！”然后走了。第二行没有句号\n第三行；还有  一列\n\n"
    assert sentences(text) == ["他说：“来，给您倒点水！”", "然后走了。", "第二行没有句号", "第三行；", "还有", "一列"]
    assert [text[a:b] for a, b in sentence_spans(text)] == sentences(text)
    assert sentences("  \n ") == [] and sentences("没有结尾") == ["没有结尾"]
