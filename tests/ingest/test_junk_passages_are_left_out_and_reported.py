"""Passages with nothing an agent could use - "謝謝!", a heading with no body, "题目:…", a figure heading
whose body only repeats the document's headings - are never indexed; the ingest report counts them and
keeps their text. A short slide is content, not a heading: its title is made up from its own text."""
from __future__ import annotations

from pathlib import Path

from ingest.clean import clean
from ingest.document import Block, SourceDocument
from ingest.loaders import load
from ingest.split import split
from kb.text import match_key
from tests.support.paths import SEEDS

JUNK = {"謝謝!", "题目:客户服务质量提升研究", "本章知识结构图\n认识客户服务,"}


def _doc(lines: list[str], headings: dict[int, int]) -> SourceDocument:
    blocks, pos = [], 0
    for i, line in enumerate(lines):
        blocks.append(Block(text=line, start=pos, heading=headings.get(i)))
        pos += len(line) + 1
    return SourceDocument(path=Path("deck.txt"), doc_id="deck.txt", format="txt", title="服务手册", blocks=blocks)


def test_no_seed_passage_is_junk():
    texts = {p.text for path in sorted(SEEDS.glob("*.txt")) for p in split(clean(load(path)))}
    assert texts & JUNK == set()


def test_closings_lone_headings_and_furniture_are_left_out_but_content_is_kept():
    body = "客户投诉时要先道歉，再了解原因，最后给出解决方案并跟进回访，确保客户满意。"
    lines = ["题目:服务手册", "投诉处理", body, "法则1 守信", "说到做到。", "服务创造价值", "谢谢大家!"]
    ps = split(clean(_doc(lines, headings={1: 1, 5: 1, 6: 1})))
    text = match_key("".join(p.text for p in ps))
    assert match_key(body) in text and "说到做到" in text  # a short body is still a body
    assert "题目" not in text and "服务创造价值" not in text and "谢谢" not in text


def test_the_ingest_report_counts_junk_passages_with_their_text(seed_build):
    junk = {j["text"]: j["reason"] for d in seed_build.per_document for j in d["junk_passages"]}
    assert seed_build.junk_passages == len(junk) == 3
    assert junk == {"謝謝!": "closing", "题目:客户服务质量提升研究": "furniture",
                    "本章知识结构图\n认识客户服务,": "heading only"}
    # editors see them among the document's cleaning notes (the admin page lists a document's warnings)
    notes = {d["doc"][:3]: " ".join(d["warnings"]) for d in seed_build.per_document}
    assert "謝謝!" in notes["002"] and "题目:客户服务质量提升研究" in notes["003"]
