"""The tune job in the service: `POST /v1/admin/tune` needs an editor, runs in the job system beside re-index
(one job at a time) with its stages as progress and the gate's figures when refused; and the question encoder
follows the served version - a version embedded with a tuned model brings that model to every worker, and a
later one embedded with the base model brings the base model back, without a restart."""
from __future__ import annotations

import threading
import time

import pytest

from tests.support.accounts import ADMIN, make_token
from tests.support.service import ADMIN_TOKEN, wait_job
from tests.support.tuning import copy_kb


@pytest.fixture()
def service(tmp_path, small_settings, small_build, tuned_model, encoder):
    from fastapi.testclient import TestClient

    from bot.app import create_app

    settings = copy_kb(small_settings, tmp_path, tuned=tuned_model, admin_token=ADMIN_TOKEN,
                       rate_limit_per_minute=0, admin_lockout_failures=0)
    with TestClient(create_app(settings, encoder=encoder)) as client:
        yield client, settings


def _served(client):
    return client.app.state.service.holder.kb


def _until(check, timeout: float = 60) -> None:
    deadline = time.time() + timeout
    while not check():
        assert time.time() < deadline, "not within the time"
        time.sleep(0.2)


def test_the_tune_route_needs_an_editor_and_reports_its_stages(service, monkeypatch):
    import ingest.tune.run
    from ingest.tune.run import TuneRefused

    client, _ = service
    viewer = make_token(client, "viewer", "viewer")
    assert client.post("/v1/admin/tune", headers=viewer, json={}).status_code == 403
    assert client.post("/v1/admin/tune", headers=ADMIN, json={"folds": 1}).status_code == 422

    release, seen = threading.Event(), {}
    gate = {"folds": 3, "questions": 20, "out_of_scope": 5, "passed": False, "reasons": ["no MRR@10 gain"],
            "figures": {"labels": {"MRR@10": 0.7}, "both": {"MRR@10": 0.69}},
            "gain": {"mrr_gain": -0.01, "ci95": [-0.05, 0.03], "p_no_gain": 0.6, "n": 20}}

    def tune(settings, content, seed, folds, progress, encoder):
        seen.update(seed=seed, folds=folds)
        progress("gate fold 2/3", 4, 10)
        release.wait(30)
        raise TuneRefused("微调模型没有胜过当前模型，未发布 / not published", {"tune": {"gate": gate}})

    monkeypatch.setattr(ingest.tune.run, "tune", tune)
    editor = make_token(client, "editor", "editor")
    started = client.post("/v1/admin/tune", headers=editor, json={"seed": 7})
    assert started.status_code == 202 and started.json()["kind"] == "tune"
    job_id = started.json()["id"]
    _until(lambda: client.get(f"/v1/admin/jobs/{job_id}", headers=editor).json()["stage"] == "gate fold 2/3")
    running = client.get(f"/v1/admin/jobs/{job_id}", headers=editor).json()
    assert (running["state"], running["done"], running["total"]) == ("running", 4, 10)
    busy = client.post("/v1/admin/reindex", headers=editor)
    assert busy.status_code == 409 and busy.json()["job_id"] == job_id  # one job at a time, of either kind
    release.set()
    job = wait_job(client, job_id, editor)
    assert job["state"] == "failed" and "not published" in job["error"]
    assert job["details"]["tune"]["gate"]["gain"]["p_no_gain"] == 0.6
    assert seen == {"seed": 7, "folds": 3}


def test_the_served_encoder_follows_the_published_version(service, tuned_model, encoder):
    from ingest.pipeline import build_version

    client, settings = service
    assert _served(client).encoder is encoder
    # Another process (`kb tune`) publishes a version embedded with the tuned model: this worker swaps it in.
    tuned = build_version(settings, encoder=encoder, tuned_model=tuned_model.name)
    _until(lambda: _served(client).version_id == tuned.version_id)
    tuned_encoder = _served(client).encoder
    assert tuned_encoder.fingerprint.startswith("tuned:") and client.app.state.service.holder.encoder is tuned_encoder
    asked = client.post("/v1/ask", json={"question": "客户投诉时先做什么"})
    assert asked.status_code == 200 and asked.json()["passages"]
    status = client.get("/v1/admin/status", headers=ADMIN).json()
    assert status["manifest"]["tuned_model"] == tuned_model.name
    # And back: a version embedded with the base model (`kb ingest --base-model`) brings the base model back.
    base = build_version(settings, encoder=encoder, base_model=True)
    _until(lambda: _served(client).version_id == base.version_id)
    assert not _served(client).encoder.fingerprint.startswith("tuned:")
    assert client.post("/v1/ask", json={"question": "客户投诉时先做什么"}).status_code == 200
    # closed with its last version (a new text each time: a cached one would not reach the closed batcher); the
    # model the service was given stays open
    _until(lambda: tuned_encoder.encode_query_async(f"x{time.monotonic()}").exception() is not None)
    assert encoder.encode_query_async(f"y{time.monotonic()}").exception() is None
