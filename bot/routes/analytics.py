"""How the assistant is doing, for the admin page's 统计 tab: GET /v1/admin/analytics (bot/analytics.py), as
JSON or one of its tables as CSV."""
from __future__ import annotations

import csv
import io
from typing import Literal

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from bot.analytics import analytics as compute, first_day
from bot.deps import AdminOnly, Records, State
from bot.holder import KBNotReady

router = APIRouter(prefix="/v1/admin", tags=["analytics"], dependencies=[AdminOnly])

CSV_TABLES = {
    "per_day": ("date", "asks", "answered", "answered_rate", "helpful", "unhelpful"),
    "per_team": ("team", "asks", "answered", "answered_rate", "helpful", "unhelpful", "helpful_rate",
                 "unhelpful_rate"),
    "top_unanswered": ("question", "count", "variants", "last_ts"),
    "most_cited": ("id", "title", "doc", "count", "in_current_version"),
}


def _csv(rows: list[dict], columns: tuple[str, ...]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    for r in rows:
        writer.writerow({k: " | ".join(v) if isinstance(v, list) else v for k, v in r.items()})
    return "\ufeff" + out.getvalue()  # the BOM: Excel opens UTF-8 Chinese text correctly


@router.get("/analytics", summary="Questions per day, answered and 👍/👎 rates, top unanswered, cited passages")
async def analytics(state: State, records: Records, days: int = Query(30, ge=1, le=366),
                    team: str | None = Query(None, max_length=128, description="one team's numbers; empty = "
                                                                                "questions asked anonymously"),
                    format: Literal["json", "csv"] = "json",  # noqa: A002 - the query parameter's name
                    table: Literal["per_day", "per_team", "top_unanswered", "most_cited"] = "per_day"):
    since = first_day(days)

    def numbers() -> dict:
        asks, feedback = records.asks.since(since), records.feedback.since(since)
        try:
            with state.holder.lease() as kb:
                return compute(asks, feedback, kb, days, team)
        except KBNotReady:  # no version yet: the numbers without the passages
            return compute(asks, feedback, None, days, team)

    data = await run_in_threadpool(numbers)
    if format == "json":
        return data
    return Response(_csv(data[table], CSV_TABLES[table]), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="analytics-{table}-{days}d.csv"'})

