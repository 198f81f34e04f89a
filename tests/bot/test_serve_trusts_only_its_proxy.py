"""`kb serve` takes the client's address from X-Forwarded-For only from the proxies KB_FORWARDED_ALLOW_IPS
names (uvicorn's forwarded_allow_ips), and deploy/nginx.conf replaces that header instead of appending."""
from __future__ import annotations

from deploy.nginx import TEMPLATE
from kb.settings import Settings


def test_serve_passes_the_trusted_proxies_to_uvicorn(monkeypatch, tmp_path):
    import uvicorn

    from bot import server

    seen: dict = {}
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: seen.update(kwargs))
    monkeypatch.setenv(server.SETTINGS_ENV, "")  # serve() sets it for its workers: restored after the test
    server.serve(Settings(data_dir=tmp_path, forwarded_allow_ips="10.0.0.5"))
    assert seen["proxy_headers"] is True and seen["forwarded_allow_ips"] == "10.0.0.5"
    assert Settings(data_dir=tmp_path).forwarded_allow_ips == "127.0.0.1"


def test_nginx_sets_the_address_it_sees():
    conf = TEMPLATE.read_text("utf-8")
    assert "proxy_set_header X-Forwarded-For $remote_addr;" in conf
    assert "$proxy_add_x_forwarded_for" not in conf  # appending would keep what the client sent
