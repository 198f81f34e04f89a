"""A '?' that opens double-decoding garbage is garbage itself (an undecodable byte), not a question mark:
"送到了?赡芸蛻糁皇巧衔9點鐘" must not read "送到了?9點鐘". Question marks that end a question stay."""
from __future__ import annotations

import re

from ingest.clean import clean, find_mojibake
from ingest.loaders import load
from ingest.split import split
from tests.support.paths import SEEDS

HAN = r"[\u4e00-\u9fff]"
# the test's own reading of "this clause asks something": an interrogative or a question particle
ASKING = re.compile(r"什[么麼]|怎|為何|为何|哪|誰|谁|如何|幾|几|多少|是否|與否|与否|嗎|吗|呢|[么麼]|吧")


def _removed(text: str, traditional: bool = True) -> str:
    return "".join(text[a:b] for a, b in find_mojibake(text, traditional))


def test_a_question_mark_in_front_of_garbage_goes_with_it_unless_a_question_was_asked():
    for line in ("而是在第三天的中午送到了?赡芸蛻糁皇巧衔9點鐘需要這個文件",
                 "菜做得不好吃,價格又很高?蛻粼趺纯赡苓去第二次呢",
                 "服務的感知進行比較后而產生的?蛻粼谧畛蹩创的預期"):
        assert _removed(line).startswith("?"), line
    asked = "你的第一選擇會是什么?蛻粼趺纯赡苓去第二次呢"
    assert _removed(asked) and "?" not in _removed(asked)


def test_no_stray_question_mark_between_han_characters_in_seed_000():
    cleaned = clean(load(next(SEEDS.glob("000_*.txt"))))
    text = "\n".join(p.text for p in split(cleaned))
    # a '?' right before Han text or a digit, after a clause (back to the last punctuation) that asks nothing
    stray = [m.group() for m in re.finditer(rf"{HAN}+\?(?={HAN}|\d)", text) if not ASKING.search(m.group())]
    assert stray == []
    assert "送到了9點鐘" in text and "價格又很高去第二次呢" in text
    # real questions keep their marks
    for asked in ("來,先生,給您加一點兒水好嗎?", "你的第一選擇會是什么?", "“財務室在幾樓?”"):
        assert asked in text
    assert cleaned.report.mojibake_question_marks >= 6
