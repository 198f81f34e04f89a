"""Editors' API: documents, re-index and tune jobs, dictionary and synonyms, the feedback queue. Token-protected."""
from __future__ import annotations

import tempfile
from pathlib import Path

from fastapi import APIRouter, File, Form, HTTPException, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from bot.deps import AdminOnly, AppSettings, CurrentKB, Dictionary, Documents, Records, State
from bot.jobs import JobBusy
from bot.reindex import run_reindex
from bot.schemas import TextBody, TuneRequest
from bot.storage import is_disk_full
from bot.tune_job import run_tune_job
from kb.state import DictionaryStore

router = APIRouter(prefix="/v1/admin", tags=["admin"], dependencies=[AdminOnly])


def _supported() -> tuple[str, ...]:
    from ingest.loaders import SUPPORTED_SUFFIXES

    return tuple(SUPPORTED_SUFFIXES)


@router.get("/status", summary="Served version, counts, running job")
async def status(state: State, records: Records) -> dict:
    kb = state.holder.kb
    job = state.jobs.current()
    last = state.jobs.last()
    return {
        "ready": kb is not None,
        "version": getattr(kb, "version_id", None),
        "manifest": getattr(kb, "manifest", None),
        "stats": await run_in_threadpool(kb.stats) if kb is not None else None,
        "error": state.holder.error,
        "job": job.to_dict() if job else None,
        "last_job": last.to_dict() if last else None,
        "counts": await run_in_threadpool(records.counts),
        "storage": await run_in_threadpool(records.storage.report, state.settings.root),
        "supported_suffixes": list(_supported()),
        "max_upload_bytes": state.settings.max_upload_bytes,
        "eval_gate": bool(state.settings.eval_gate_file),
    }


def _documents(state: State) -> dict:
    from ingest.corpus import list_files

    kb = state.holder.kb
    files, problems = list_files(state.settings, state.content.documents)
    indexed = {d["doc_id"]: d for d in (kb.documents() if kb is not None else [])}
    report = state.extra.get("last_report") or {}
    if not report and kb is not None:
        report = {"errors": (kb.manifest or {}).get("errors", [])}
    errors = {e.get("doc"): e.get("error") for e in report.get("errors", []) or []}
    out = []
    for f in files:
        d = dict(indexed.get(f.doc_id) or {})
        if f.stored is not None:
            size, mtime = f.stored.size, f.stored.uploaded_at
        else:
            try:
                st = f.path.stat()
                size, mtime = st.st_size, st.st_mtime
            except OSError:
                size, mtime = None, None
        d.update(
            doc_id=f.doc_id,
            title=d.get("title") or f.doc_id,
            size=size,
            modified_at=mtime,
            uploaded=f.uploaded,
            indexed=f.doc_id in indexed,
            error=errors.get(f.doc_id),
        )
        d.setdefault("passages", 0)
        d.setdefault("kinds", {})
        d.setdefault("warnings", [])
        d["status"] = "error" if d["error"] else ("indexed" if d["indexed"] else "pending")
        out.append(d)
    in_corpus = {f.doc_id for f in files}
    for doc_id, d in indexed.items():
        if doc_id not in in_corpus:
            out.append({**d, "uploaded": False, "indexed": True, "error": None, "status": "removed"})
    out.sort(key=lambda d: d["doc_id"])
    return {"documents": out, "problems": problems, "version": getattr(kb, "version_id", None)}


@router.get("/documents", summary="Documents in the corpus and in the served version")
async def documents(state: State) -> dict:
    return await run_in_threadpool(_documents, state)


@router.post("/documents", status_code=201, summary="Upload a new or replacement document")
async def upload(
    settings: AppSettings,
    documents: Documents,
    file: UploadFile = File(..., description="txt/docx/pdf/pptx/html/md"),
    replace: bool = Form(False, description="replace a same-named document instead of renaming"),
) -> dict:
    from ingest.corpus import CorpusError, add_document, safe_name
    from ingest.document import LoadError
    from ingest.loaders import load

    name = file.filename or ""
    try:
        name = safe_name(name)
    except CorpusError as e:
        raise HTTPException(400, detail=str(e)) from None
    suffix = Path(name).suffix.lower()
    supported = _supported()
    if suffix not in supported:
        raise HTTPException(
            400,
            detail=f"不支持的文件类型 {suffix or '(无)'}，支持：{' '.join(supported)} / "
            f"unsupported file type {suffix or '(none)'}; supported: {', '.join(supported)}",
        )
    data = await file.read(settings.max_upload_bytes + 1)
    if len(data) > settings.max_upload_bytes:
        raise HTTPException(
            413, detail=f"上传文件过大 / upload too large: limit {settings.max_upload_bytes} bytes"
        )
    if not data:
        raise HTTPException(400, detail="空文件 / empty file")

    def check_and_store():
        # Read it once before storing, so an unreadable file is refused with the loader's message.
        with tempfile.TemporaryDirectory(prefix="kb-upload-") as tmp:
            probe = Path(tmp) / name
            probe.write_bytes(data)
            doc = load(probe)
            warnings = list(getattr(doc, "warnings", []) or [])
            title = getattr(doc, "title", name)
        stored = add_document(settings, documents, name, data, replace=replace)
        return stored, title, warnings

    try:
        stored, title, warnings = await run_in_threadpool(check_and_store)
    except LoadError as e:
        raise HTTPException(400, detail=f"无法读取文件 / cannot read file: {e}") from None
    except CorpusError as e:
        raise HTTPException(400, detail=str(e)) from None
    except OSError as e:  # e.g. a name the file system refuses (too long in bytes); a full disk: 507
        if is_disk_full(e):
            raise
        raise HTTPException(400, detail=f"无法保存文件 / cannot store the file: {e.strerror or type(e).__name__}") from None
    return {
        "doc_id": stored,
        "title": title,
        "size": len(data),
        "renamed": stored != name,
        "warnings": warnings,
        "note": "重新索引后生效 / takes effect at the next re-index",
    }


