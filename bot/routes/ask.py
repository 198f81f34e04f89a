"""Agents' API: ask, feedback, passages."""
from __future__ import annotations

import asyncio
import re
import time

import orjson
from fastapi import APIRouter, HTTPException
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from bot.deps import AppSettings, CurrentKB, Feedback, RateLimited, ServiceState, State
from bot.schemas import Answer, AskRequest, FeedbackRequest, PassageView
from kb.settings import Settings

router = APIRouter(prefix="/v1", tags=["agents"])

# C0/C1 control characters other than tab and newlines: never part of a real question.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
# What agents' pages may know about a version (no file system paths, no model location, no editor errors).
PUBLIC_STATS = ("version", "created_at", "dense_index", "documents", "passages", "by_kind")


def _invalid(field: str, msg: str, typ: str = "value_error") -> HTTPException:
    return HTTPException(422, detail=[{"loc": ["body", field], "msg": msg, "type": typ}])


def checked(body: AskRequest, settings: Settings) -> tuple[str, int]:
    """The question and top_k to answer with, or a 422 that says what is wrong (this deployment's limits:
    the model's own bounds are only hard caps)."""
    question = body.question.strip()
    if not question:
        raise _invalid("question", "问题不能为空 / question must not be empty")
    if _CONTROL.search(question):
        raise _invalid("question", "问题含有控制字符 / question contains control characters")
    if len(question) > settings.max_question_chars:
        raise _invalid(
            "question",
            f"问题太长：最多 {settings.max_question_chars} 个字 / question too long: at most "
            f"{settings.max_question_chars} characters (got {len(question)})",
            "string_too_long",
        )
    if not 1 <= body.top_k <= settings.max_top_k:
        raise _invalid("top_k", f"top_k 必须在 1 到 {settings.max_top_k} 之间 / top_k must be 1..{settings.max_top_k}")
    return question, body.top_k if "top_k" in body.model_fields_set else settings.top_k


def _answer_json(kb, state: ServiceState, question: str, top_k: int, session_id: str | None) -> bytes:
    """On an ask thread: the answer, logged and counted, rendered as JSON there (the event loop only sends
    the bytes). The answer is an `Answer` built by `kb` already: no FastAPI response validation or
    re-encoding."""
    t0 = time.perf_counter()
    answer = kb.ask(question, top_k=top_k, session_id=session_id)
    ms = (time.perf_counter() - t0) * 1000
    data = answer.model_dump()
    state.metrics.asks.labels("true" if answer.matched else "false").inc()
    state.app_state.asks.log(data, ms)  # queued, written by the log's own thread
    return orjson.dumps(data)


@router.post("/ask", dependencies=[RateLimited], summary="Ask the knowledge base", response_model=Answer)
async def ask(body: AskRequest, kb: CurrentKB, state: State) -> Response:
    """Returns the matching 原则 (principles) and 案例 (cases), each with its source, or matched=false."""
    question, top_k = checked(body, state.settings)
    content = await asyncio.get_running_loop().run_in_executor(
        state.ask_pool, _answer_json, kb, state, question, top_k, body.session_id)
    return Response(content, media_type="application/json")


@router.post("/feedback", status_code=201, dependencies=[RateLimited], summary="Feedback on an answer (helpful or not)")
async def feedback(body: FeedbackRequest, feedback: Feedback, state: State) -> dict:
    if not body.question.strip():
        raise _invalid("question", "问题不能为空 / question must not be empty")
    kb = state.holder.kb
    fid = await run_in_threadpool(
        feedback.add,
        body.question.strip(),
        body.passage_id,
        body.helpful,
        (body.comment or "").strip() or None,
        body.session_id,
        getattr(kb, "version_id", None),
    )
    return {"id": fid, "ok": True}


@router.get("/passages/{passage_id}", summary="One passage, in its document's own script, with every place it occurs")
async def passage(passage_id: str, kb: CurrentKB) -> PassageView:
    p = await run_in_threadpool(kb.get_passage, passage_id)
    if p is None:
        raise HTTPException(404, detail=f"没有这段内容 / no such passage: {passage_id}")
    return p


@router.get("/info", summary="What the chat page needs: version, counts, limits")
async def info(kb: CurrentKB, settings: AppSettings) -> dict:
    stats = await run_in_threadpool(kb.stats)
    return {
        "version": kb.version_id,
        "stats": {k: stats[k] for k in PUBLIC_STATS if k in stats},
        "max_question_chars": settings.max_question_chars,
        "top_k": settings.top_k,
        "max_top_k": settings.max_top_k,
    }
