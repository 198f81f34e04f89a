"""The tune job on the admin page, in a real headless Chromium: an editor starts it (微调模型), follows its stage
in the job panel, and sees the gate's held-out figures and why the model was not published; a viewer has no
such button. The tuning itself is stood in for (tests/ingest/test_tune.py runs the real one)."""
from __future__ import annotations

import threading

import pytest

from tests.support.admin_page import make_account, sign_in

pytestmark = pytest.mark.browser

GATE = {"folds": 3, "questions": 117, "out_of_scope": 26, "passed": False, "seconds": 1.0, "calibration": {},
        "reasons": ["提高不可靠 / the gain is not reliable: P(gain <= 0) = 0.067 > 0.05"],
        "figures": {name: {"R@1": r1, "R@5": 0.8, "MRR@10": mrr, "answered": 0.93, "oos_reject": 0.92, "n": 117,
                           "n_oos": 26}
                    for name, r1, mrr in (("zero-shot", 0.521, 0.627), ("labels", 0.547, 0.649),
                                          ("tuned", 0.590, 0.681), ("both", 0.581, 0.677))},
        "gain": {"mrr_gain": 0.028, "ci95": [-0.008, 0.066], "p_no_gain": 0.067, "n": 117, "against": "labels"}}


def test_an_editor_follows_a_tune_and_sees_why_it_was_refused(live_server, page_factory, artifacts, monkeypatch):
    import ingest.tune.run
    from ingest.tune.run import TuneRefused

    release = threading.Event()

    def tune(settings, content, seed, folds, progress, encoder):
        progress("gate fold 2/3", 5, 24)
        release.wait(60)
        raise TuneRefused("微调模型在留出的问题上没有胜过当前模型，未发布 / not published", {"tune": {"gate": GATE}})

    monkeypatch.setattr(ingest.tune.run, "tune", tune)
    make_account(live_server.url, "tune-editor", "editor")
    page = page_factory(1280, 1000)
    sign_in(page, live_server.url, "tune-editor")
    page.on("dialog", lambda dialog: dialog.accept())
    page.click("#tune")
    page.locator("#job-stage", has_text="留出评估：第 2/3 折（训练）").wait_for()
    assert page.locator("#job-count").inner_text() == "5 / 24" and page.locator("#tune").is_disabled()
    release.set()
    page.locator("#job-state.failed").wait_for()
    result = page.locator("#job-result").inner_text()
    assert "未发布" in result and "0.649" in result and "0.677" in result and "+0.028" in result
    assert page.locator("#job-result table tr").count() == 5  # a header and the four regimes
    assert not page.locator("#tune").is_disabled()
    page.screenshot(path=str(artifacts / "admin-tune-refused.png"), full_page=True)

    make_account(live_server.url, "tune-viewer", "viewer")
    viewer = page_factory()
    sign_in(viewer, live_server.url, "tune-viewer")
    assert not viewer.locator("#tune").is_visible()
