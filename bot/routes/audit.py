"""The audit log, read by admins: filtered, as JSON, CSV or JSON lines (an export)."""
from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timezone
from typing import Literal

from fastapi import APIRouter, HTTPException
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from bot.deps import AdminOnly, Records

router = APIRouter(prefix="/v1/admin", tags=["audit"], dependencies=[AdminOnly])

COLUMNS = ("id", "time", "ts", "actor", "role", "ip", "action", "target", "status", "detail")


def parse_time(value: str | None, name: str) -> float | None:
    """Unix seconds, or an ISO date / date-time (UTC unless it says otherwise); a bilingual 400 otherwise."""
    if value is None or value == "":
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise HTTPException(400, detail=f"{name} 不是时间：用 Unix 秒或 2026-01-31 这样的日期 / {name} is not a time: "
                                        f"Unix seconds or an ISO date such as 2026-01-31") from None
    return (when if when.tzinfo else when.replace(tzinfo=timezone.utc)).timestamp()


def _row(e) -> dict:
    return {"id": e.id, "time": datetime.fromtimestamp(e.ts, timezone.utc).isoformat(timespec="seconds"),
            "ts": e.ts, "actor": e.actor, "role": e.role, "ip": e.ip, "action": e.action, "target": e.target,
            "status": e.status, "detail": e.detail}


def as_csv(rows: list[dict]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS)
    writer.writeheader()
    for r in rows:
        writer.writerow({**r, "detail": json.dumps(r["detail"], ensure_ascii=False)})
    return "\ufeff" + out.getvalue()  # the BOM: Excel opens UTF-8 Chinese text correctly


@router.get("/audit", summary="Admin actions, newest first: filter by actor, action prefix, time; JSON, CSV or JSONL")
async def audit(records: Records, actor: str | None = None, action: str | None = None, since: str | None = None,
                until: str | None = None, limit: int = 500,
                format: Literal["json", "csv", "jsonl"] = "json"):  # noqa: A002 - the query parameter's name
    entries = await run_in_threadpool(
        lambda: records.audit.query(actor=actor or None, action=action or None, since=parse_time(since, "since"),
                                    until=parse_time(until, "until"), limit=max(1, min(limit, 100_000))))
    rows = [_row(e) for e in entries]
    if format == "json":
        return {"entries": rows}
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    if format == "csv":
        body, ctype = as_csv(rows), "text/csv; charset=utf-8"
    else:
        body, ctype = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "application/x-ndjson"
    return Response(body, media_type=ctype,
                    headers={"Content-Disposition": f'attachment; filename="audit-{stamp}.{format}"'})
