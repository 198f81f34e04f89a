"""The three roles, and the one table of the least role each admin route needs.

    viewer   reads: documents, passages, jobs, the feedback queue, analytics
    editor   a viewer who also changes the KB: documents, dictionary, synonyms, re-index (labels, tuning)
    admin    an editor who also manages accounts, API tokens, sign-ins, widget sites and reads the audit log

Every route under /v1/admin/ is guarded by `AdminOnly` (bot/deps.py, on the router), which looks the route
up here: a route missing from the table is refused to everyone (403) until it is declared, and
tests/bot/test_roles_on_every_route.py fails for it. To add a route: add its (method, path) line below.
"""
from __future__ import annotations

ROLES = ("viewer", "editor", "admin")  # each role may do everything the ones before it may

ROUTE_ROLES: dict[tuple[str, str], str] = {
    # the KB (bot/routes/admin.py)
    ("GET", "/v1/admin/status"): "viewer",
    ("GET", "/v1/admin/documents"): "viewer",
    ("POST", "/v1/admin/documents"): "editor",
    ("DELETE", "/v1/admin/documents/{doc_id}"): "editor",
    ("GET", "/v1/admin/documents/{doc_id}/passages"): "viewer",
    ("POST", "/v1/admin/reindex"): "editor",
    ("POST", "/v1/admin/tune"): "editor",
    ("GET", "/v1/admin/jobs"): "viewer",
    ("GET", "/v1/admin/jobs/{job_id}"): "viewer",
    ("GET", "/v1/admin/dictionary"): "viewer",
    ("PUT", "/v1/admin/dictionary"): "editor",
    ("GET", "/v1/admin/synonyms"): "viewer",
    ("PUT", "/v1/admin/synonyms"): "editor",
    ("GET", "/v1/admin/feedback"): "viewer",
    # labelled questions and the review queue (bot/routes/labels.py)
    ("GET", "/v1/admin/labels"): "viewer",
    ("POST", "/v1/admin/labels"): "editor",
    ("DELETE", "/v1/admin/labels/{label_id}"): "editor",
    ("GET", "/v1/admin/labels/export"): "viewer",
    ("POST", "/v1/admin/labels/import"): "editor",
    ("GET", "/v1/admin/queue"): "viewer",
    ("POST", "/v1/admin/queue/resolve"): "editor",
    ("GET", "/v1/admin/search"): "viewer",
    # how the assistant is doing (bot/routes/analytics.py)
    ("GET", "/v1/admin/analytics"): "viewer",
    # accounts, sign-ins, API tokens (bot/routes/users.py)
    ("GET", "/v1/admin/users"): "admin",
    ("POST", "/v1/admin/users"): "admin",
    ("PATCH", "/v1/admin/users/{name}"): "admin",
    ("DELETE", "/v1/admin/users/{name}"): "admin",
    ("GET", "/v1/admin/sessions"): "admin",
    ("DELETE", "/v1/admin/sessions/{session_id}"): "admin",
    ("GET", "/v1/admin/tokens"): "admin",
    ("POST", "/v1/admin/tokens"): "admin",
    ("DELETE", "/v1/admin/tokens/{token_id}"): "admin",
    # the audit log (bot/routes/audit.py)
    ("GET", "/v1/admin/audit"): "admin",
    # sites that embed the widget (bot/routes/sites.py)
    ("GET", "/v1/admin/sites"): "admin",
    ("POST", "/v1/admin/sites"): "admin",
    ("PATCH", "/v1/admin/sites/{site_id}"): "admin",
    ("DELETE", "/v1/admin/sites/{site_id}"): "admin",
}


def rank(role: str) -> int:
    """0 for no role, then 1, 2, 3 for viewer, editor, admin."""
    return ROLES.index(role) + 1 if role in ROLES else 0


def allows(have: str, need: str) -> bool:
    return rank(have) >= rank(need) > 0


def needed_role(method: str, path: str) -> str | None:
    """The least role the route (its path template, e.g. /v1/admin/documents/{doc_id}) needs; None when it
    was not declared. HEAD needs what GET needs."""
    return ROUTE_ROLES.get(("GET" if method == "HEAD" else method, path))


def checked_role(role: str) -> str:
    """`role` when it is one; a bilingual ValueError otherwise."""
    if role not in ROLES:
        raise ValueError(f"未知的角色 {role!r}，可用：{' / '.join(ROLES)} / unknown role {role!r}; one of "
                         f"{', '.join(ROLES)}")
    return role