@router.delete("/documents/{doc_id}", summary="Delete a document (effective at the next re-index)")
async def delete(doc_id: str, settings: AppSettings, documents: Documents) -> dict:
    from ingest.corpus import CorpusError, delete_document

    try:
        await run_in_threadpool(delete_document, settings, documents, doc_id)
    except CorpusError as e:
        raise HTTPException(404, detail=str(e)) from None
    return {"deleted": doc_id, "note": "重新索引后生效 / takes effect at the next re-index"}


@router.get("/documents/{doc_id}/passages", summary="A document's passages as the bot quotes them")
async def document_passages(doc_id: str, kb: CurrentKB) -> dict:
    passages = await run_in_threadpool(kb.document_passages, doc_id)
    if not passages and doc_id not in {d["doc_id"] for d in await run_in_threadpool(kb.documents)}:
        raise HTTPException(404, detail=f"当前版本中没有这个文档 / not in the served version: {doc_id}")
    return {"doc_id": doc_id, "version": kb.version_id, "passages": passages}


def _submitted(state, kind: str, run, busy: str):
    """The job started (202), or 409 naming the job that runs: one job at a time."""
    try:
        return state.jobs.submit(kind, run).to_dict()
    except JobBusy as e:
        return JSONResponse({"detail": f"{busy}: {e.job.id}", "job_id": e.job.id, "job": e.job.to_dict()},
                            status_code=409)


@router.post("/reindex", status_code=202, summary="Start a re-index job (one at a time; 409 while one runs)")
async def reindex(state: State, force: bool = False):
    return _submitted(state, "reindex", lambda job: run_reindex(state, job, force=force),
                      "已有索引任务在运行 / a re-index job is already running")


@router.post("/tune", status_code=202, summary="Start a tune job: the embedding model fine-tuned on the labels, "
                                                "published only if it beats the current one on held-out folds "
                                                "(one job at a time; 409 while one runs)")
async def tune(state: State, body: TuneRequest | None = None):
    from ingest.tune.run import GATE_FOLDS, refusal

    body = body or TuneRequest()
    reason = refusal(state.settings)
    if reason:
        return JSONResponse({"detail": reason}, status_code=409)
    return _submitted(state, "tune", lambda job: run_tune_job(state, job, body.seed, body.folds or GATE_FOLDS),
                      "已有任务在运行 / a job is already running")


@router.get("/jobs", summary="Recent jobs, newest first")
async def jobs(state: State) -> dict:
    return {"jobs": [j.to_dict() for j in state.jobs.list()]}


@router.get("/jobs/{job_id}", summary="A job's state and progress")
async def job(job_id: str, state: State) -> dict:
    j = state.jobs.get(job_id)
    if j is None:
        raise HTTPException(404, detail=f"没有这个任务 / no such job: {job_id}")
    return j.to_dict()


def _dict_io(kind: str):
    from kb import dictionary

    if kind == "dictionary":
        return dictionary.read_user_dict, dictionary.write_user_dict
    return dictionary.read_synonyms, dictionary.write_synonyms


async def _read(kind: str, store: DictionaryStore) -> dict:
    read, _ = _dict_io(kind)
    text = await run_in_threadpool(read, store)
    return {"text": text, "note": "重新索引后生效 / takes effect at the next re-index"}


async def _write(kind: str, store: DictionaryStore, body: TextBody) -> dict:
    _, write = _dict_io(kind)
    try:
        await run_in_threadpool(write, store, body.text)
    except ValueError as e:
        raise HTTPException(400, detail=str(e)) from None
    return await _read(kind, store)


@router.get("/dictionary", summary="The jieba user dictionary (one word per line: word [freq] [tag])")
async def get_dictionary(dictionary: Dictionary) -> dict:
    return await _read("dictionary", dictionary)


@router.put("/dictionary", summary="Replace the jieba user dictionary (effective at next re-index)")
async def put_dictionary(dictionary: Dictionary, body: TextBody) -> dict:
    return await _write("dictionary", dictionary, body)


@router.get("/synonyms", summary="Synonym groups (one group per line)")
async def get_synonyms(dictionary: Dictionary) -> dict:
    return await _read("synonyms", dictionary)


@router.put("/synonyms", summary="Replace the synonym groups (effective at next re-index)")
async def put_synonyms(dictionary: Dictionary, body: TextBody) -> dict:
    return await _write("synonyms", dictionary, body)


@router.get("/feedback", summary="👎 answers and unanswered questions, newest first")
async def feedback_queue(records: Records, limit: int = 200) -> dict:
    items = await run_in_threadpool(records.review_queue, max(1, min(limit, 1000)))
    return {"items": items, "counts": await run_in_threadpool(records.counts)}
