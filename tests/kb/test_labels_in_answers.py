"""Labels in the answers of the real seed KB: a labelled question answers with its label's passage (or says
there is none), a new label takes effect within a second without a rebuild, a wrong label moves no
unrelated question to its passage, KB_USE_LABELS=false answers as a KB without labels, and a label whose
passage a re-index removes is reported, not dropped."""
from __future__ import annotations

import json
import time

import pytest

from kb.evaluate import read_items
from kb.labels.files import check_labels, import_file
from kb.labels.model import editor_label, parse_label
from tests.support.paths import DEV_SET, REPO, make_settings
from tests.support.service import NEW_DOC_NAME, NEW_DOC_TEXT, copy_seed_data

SEED_LABELS = REPO / "seeds" / "labels" / "train.jsonl"
COMPLAINTS = """投诉处理规范

一、情绪激动客户的安抚原则
客户情绪激动时，坐席应先倾听再道歉，不要急于解释公司的规定。等客户把话说完，复述客户的诉求，确认理解无误后再提出解决办法。

二、升级处理
坐席无法当场解决的投诉，应在系统中登记并转交主管，同时告诉客户预计的回复时间，按时回电。
"""


@pytest.fixture(scope="module")
def labelled(tmp_path_factory, seed_settings, seed_build, model_dir, encoder):
    """The seed KB with the seeds' labels imported and a version built with them."""
    from ingest.pipeline import build_version
    from kb.knowledge_base import KnowledgeBase
    from kb.state import open_content

    data = copy_seed_data(seed_settings, tmp_path_factory.mktemp("labelled") / "data")
    settings = make_settings(data, model_dir)
    content = open_content(settings)
    import_file(content, SEED_LABELS)
    report = build_version(settings, encoder=encoder, content=content)
    kb = KnowledgeBase.open(settings, encoder=encoder, content=content)
    yield settings, content, kb, report
    kb.close()
    content.close()


def _labels() -> list[dict]:
    return [json.loads(line) for line in SEED_LABELS.read_text("utf-8").splitlines()]


def test_a_build_with_labels_measures_hubs_against_them_and_fits_the_no_answer_model(labelled):
    settings, content, kb, report = labelled
    assert report.changed and report.labels["labels"] == 143 and report.labels["unresolved"] == []
    assert report.labels["calibration"]["oos_reject"] >= 0.8  # held-out, on the labels' own CV
    stored = content.calibration.get()
    assert "label_margin" in stored["weights"] and "held-out rows" in stored["fitted_on"]
    assert kb.question_hubs and kb.label_stats() == {"in_use": True, "keys": 143, "out_of_scope": 26,
                                                      "unresolved": 0, "question_hubs": True}


def test_a_labelled_question_is_answered_by_its_label(labelled):
    _, _, kb, _ = labelled
    items = _labels()
    in_scope = next(it for it in items if it["kind"] == "principle")
    ans = kb.ask(in_scope["question"]).model_dump()
    rows = kb.labels.keys.rows[[label.id for label in kb.labels.keys.labels].index(in_scope["id"])]
    assert ans["matched"] and ans["passages"][0]["id"] in {kb.labels.matcher.ids[r] for r in rows}
    oos = next(it for it in items if it["kind"] == "oos")
    assert kb.ask(oos["question"]).matched is False


def test_a_new_label_takes_effect_within_a_second_without_a_rebuild(labelled):
    _, content, kb, _ = labelled
    question = "客户在电话里一直骂人，还说要找媒体曝光我们，怎么稳住他？"
    before = kb.ask(question).model_dump()
    target = before["passages"][7]  # a passage the search ranks 8th
    version = kb.version_id
    content.labels.put([editor_label(question, "principle", [target["text"][:30]], target["id"], "test")])
    deadline = time.monotonic() + 1.5
    while kb.ask(question).passages[0].id != target["id"]:
        assert time.monotonic() < deadline, "the fix did not take effect within 1.5 s"
        time.sleep(0.05)
    again = kb.ask(question + "？")  # the same question under the match rule
    assert again.passages[0].id == target["id"] and again.matched and kb.version_id == version


