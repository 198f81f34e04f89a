"""The audit log: every admin write recorded with who, when, from where and what; filtered, exported as CSV
and JSON lines; append-only in every backend."""
from __future__ import annotations

import csv
import io
import json
import sqlite3

import pytest

from kb.state import POSTGRESQL, backend, database_url
from tests.support.accounts import ADMIN, make_account, make_token, sign_in
from tests.support.service import NEW_DOC_NAME, NEW_DOC_TEXT


def test_admin_writes_are_recorded_with_who_and_what(client):
    make_account(client, "auditor", "editor")
    session = sign_in(client, "auditor")
    files = {"file": (NEW_DOC_NAME, NEW_DOC_TEXT.encode("utf-8"), "text/plain")}
    assert client.post("/v1/admin/documents", headers=session, files=files).status_code == 201
    assert client.put("/v1/admin/synonyms", headers=session, json={"text": "退款 退钱"}).status_code == 200
    assert client.delete(f"/v1/admin/documents/{NEW_DOC_NAME}", headers=session).status_code == 200
    token = make_token(client, "robot", "viewer")
    assert client.put("/v1/admin/dictionary", headers=token, json={"text": "保价"}).status_code == 403
    mine = client.get("/v1/admin/audit", headers=ADMIN, params={"actor": "auditor"}).json()["entries"]
    assert [(e["action"], e["target"], e["status"]) for e in mine] == [
        ("DELETE /v1/admin/documents/{doc_id}", NEW_DOC_NAME, 200), ("PUT /v1/admin/synonyms", "", 200),
        ("POST /v1/admin/documents", "", 201), ("login", "auditor", 200)]
    assert mine[2]["detail"]["doc_id"] == NEW_DOC_NAME and mine[2]["role"] == "editor" and mine[2]["ip"]
    refused = client.get("/v1/admin/audit", headers=ADMIN, params={"actor": "token:robot"}).json()["entries"]
    assert [(e["action"], e["status"]) for e in refused] == [("PUT /v1/admin/dictionary", 403)]
    made = client.get("/v1/admin/audit", headers=ADMIN, params={"action": "POST /v1/admin/tokens"}).json()["entries"]
    assert made[0]["actor"] == "KB_ADMIN_TOKEN" and "token" not in made[0]["detail"]  # never the secret


def test_the_audit_log_is_exported_and_filtered_by_time(client):
    client.put("/v1/admin/synonyms", headers=ADMIN, json={"text": "退款 退钱"})
    r = client.get("/v1/admin/audit?format=csv", headers=ADMIN)
    assert r.headers["content-type"].startswith("text/csv") and "attachment" in r.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(r.text.lstrip("\ufeff"))))
    assert rows and rows[0]["actor"] and json.loads(rows[0]["detail"]) is not None
    lines = client.get("/v1/admin/audit?format=jsonl", headers=ADMIN).text.splitlines()
    assert len(lines) == len(rows) and json.loads(lines[0])["id"] == int(rows[0]["id"])
    assert client.get("/v1/admin/audit?since=2999-01-01", headers=ADMIN).json()["entries"] == []
    assert len(client.get("/v1/admin/audit?until=2999-01-01", headers=ADMIN).json()["entries"]) == len(rows)
    r = client.get("/v1/admin/audit?since=yesterday", headers=ADMIN)
    assert r.status_code == 400 and "not a time" in r.json()["detail"]


def test_the_audit_log_refuses_changes(api_settings, client):
    """The database itself refuses: not even a statement typed into it by hand changes the log."""
    client.put("/v1/admin/synonyms", headers=ADMIN, json={"text": "退款 退钱"})  # at least one entry
    changes = ("UPDATE audit SET actor = 'someone else'", "DELETE FROM audit")
    if backend(api_settings) == POSTGRESQL:
        import psycopg

        with psycopg.connect(database_url(api_settings), autocommit=True) as conn:
            for sql in (*changes, "TRUNCATE audit"):
                with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
                    conn.execute(sql)
    else:
        con = sqlite3.connect(api_settings.app_db)
        try:
            for sql in changes:
                with pytest.raises(sqlite3.DatabaseError, match="append-only"):
                    con.execute(sql)
        finally:
            con.close()
    assert client.get("/v1/admin/audit", headers=ADMIN).json()["entries"]
