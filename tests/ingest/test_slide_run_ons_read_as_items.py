"""A deck's slide glues its numbered items, dash bullets and questions into one line ("…思考方向1、更多-別家
沒有,我有2、更快-…"); an agent reads them as separate lines. What is indexed still reads the slide as the
source printed it, and a slide's title is a whole heading, not a cut-off start ("將每件事情付諸")."""
from __future__ import annotations

import pytest

from ingest.clean import clean
from ingest.loaders import load
from ingest.split import split
from tests.support.paths import SEEDS


@pytest.fixture(scope="module")
def deck():
    return split(clean(load(next(SEEDS.glob("002_*.txt")))))


def _lines_of(passages, start: str) -> list[str]:
    return next(p for p in passages if p.text.startswith(start)).text.splitlines()


def test_numbered_items_dash_bullets_and_questions_are_lines_of_their_own(deck):
    lines = _lines_of(deck, "差異化服務策略思考方向")
    assert lines[:5] == ["差異化服務策略思考方向", "1、更多", "-別家沒有,我有", "2、更快", "-別家三小時,我一小時"]
    lines = _lines_of(deck, "服務補救服務原則")
    for item in ("-多花一些精力將事情做好", "-不要讓顧客有不好回憶", "1、結婚十周年夫婦先插隊", "2、虎克船長不見了?",
                 "1、貴公司知道經常發生的服務失誤是哪些?", "2、在顧客還沒抱怨前,公司有辦法知道嗎?"):
        assert item in lines, item
    lines = _lines_of(deck, "三、服務如何帶來價值\n確定最佳客戶群")
    assert "他們向誰購買此類產品?" in lines and "他們對產品滿意嗎?" in lines
    # a compound, a range, a Latin word and a parenthesis stay whole
    text = "\n".join(p.text for p in deck)
    for whole in ("需求-效益問題", "Order-Taking", "3-5天個別訓練", "如何刷浴缸?吸地毯?則非重點)"):
        assert whole in text, whole


def test_what_is_indexed_reads_the_slide_as_printed(deck):
    p = next(d for d in deck if d.text.startswith("差異化服務策略思考方向"))
    assert "\n1、更多\n-別家沒有,我有\n" in p.text  # what the agent reads

    from ingest.passage_text import indexed_text
    from kb.passage import Passage

    passage = Passage(id="x", doc_id="002", doc_title="", section=p.section, kind=p.kind, title=p.title, text=p.text,
                      search_text="", start=p.start, end=p.end, extra={"item_breaks": p.item_breaks})
    assert "思考方向1、更多-別家沒有,我有2、更快-別家三小時" in indexed_text(passage)


def test_slide_titles_are_whole_headings(deck):
    titles = {p.title for p in deck}
    assert {"將每件事情付諸于行動", "將心比心的規劃服務", "差異化服務策略思考方向"} <= titles
    assert "將每件事情付諸" not in titles
