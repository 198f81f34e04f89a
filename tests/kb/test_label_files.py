"""Labels in and out of the store (kb/labels/files.py, `kb labels`): the seeds' file imported and exported
back unchanged, a second import changes nothing, a bad file imports nothing and says where and why."""
from __future__ import annotations

import json

import pytest

from bot.cli import main
from kb.labels.files import export_text, import_file
from kb.labels.model import LabelError, parse_label
from kb.settings import Settings
from kb.state import open_content
from tests.support.paths import REPO

SEED_LABELS = REPO / "seeds" / "labels" / "train.jsonl"


@pytest.fixture()
def content(tmp_path):
    opened = open_content(Settings(data_dir=tmp_path / "data", docs_dirs=[]))
    yield opened
    opened.close()


def test_the_seeds_labels_come_back_byte_for_byte_and_a_second_import_changes_nothing(content):
    first = import_file(content, SEED_LABELS)
    assert len(first.added) == 143 and not first.replaced and not first.unchanged
    revision = content.labels.revision()
    assert export_text(content.labels.labels()) == SEED_LABELS.read_text("utf-8")
    again = import_file(content, SEED_LABELS)
    assert len(again.unchanged) == 143 and not again.added and not again.replaced
    assert content.labels.revision() == revision


def test_a_file_with_a_bad_line_imports_nothing_and_names_the_line(content, tmp_path):
    good = json.dumps({"id": "a1", "question": "客户要退款怎么办", "kind": "principle", "gold": ["退款"]},
                      ensure_ascii=False)
    bad = json.dumps({"id": "a2", "question": "客户要退款怎么办？", "kind": "principle", "gold": []},
                     ensure_ascii=False)
    path = tmp_path / "mine.jsonl"
    path.write_text(good + "\n" + bad + "\n", "utf-8")
    with pytest.raises(LabelError) as err:
        import_file(content, path)
    assert "mine.jsonl:2" in str(err.value) and "gold" in str(err.value) and "证据" in str(err.value)
    assert content.labels.labels() == []
    path.write_text(good + "\n" + good + "\n", "utf-8")
    with pytest.raises(LabelError, match="repeats line 1"):
        import_file(content, path)
    assert content.labels.labels() == []


@pytest.mark.parametrize("obj,says", [
    ({"question": "怎么办", "kind": "maybe", "gold": ["x"]}, "kind"),
    ({"question": "  ", "kind": "oos"}, "question"),
    ({"question": "天气", "kind": "oos", "gold": ["晴天"]}, "out-of-scope"),
    ({"id": "../x", "question": "怎么办", "kind": "case", "gold": ["x"]}, "id"),
    (["not", "an", "object"], "JSON object"),
])
def test_a_bad_label_is_refused_in_both_languages(obj, says):
    with pytest.raises(LabelError) as err:
        parse_label(obj, "f.jsonl:3")
    message = str(err.value)
    assert message.startswith("f.jsonl:3: ") and says in message and " / " in message


def test_a_label_without_an_id_gets_the_same_id_each_time():
    obj = {"question": "客户要退款怎么办", "kind": "principle", "gold": ["退款"]}
    assert parse_label(obj).id == parse_label(dict(obj)).id != parse_label({**obj, "gold": ["退货"]}).id


def test_the_cli_imports_exports_lists_and_deletes(tmp_path, capsys):
    data = ["--data-dir", str(tmp_path / "data")]
    assert main([*data, "labels", "import", str(SEED_LABELS)]) == 0
    assert "added 143" in capsys.readouterr().out
    out = tmp_path / "back.jsonl"
    assert main([*data, "labels", "export", str(out)]) == 0
    assert out.read_text("utf-8") == SEED_LABELS.read_text("utf-8")
    assert main([*data, "labels", "delete", "t001", "nope"]) == 1  # one was not there
    assert "not found: nope" in capsys.readouterr().out
    assert main([*data, "labels", "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert len(listed) == 142 and all(x["resolved"] is None for x in listed)  # no version to resolve against yet
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "x", "kind": "case", "gold": ["y"]}\nnot json\n', "utf-8")
    assert main([*data, "labels", "import", str(bad)]) == 2
    assert "bad.jsonl:2" in capsys.readouterr().err
    assert main([*data, "labels", "list", "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 142
