"""The admin token cannot be guessed: a short one is refused at start, and a client that keeps sending
wrong tokens is locked out for a while (429), longer each time (the lockout's arithmetic, shared by every
process and replica, is tests/bot/test_sign_in_guard.py's)."""
from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.support.service import ADMIN_TOKEN, service_settings_for


def test_the_app_refuses_a_short_admin_token_and_accepts_a_long_one_or_none(tmp_path, model_dir):
    from bot.admin_auth import ADMIN_TOKEN_MIN_CHARS, AdminTokenTooShort
    from bot.app import create_app
    from tests.support.paths import make_settings

    with pytest.raises(AdminTokenTooShort, match="at least"):
        create_app(make_settings(tmp_path, model_dir, admin_token="x" * (ADMIN_TOKEN_MIN_CHARS - 1)))
    for token in ("x" * ADMIN_TOKEN_MIN_CHARS, ADMIN_TOKEN, None, ""):
        create_app(make_settings(tmp_path, model_dir, admin_token=token))


def test_wrong_tokens_lock_the_client_out(tmp_path, seed_settings, seed_build, model_dir, encoder):
    from bot.app import create_app

    settings = service_settings_for(tmp_path, seed_settings, model_dir, admin_lockout_failures=3,
                                    admin_lockout_seconds=120)
    right = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    with TestClient(create_app(settings, encoder=encoder)) as c:
        assert c.get("/v1/admin/status", headers=right).status_code == 200
        for _ in range(2):
            assert c.get("/v1/admin/status", headers={"Authorization": "Bearer guess"}).status_code == 403
        assert c.get("/v1/admin/status", headers=right).status_code == 200  # the right token resets the count
        for _ in range(3):
            assert c.get("/v1/admin/jobs", headers={"Authorization": "Bearer guess"}).status_code == 403
        for headers in (right, {"Authorization": "Bearer guess"}):
            r = c.get("/v1/admin/status", headers=headers)
            assert r.status_code == 429
            assert 100 <= int(r.headers["retry-after"]) <= 120
            assert "管理令牌错误次数过多" in r.json()["detail"] and "too many wrong admin tokens" in r.json()["detail"]
        assert c.get("/v1/admin/status").status_code == 401  # no token at all is no guess
        assert c.post("/v1/ask", json={"question": "客户投诉怎么办"}).status_code == 200  # agents are not affected
