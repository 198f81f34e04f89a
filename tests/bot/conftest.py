"""The service in-process: one app per test module on its own copy of the seed KB, through Starlette's
TestClient (lifespan on), with the admin token's header."""
from __future__ import annotations

import pytest

from tests.support.service import ADMIN_TOKEN, service_settings_for


@pytest.fixture(scope="module")
def api_settings(tmp_path_factory, seed_settings, seed_build, model_dir):
    return service_settings_for(tmp_path_factory.mktemp("api"), seed_settings, model_dir)


@pytest.fixture(scope="module")
def client(api_settings, encoder):
    from fastapi.testclient import TestClient

    from bot.app import create_app

    with TestClient(create_app(api_settings, encoder=encoder)) as c:
        yield c


@pytest.fixture(scope="module")
def admin_headers():
    return {"Authorization": f"Bearer {ADMIN_TOKEN}"}
