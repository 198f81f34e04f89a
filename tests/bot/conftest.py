"""The service in-process: one app per test module on its own copy of the seed KB, through Starlette's
TestClient (lifespan on), with the admin token's header; every module using `client` runs once per state
backend (embedded, then postgresql: the same tests, a database of the module's own)."""
from __future__ import annotations

import pytest

from tests.support.service import ADMIN_TOKEN, service_settings_for
from tests.support.state_backends import BACKENDS


@pytest.fixture(scope="module", params=[backend.name for backend in BACKENDS])
def api_settings(request, tmp_path_factory, seed_settings, seed_build, model_dir):
    return service_settings_for(tmp_path_factory.mktemp("api"), seed_settings, model_dir, backend=request.param)


@pytest.fixture(scope="module")
def client(api_settings, encoder):
    from fastapi.testclient import TestClient

    from bot.app import create_app

    with TestClient(create_app(api_settings, encoder=encoder)) as c:
        yield c


@pytest.fixture(scope="module")
def admin_headers():
    return {"Authorization": f"Bearer {ADMIN_TOKEN}"}


# The bad-input modules' service: a private copy of the seed KB with a small upload limit and one framing site.
@pytest.fixture(scope="module")
def rsettings(tmp_path_factory, seed_settings, seed_build, model_dir):
    return service_settings_for(tmp_path_factory.mktemp("robust"), seed_settings, model_dir,
                                max_upload_bytes=256 * 1024, frame_ancestors="'self' https://shop.example")


@pytest.fixture(scope="module")
def rc(rsettings, encoder):
    from fastapi.testclient import TestClient

    from bot.app import create_app

    with TestClient(create_app(rsettings, encoder=encoder)) as c:
        yield c
