"""Widget sites for the identity tests: registered through the admin API, and tokens minted the way a site's
backend would (PyJWT, HS256), valid or wrong in one named way."""
from __future__ import annotations

import json
import time

import jwt

from tests.support.accounts import ADMIN
from tests.support.browser import HostPage


def register_site(client, site_id: str, origins: list[str], signed: bool = True) -> str | None:
    """The site's signing secret (None when unsigned)."""
    r = client.post("/v1/admin/sites", headers=ADMIN, json={"id": site_id, "name": f"站点 {site_id}",
                                                            "origins": origins, "signed": signed})
    assert r.status_code == 201, r.text
    return r.json().get("secret")


def mint(secret: str, site_id: str, agent: str = "agent-007", team: str | None = "售后一组", lifetime: int = 600,
         issued: float | None = None, **claims) -> str:
    """A widget token as a site's backend makes one: aud = the site, sub = the agent, team, iat, exp."""
    now = int(time.time() if issued is None else issued)
    payload = {"aud": site_id, "sub": agent, "iat": now, "exp": now + lifetime, **claims}
    if team is not None:
        payload["team"] = team
    return jwt.encode(payload, secret, algorithm="HS256")


class SiteWithBackend(HostPage):
    """Another site on 127.0.0.1:`port` whose page embeds the widget with data-token-url="/kb-token", and whose
    backend answers /kb-token with `token()` (what a real site's backend mints for its signed-in agent);
    `fetched` counts the widget's token requests."""

    def __init__(self, port: int, widget_src: str, token):
        self.fetched = 0

        def kb_token() -> tuple[bytes, str]:
            self.fetched += 1
            return json.dumps({"token": token()}).encode(), "application/json"

        super().__init__(port, widget_src, attrs='data-token-url="/kb-token"', routes={"/kb-token": kb_token})
