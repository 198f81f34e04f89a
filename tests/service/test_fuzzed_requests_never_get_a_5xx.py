"""Property-based API fuzzing (schemathesis + hypothesis) from the service's own OpenAPI schema, against a
real uvicorn server on the real seed KB: valid and invalid requests for every operation, the admin ones with
a valid token. The only property: never a server error (5xx), and every error is JSON with a `detail`.

Bounded: FUZZ_EXAMPLES per operation and mode (env KB_FUZZ_EXAMPLES); the slow variant (`make soak`) runs
KB_SOAK_FUZZ_EXAMPLES (200) per operation and mode.
The re-index operation gets a few examples only: each one may start a real (cheap, incremental) build.
"""
from __future__ import annotations

import os
import time

import hypothesis
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode

from tests.support.service import ADMIN_TOKEN, LiveServer, service_settings_for

FUZZ_EXAMPLES = int(os.environ.get("KB_FUZZ_EXAMPLES", "25"))
# Operations that start work: a handful of examples, and the fuzzer waits for a job to finish.
FEW = {("POST", "/v1/admin/reindex"): 3}
RUN: dict[str, int] = {"requests": 0, "5xx": 0, "no-invalid": 0}


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory, seed_settings, seed_build, model_dir, encoder):
    from bot.app import create_app

    settings = service_settings_for(tmp_path_factory.mktemp("fuzz"), seed_settings, model_dir,
                                    max_upload_bytes=64 * 1024)
    with LiveServer(create_app(settings, encoder=encoder)) as server:
        yield server


@pytest.fixture(scope="module")
def schema(fuzz_server):
    raw = requests.get(f"{fuzz_server.url}/openapi.json", timeout=30).json()
    return schemathesis.openapi.from_dict(raw)


def _operations(schema) -> list:
    return [r.ok() for r in schema.get_all_operations()]


def _wait_idle(base: str, session) -> None:
    """A fuzzed re-index may be running: let it finish so the next examples are not all 409."""
    deadline = time.time() + 120
    while time.time() < deadline:
        status = session.get(f"{base}/v1/admin/status", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
                             timeout=30).json()
        if not status.get("job"):
            return
        time.sleep(0.2)


def _fuzz(operation, mode: GenerationMode, base: str, session, examples: int) -> None:
    admin = operation.path.startswith("/v1/admin")
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"} if admin else {}

    @settings(max_examples=examples, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(generation_mode=mode))
    def check(case):
        if admin:
            case.headers = {**(case.headers or {}), **headers}
        response = case.call(base_url=base, session=session, timeout=60)
        RUN["requests"] += 1
        where = f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:300]}"
        if response.status_code >= 500:
            RUN["5xx"] += 1
        assert response.status_code < 500, where
        if response.status_code >= 400:
            ctype = {k.lower(): v for k, v in response.headers.items()}.get("content-type", [""])
            ctype = ctype[0] if isinstance(ctype, list) else ctype
            assert ctype.startswith("application/json"), where
            assert "detail" in response.json(), where
        if (case.method, case.path) in FEW:
            _wait_idle(base, session)

    try:
        check()
    except hypothesis.errors.Unsatisfiable:
        # nothing invalid can be sent where every input is an unconstrained string, or there is no input
        # at all (GET /healthz, GET /v1/passages/{passage_id})
        assert mode is GenerationMode.NEGATIVE
        RUN["no-invalid"] += 1


MODES = [GenerationMode.POSITIVE, GenerationMode.NEGATIVE]


@pytest.mark.parametrize("mode", MODES, ids=["valid", "invalid"])
def test_fuzz_every_operation_never_5xx(fuzz_server, schema, mode):
    run_fuzz(fuzz_server, schema, mode, FUZZ_EXAMPLES)


@pytest.mark.slow
@pytest.mark.parametrize("mode", MODES, ids=["valid", "invalid"])
def test_soak_fuzz_every_operation_never_5xx(fuzz_server, schema, mode):
    run_fuzz(fuzz_server, schema, mode, int(os.environ.get("KB_SOAK_FUZZ_EXAMPLES", "200")))


def run_fuzz(fuzz_server, schema, mode, examples: int) -> None:
    ops = _operations(schema)
    names = {(op.method.upper(), op.path) for op in ops}
    assert ("POST", "/v1/ask") in names and ("POST", "/v1/admin/documents") in names
    assert len(ops) >= 15
    before = RUN["requests"]
    with requests.Session() as session:
        for op in ops:
            _fuzz(op, mode, fuzz_server.url, session, FEW.get((op.method.upper(), op.path), examples))
        _wait_idle(fuzz_server.url, session)
        # Still healthy and answering after the storm.
        assert session.get(f"{fuzz_server.url}/readyz", timeout=30).status_code == 200
        r = session.post(f"{fuzz_server.url}/v1/ask", json={"question": "客户投诉快递晚到怎么办"}, timeout=60)
        assert r.status_code == 200
    print(f"\nfuzz {mode.value}: {RUN['requests'] - before} requests over {len(ops)} operations "
          f"({RUN['no-invalid']} without invalid inputs so far), {RUN['5xx']} server errors")
    assert RUN["5xx"] == 0
