"""Text is folded one way for display, search and matching (kb/text.py) - the shortcut for text OpenCC would
leave alone gives OpenCC's own output - and cut into sentences by one rule for ingest units and answer
highlights (kb/sentences.py)."""
from __future__ import annotations

import json

from kb.text import display_text, match_key, search_text
from tests.support.paths import DEV_SET, SEEDS


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


def test_simplified_text_skips_opencc_with_the_same_result():
    """The shortcut for text OpenCC would leave alone gives OpenCC's own output on every seed line, the
    dev questions and random mixes of their characters (with the phrases made of neutral characters)."""
    import random

    from opencc import OpenCC

    import kb.text as T

    assert T._UNCHANGED_BY_T2S is not None, "OpenCC's tables were not readable: every text converts"
    reference = OpenCC("t2s")
    from ingest.loaders.text import decode

    lines = [line for path in sorted(SEEDS.glob("*.txt")) for line in decode(path.read_bytes())[0].splitlines()
             if line.strip()]
    lines += [json.loads(line)["question"] for line in DEV_SET.read_text("utf-8").splitlines() if line.strip()]
    rng = random.Random(7)
    alphabet = "".join(sorted(set("".join(lines)))) + "沈默有序沈船乾燥後髮"
    lines += ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 40))) for _ in range(5000)]
    lines += ["".join(lines[:300]), "".join(line for line in lines if T._UNCHANGED_BY_T2S(line))]  # > 2000 chars
    skipped = 0
    for text in lines:
        assert T.to_simplified(text) == reference.convert(text), text
        skipped += T._UNCHANGED_BY_T2S(text)
    assert skipped > 100  # Simplified lines exist in the seeds and the dev set: the shortcut is taken
    assert T.to_simplified("客戶服務") == "客户服务" and T.to_simplified("沈默") == "沉默"
