"""The label and calibration stores (kb/state/base.py LabelStore, CalibrationStore), the same assertions for
every backend in tests/support/state_backends.py."""
from __future__ import annotations

import threading
import time

import pytest

from kb.labels.model import editor_label, parse_label
from kb.state import open_content


@pytest.fixture()
def content(state_backend, tmp_path):
    opened = open_content(state_backend.settings(tmp_path))
    yield opened
    opened.close()


def _label(n: int, **extra):
    return parse_label({"id": f"t{n:03d}", "question": f"问题{n}怎么办", "kind": "principle", "gold": [f"证据{n}"],
                        **extra})


def test_labels_are_stored_in_order_replaced_in_place_and_deleted(content):
    store = content.labels
    assert store.labels() == [] and store.get("t001") is None and store.revision() == 0
    first = store.put([_label(1), _label(2), parse_label({"id": "o1", "question": "天气如何", "kind": "oos"})])
    assert first.added == ["t001", "t002", "o1"] and first.replaced == first.unchanged == []
    rev = store.revision()
    assert rev > 0
    again = store.put([_label(2)])
    assert again.unchanged == ["t002"] and store.revision() == rev  # nothing written, nothing to notice
    changed = store.put([_label(1, note="换了备注"), _label(3)])
    assert changed.replaced == ["t001"] and changed.added == ["t003"] and store.revision() > rev
    assert [label.id for label in store.labels()] == ["t001", "t002", "o1", "t003"]  # a replaced one keeps its place
    assert store.get("t001").item["note"] == "换了备注" and store.get("o1").kind == "oos"
    assert store.delete(["t002", "nope"]) == ["t002"]
    assert [label.id for label in store.labels()] == ["t001", "o1", "t003"]


def test_a_label_comes_back_as_it_was_given(content):
    item = {"id": "t009", "question": "客户要赔偿怎么回", "kind": "case", "doc": "a.txt", "gold": ["赔偿"],
            "note": "某段", "also_docs": [], "style": ["plain"], "of": None}
    content.labels.put([parse_label(item)])
    stored = content.labels.get("t009")
    assert stored.item == item and list(stored.item) == list(item)  # fields and their order
    fix = editor_label("客户要赔偿怎么回？", "case", ["赔偿的原则"], "p-123", by="editor-1")
    content.labels.put([fix])
    back = content.labels.get(fix.id)
    assert (back.source, back.created_by, back.passage_id, back.gold) == ("editor", "editor-1", "p-123", ("赔偿的原则",))
    assert abs(back.created_at - time.time()) < 60


def test_a_failed_put_stores_nothing(content):
    class Broken:
        id = "broken"

    with pytest.raises(Exception):
        content.labels.put([_label(1), Broken()])  # the second cannot be written
    assert content.labels.labels() == [] and content.labels.revision() == 0


def test_another_process_sees_a_change_within_a_second(state_backend, tmp_path):
    settings = state_backend.settings(tmp_path)
    writer, watcher = open_content(settings), open_content(settings)
    try:
        start = watcher.labels.revision()
        seen: list[tuple[int, float]] = []

        def watch():
            t = time.monotonic()
            seen.append((watcher.labels.wait_for_change(start, 5.0), time.monotonic() - t))

        thread = threading.Thread(target=watch)
        thread.start()
        time.sleep(0.3)
        writer.labels.put([_label(1)])
        thread.join()
        rev, waited = seen[0]
        assert rev == writer.labels.revision() and rev != start
        assert waited < 0.3 + 1.0
        t = time.monotonic()
        assert watcher.labels.wait_for_change(rev, 0.5) == rev and time.monotonic() - t >= 0.45  # no change: waits
        assert [label.id for label in watcher.labels.labels()] == ["t001"]
    finally:
        writer.close()
        watcher.close()


def test_the_calibration_is_stored_whole_and_cleared(content):
    store = content.calibration
    assert store.get() is None and store.clear() is False
    model = {"bias": -3.0, "weights": {"sentence": 1.5, "label_margin": 2.0}, "fitted_on": "345 labelled questions"}
    store.put(model)
    assert store.get() == model
    store.put({**model, "bias": -2.0})
    assert store.get()["bias"] == -2.0
    assert store.clear() is True and store.get() is None
