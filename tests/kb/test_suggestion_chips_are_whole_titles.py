"""Suggestion chips are whole headings of the knowledge base, each once: never a fragment that starts with
punctuation ("、客户服务的标准" of "(四)、客户服务的标准") or a title the splitter cut short
("顧客價值=為顧客創造的服務效" of "顧客價值=為顧客創造的服務效…")."""
from __future__ import annotations

import json
import re
import unicodedata

from tests.support.paths import DEV_SET
from kb.text import to_simplified

NUMBERING = re.compile(r"^(第\S+?[章节篇条]\s*|[一二三四五六七八九十]+[、.．)）]|[(（]\S+?[)）][、.．]?|\d+(\.\d+)*[、.．]?\s*"
                       r"|法则\s*\d+\s*)")


def _headings(kb) -> list[str]:
    """Every heading of the KB, in Simplified (a chip is shown in the question's script)."""
    passages = kb.passages(list(range(len(kb.store.kinds))))
    return [to_simplified(h) for p in passages for h in (*p.section, *p.title.split("；"))]


def _is_whole_heading(chip: str, headings: list[str]) -> bool:
    """The chip is a heading of the KB as printed, at most without its numbering; not one cut short."""
    chip = to_simplified(chip)
    return any(not h.endswith("…") and (h == chip or (h.endswith(chip) and NUMBERING.fullmatch(h[: -len(chip)])))
               for h in headings)


def test_every_chip_is_a_whole_heading_once(seed_kb):
    headings = _headings(seed_kb)
    questions = [json.loads(line)["question"] for line in DEV_SET.read_text("utf-8").splitlines() if line.strip()]
    questions += ["客户服务的标准有哪些", "服务价值等式怎么算", "客户服务有哪些分类"]
    chips = []
    for q in questions:
        answer = seed_kb.ask(q, top_k=10, session_id=None)
        assert len({to_simplified(s) for s in answer.suggestions}) == len(answer.suggestions), answer.suggestions
        chips += answer.suggestions
    assert len(set(chips)) >= 20
    for chip in chips:
        assert not unicodedata.category(chip[0]).startswith("P"), chip
        assert _is_whole_heading(chip, headings), chip
