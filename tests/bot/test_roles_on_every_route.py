"""Every admin route of the app as it is built (not a list kept here): it declares the role it needs, it is
guarded, and each role gets exactly what the table gives it — signed in with a session, or with an API token;
a session's write without its CSRF token is refused; nothing is let in without credentials."""
from __future__ import annotations

import re

import pytest
from fastapi.routing import APIRoute, iter_route_contexts

from bot.auth.principal import NO_CSRF, authorize
from bot.auth.roles import ROLES, allows, needed_role
from tests.support.accounts import make_account, make_token, sign_in

# Sent with every request: each makes a request that would change something fail its validation (422) or find
# nothing (404) once it is let in, so the table can be checked against every route without side effects.
PROBE_QUERY = "?force=maybe&days=0&limit=x"
PROBE_BODY = {"__probe__": True}


def _admin_routes(app) -> list[tuple[str, str, APIRoute]]:
    """(method, full path, route) of every route under /v1/admin, however its router was included."""
    out = []
    for ctx in iter_route_contexts(app.routes):
        route = ctx.original_route
        if isinstance(route, APIRoute) and (ctx.path or "").startswith("/v1/admin"):
            out += [(method, ctx.path, route) for method in sorted(ctx.methods or route.methods)]
    return out


def _guarded(route: APIRoute) -> bool:
    def calls(dependant) -> bool:
        return any(d.call is authorize or calls(d) for d in dependant.dependencies)

    return calls(route.dependant)


def _probe(client, method: str, path: str, headers: dict):
    url = re.sub(r"\{[^}]+\}", "no-such-thing", path) + PROBE_QUERY
    body = None if method in ("GET", "HEAD") else PROBE_BODY
    return client.request(method, url, headers=headers, json=body)


@pytest.fixture(scope="module")
def credentials(client):
    """Per role: a signed-in session and an API token."""
    out = {}
    for role in ROLES:
        make_account(client, f"role-{role}", role)
        out[role] = {"session": sign_in(client, f"role-{role}"), "token": make_token(client, f"probe {role}", role)}
    return out


def test_every_admin_route_declares_a_role_and_is_guarded(client):
    routes = _admin_routes(client.app)
    assert len(routes) >= 28
    undeclared = [f"{m} {p}" for m, p, _ in routes if needed_role(m, p) is None]
    assert undeclared == [], f"add these to ROUTE_ROLES in bot/auth/roles.py: {undeclared}"
    unguarded = [f"{m} {p}" for m, p, r in routes if not _guarded(r)]
    assert unguarded == [], f"these routes' router lacks dependencies=[AdminOnly]: {unguarded}"
    # The guard looks a route up by its own path: the prefix belongs on APIRouter(prefix=...), not include_router.
    prefixed_at_include = [f"{m} {p}" for m, p, r in routes if r.path != p]
    assert prefixed_at_include == [], prefixed_at_include


@pytest.mark.parametrize("kind", ["session", "token"])
@pytest.mark.parametrize("role", ROLES)
def test_each_role_gets_what_the_table_gives_it(client, credentials, role, kind):
    wrong = []
    for method, path, _ in _admin_routes(client.app):
        r = _probe(client, method, path, credentials[role][kind])
        need = needed_role(method, path)
        if allows(role, need):
            if r.status_code in (401, 403):
                wrong.append(f"{method} {path}: {role} refused ({r.status_code} {r.text[:120]})")
        elif r.status_code != 403 or f"needs {need}" not in r.json()["detail"]:
            wrong.append(f"{method} {path}: {role} let in or wrongly refused ({r.status_code} {r.text[:120]})")
    assert wrong == []


def test_a_session_write_without_its_csrf_token_is_refused(client, credentials):
    session = credentials["admin"]["session"]
    other = sign_in(client, "role-editor")
    writes = [(m, p) for m, p, _ in _admin_routes(client.app) if m not in ("GET", "HEAD")]
    assert len(writes) >= 10
    for method, path in writes:
        for csrf in (None, "", "forged", other["X-CSRF-Token"]):  # another session's token is no better
            headers = {"Cookie": session["Cookie"]} | ({"X-CSRF-Token": csrf} if csrf is not None else {})
            r = _probe(client, method, path, headers)
            assert (r.status_code, r.json()["detail"]) == (403, NO_CSRF), (method, path, csrf)
        assert _probe(client, method, path, session).status_code not in (401, 403), (method, path)


def test_nothing_is_let_in_without_credentials(client):
    for method, path, _ in _admin_routes(client.app):
        assert _probe(client, method, path, {}).status_code == 401, (method, path)
