"""A list item with a body of its own (法则N, (1), …) is one passage: tiny items are not merged with their
siblings, so an answer quotes the 法则 asked about, not two to seven of them."""
from __future__ import annotations

import re
from pathlib import Path

from ingest.clean import clean
from ingest.document import Block, SourceDocument
from ingest.loaders import load
from ingest.split import split
from tests.support.paths import SEEDS


def _split(lines: list[str]):
    blocks, pos = [], 0
    for line in lines:
        blocks.append(Block(text=line, start=pos))
        pos += len(line) + 1
    return split(clean(SourceDocument(path=Path("rules.txt"), doc_id="rules.txt", format="txt", title="rules",
                                      blocks=blocks)))


def test_each_rule_of_seed_001_is_a_passage_of_its_own():
    passages = split(clean(load(next(SEEDS.glob("001_*.txt")))))
    with_rules = [p for p in passages if re.search(r"法则\s*\d+", p.text)]
    assert len(with_rules) == 39
    assert all(len(re.findall(r"^法则\s*\d+", p.text, flags=re.M)) == 1 for p in with_rules)
    assert all(re.match(r"法则\d+ ", p.title) for p in with_rules)


def test_short_rules_are_not_merged_but_a_tiny_intro_takes_its_first_item():
    ps = _split(["执行篇", "法则1 用心倾听", "倾听是一门艺术。", "法则2 预见需求", "预见顾客的需求。",
                 "法则3 履行保证", "说到做到。"])
    assert [p.title for p in ps] == ["法则1 用心倾听", "法则2 预见需求", "法则3 履行保证"]
    assert ps[0].text.startswith("执行篇\n法则1")
