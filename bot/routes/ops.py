"""Operations: liveness, readiness, Prometheus metrics."""
from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response

from bot.deps import State

router = APIRouter(tags=["ops"])


@router.get("/healthz", summary="Alive")
async def healthz() -> dict:
    return {"status": "ok"}


@router.get("/readyz", summary="Ready: a KB version is loaded (503 otherwise)")
async def readyz(state: State):
    kb = state.holder.kb
    job = state.jobs.current()
    if kb is None:
        return JSONResponse(
            {
                "status": "not ready",
                "reason": state.holder.error or "loading",
                "job": job.to_dict() if job else None,
            },
            status_code=503,
        )
    return {
        "status": "ready",
        "version": kb.version_id,
        "reindexing": job.id if job else None,
        "disk_full": state.app_state.storage.disk_full,  # questions are still answered; writes are refused (507)
        "worker": state.jobs.instance_id,  # which service process answered: a random id, new at every start
    }


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def metrics(state: State) -> Response:
    state.metrics.set_kb(state.holder.kb)
    return Response(state.metrics.render(), media_type=state.metrics.content_type)
