"""Editors' API for labelled questions and the review queue (token-protected, like the rest of /v1/admin):
list, add, delete, import and export labels; the grouped review queue and the fixes made from it; a passage
search for picking the passage that answers. A stored label reaches every worker within about a second,
without a re-index (kb/labels/live.py)."""
from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, File, HTTPException, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from bot.deps import AdminOnly, AppSettings, CurrentKB, Records, State, Who
from bot.review_queue import describe_answers, fix_label, group_items, open_items
from kb.labels.files import export_text, import_text
from kb.labels.model import LabelError, parse_label
from kb.labels.resolve import PassageMatcher, resolve
from kb.text import match_key

router = APIRouter(prefix="/v1/admin", tags=["admin: labels"], dependencies=[AdminOnly])


class ResolveRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: str = Field(..., min_length=1, max_length=2000, description="the group's question: the label's")
    keys: list[str] = Field(default_factory=list, max_length=1000,
                            description="the group's question keys (`keys` of GET /v1/admin/queue): all leave the queue")
    action: Literal["answer", "oos", "dismiss"]
    passage_id: str | None = Field(None, max_length=200, description="action answer: the passage that answers")


def _matcher(kb) -> PassageMatcher:
    return kb.labels.matcher if kb.labels is not None else PassageMatcher(kb.all_passages())


def _listed(kb, labels) -> list[dict]:
    matcher = _matcher(kb)
    resolution = resolve(labels, matcher)
    unresolved = {label.id for label in resolution.unresolved}
    out = []
    for label in labels:
        rows = resolution.rows.get(label.id, ())
        out.append({
            "id": label.id, "question": label.question, "kind": label.kind, "gold": list(label.gold),
            "passage_id": label.passage_id, "source": label.source, "created_at": label.created_at,
            "created_by": label.created_by,
            "status": "oos" if not label.in_scope else ("unresolved" if label.id in unresolved else "resolved"),
            "passages": [{"id": matcher.ids[r], "title": matcher.passages[r].title,
                          "section_path": matcher.passages[r].section_path} for r in rows[:5]],
        })
    return out


@router.get("/labels", summary="Labelled questions and the passages of the served version that answer them")
async def list_labels(state: State, kb: CurrentKB, unresolved: bool = False) -> dict:
    labels = await run_in_threadpool(state.content.labels.labels)
    listed = await run_in_threadpool(_listed, kb, labels)
    counts = {"labels": len(listed), "unresolved": sum(1 for x in listed if x["status"] == "unresolved"),
              "oos": sum(1 for x in listed if x["status"] == "oos")}
    if unresolved:
        listed = [x for x in listed if x["status"] == "unresolved"]
    return {"labels": listed, "counts": counts, "version": kb.version_id, "use_labels": state.settings.use_labels}


@router.post("/labels", status_code=201, summary="Add (or replace) one label, in the evaluation format")
async def add_label(state: State, kb: CurrentKB, body: dict, who: Who) -> dict:
    try:
        label = parse_label(body, source="editor", created_by=who.name)
    except LabelError as e:
        raise HTTPException(400, detail=str(e)) from None
    stored = await run_in_threadpool(state.content.labels.put, [label])
    return {"stored": stored.__dict__, "label": (await run_in_threadpool(_listed, kb, [label]))[0],
            "note": "约 1 秒内生效 / in effect within about a second"}


@router.delete("/labels/{label_id}", summary="Delete a label")
async def delete_label(label_id: str, state: State) -> dict:
    gone = await run_in_threadpool(state.content.labels.delete, [label_id])
    if not gone:
        raise HTTPException(404, detail=f"没有这个标注 / no such label: {label_id}")
    return {"deleted": label_id}


@router.get("/labels/export", summary="Every label as JSONL, each line as it was given")
async def export_labels(state: State) -> Response:
    text = export_text(await run_in_threadpool(state.content.labels.labels))
    return Response(text, media_type="application/x-ndjson; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="labels.jsonl"'})


@router.post("/labels/import", summary="Import a JSONL file of labels: all of them, or none")
async def import_labels(state: State, kb: CurrentKB, settings: AppSettings,
                        file: UploadFile = File(..., description="labels, one JSON object a line")) -> dict:
    data = await file.read(settings.max_upload_bytes + 1)
    if len(data) > settings.max_upload_bytes:
        raise HTTPException(413, detail=f"上传文件过大 / upload too large: limit {settings.max_upload_bytes} bytes")
    try:
        text = data.decode("utf-8")
        stored = await run_in_threadpool(import_text, state.content, text, file.filename or "upload")
    except UnicodeDecodeError:
        raise HTTPException(400, detail="文件不是 UTF-8 / the file is not UTF-8; nothing was imported") from None
    except LabelError as e:
        raise HTTPException(400, detail=f"{e}; 没有导入任何标注 / nothing was imported") from None
    labels = await run_in_threadpool(state.content.labels.labels)
    listed = await run_in_threadpool(_listed, kb, labels)
    return {"added": len(stored.added), "replaced": len(stored.replaced), "unchanged": len(stored.unchanged),
            "unresolved": [x for x in listed if x["status"] == "unresolved"]}


@router.get("/queue", summary="The review queue: 👎 answers and unanswered questions, grouped, most asked first")
async def queue(state: State, records: Records, limit: int = 200) -> dict:
    labels = await run_in_threadpool(state.content.labels.labels)
    items = await run_in_threadpool(open_items, records, labels, max(1, min(limit, 1000)))
    kb = state.holder.kb
    encoder = state.holder.encoder
    if encoder is None:
        raise HTTPException(503, detail="模型尚未加载 / the model is not loaded yet")
    groups = await run_in_threadpool(group_items, items, encoder)
    await run_in_threadpool(describe_answers, groups, kb)
    return {"groups": groups, "items": len(items), "version": getattr(kb, "version_id", None)}


@router.post("/queue/resolve", summary="Fix a group of the queue: the passage that answers, out of scope, or dismiss")
async def resolve_group(state: State, records: Records, kb: CurrentKB, body: ResolveRequest, who: Who) -> dict:
    try:
        label = await run_in_threadpool(fix_label, kb, body.question, body.action, body.passage_id,
                                        who.name)
    except ValueError as e:
        raise HTTPException(404 if body.action == "answer" else 400, detail=str(e)) from None
    if label is not None:
        await run_in_threadpool(state.content.labels.put, [label])
    keys = list(body.keys) or [match_key(body.question)]
    await run_in_threadpool(records.decisions.decide, keys, body.action, label.id if label else None, who.name)
    return {"action": body.action, "label": (await run_in_threadpool(_listed, kb, [label]))[0] if label else None,
            "decided": len(keys), "note": "约 1 秒内生效 / in effect within about a second" if label else ""}


@router.get("/search", summary="Ranked passages for a query: what an editor picks the answering passage from")
async def search(kb: CurrentKB, q: str, k: int = 10) -> dict:
    if not q.strip():
        raise HTTPException(422, detail="查询不能为空 / the query must not be empty")
    res = await run_in_threadpool(kb.search, q[:2000], max(1, min(k, 50)))
    passages = await run_in_threadpool(kb.passages, [c.row for c in res.candidates])
    return {"query": q, "passages": [
        {"id": p.id, "kind": p.kind, "title": p.title, "section_path": p.section_path, "doc_title": p.doc_title,
         "text": p.text, "score": round(float(c.score), 4)} for c, p in zip(res.candidates, passages)]}