def test_a_wrong_label_moves_no_unrelated_question_to_its_passage(labelled):
    _, content, kb, _ = labelled
    dev = [it for it in read_items(DEV_SET) if it["kind"] != "oos"]
    before = {it["question"]: kb.ask(it["question"]).passages[0].id for it in dev}
    # A seed label re-pointed at a passage that answers none of the dev questions' tops: a mistaken fix
    label = next(it for it in _labels() if it["kind"] == "case")
    wrong = next(p for p in kb.all_passages() if p.kind == "other" and p.id not in before.values())
    content.labels.put([parse_label({**label, "gold": [wrong.text[:20]], "passage_id": wrong.id})])
    deadline = time.monotonic() + 1.5
    while kb.ask(label["question"]).passages[0].id != wrong.id:  # the label is in effect for its own question
        assert time.monotonic() < deadline
        time.sleep(0.05)
    after = {q: kb.ask(q).passages[0].id for q in before}
    assert [q for q in before if after[q] == wrong.id] == []
    assert sum(after[q] != before[q] for q in before) <= 1  # research2: 0-2 % of unrelated questions move at all


def test_without_labels_in_use_the_answers_are_those_of_a_kb_without_labels(labelled, seed_kb, encoder):
    from kb.knowledge_base import KnowledgeBase

    settings, content, _, _ = labelled
    off = KnowledgeBase.open(settings.model_copy(update={"use_labels": False}), encoder=encoder, content=content)
    try:
        assert off.labels is None and not off.question_hubs
        for it in read_items(DEV_SET) + _labels()[:20]:
            a, b = off.ask(it["question"]), seed_kb.ask(it["question"])
            assert ([p.id for p in a.passages], a.matched, a.confidence) == ([p.id for p in b.passages], b.matched,
                                                                              b.confidence), it["question"]
            assert "label_margin" not in a.signals
    finally:
        off.close()


def test_a_label_whose_passage_a_reindex_removes_is_reported_not_dropped(tmp_path, model_dir, encoder):
    from ingest.pipeline import build_version
    from kb.state import open_content

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / NEW_DOC_NAME).write_text(NEW_DOC_TEXT, "utf-8")
    (docs / "投诉处理规范.txt").write_text(COMPLAINTS, "utf-8")
    settings = make_settings(tmp_path / "data", model_dir, docs_dirs=[docs])
    content = open_content(settings)
    try:
        content.labels.put([
            parse_label({"id": "r1", "question": "能寄活的猫吗", "kind": "principle", "gold": ["活体宠物寄递的处理原则"]}),
            parse_label({"id": "c1", "question": "客户很激动怎么办", "kind": "principle", "gold": ["先倾听再道歉"]}),
        ])
        first = build_version(settings, encoder=encoder, content=content)
        assert (first.labels["labels"], first.labels["unresolved"]) == (2, [])
        assert "needs at least" in first.labels["calibration"]["skipped"]  # too few labels for a no-answer fit
        (docs / "投诉处理规范.txt").unlink()
        second = build_version(settings, encoder=encoder, content=content)
        assert second.changed and second.labels["unresolved"] == [{"id": "c1", "question": "客户很激动怎么办"}]
        assert [label.id for label in check_labels(content).unresolved] == ["c1"]
        assert [label.id for label in content.labels.labels()] == ["r1", "c1"]  # kept
    finally:
        content.close()


def test_plain_eval_warns_when_its_questions_are_labelled(labelled):
    from bot.cli_labels import labelled_warning

    _, _, kb, _ = labelled
    warning = labelled_warning(kb, [it["question"] for it in _labels()], "train.jsonl")
    assert warning and "143 of 143" in warning and "--cv" in warning and "KB_USE_LABELS=false" in warning
    assert labelled_warning(kb, [it["question"] for it in read_items(DEV_SET)], "dev.jsonl") is None
