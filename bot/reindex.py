"""The re-index job: build a new KB version, optionally gate it on an evaluation, swap it in live."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from bot.deps import ServiceState
from bot.jobs import Job, JobFailed

log = logging.getLogger(__name__)


class GateFailed(JobFailed):
    pass


def _open_candidate(state: ServiceState, folder: Path):
    """Open a built-but-unpublished version folder, sharing the loaded model and the service's stores."""
    from kb.knowledge_base import KnowledgeBase

    return KnowledgeBase.open(state.settings, encoder=state.holder.encoder, content=state.content, folder=folder)


def _gate(state: ServiceState, job: Job):
    settings = state.settings
    gate_file = settings.eval_gate_file
    if not gate_file:
        return None

    def before_publish(folder: Path) -> None:
        from kb.evaluate import evaluate_file

        job.progress("evaluate", 0, 1)
        candidate = _open_candidate(state, folder)
        try:
            figures = evaluate_file(candidate, gate_file)
        finally:
            try:
                candidate.close()
            except Exception:  # noqa: BLE001
                log.exception("closing the evaluated candidate failed")
        r5 = float(figures.get("R@5", 0.0))
        job.details["evaluation"] = figures
        job.progress("evaluate", 1, 1)
        if r5 < settings.eval_min_r5:
            raise GateFailed(
                f"评测未通过，未切换新版本 / evaluation gate failed: R@5 {r5:.3f} < {settings.eval_min_r5:.3f}; "
                "the previous version is still served",
                {"evaluation": figures},
            )

    return before_publish


def run_reindex(state: ServiceState, job: Job, force: bool = False) -> dict[str, Any]:
    from ingest.pipeline import build_version
    from kb.knowledge_base import KnowledgeBase

    settings = state.settings
    metrics = state.metrics
    try:
        kwargs: dict[str, Any] = {"encoder": state.holder.encoder, "progress": job.progress, "force": force,
                                  "content": state.content}
        gate = _gate(state, job)
        if gate is not None:
            kwargs["before_publish"] = gate
        report = build_version(settings, **kwargs)
        rep = report.to_dict()
        job.report = rep
        current = state.holder.kb
        if current is not None and current.version_id == report.version_id:
            job.progress("unchanged", 1, 1)
            rep["swapped"] = False
        else:
            job.progress("swap", 0, 1)
            new_kb = (current.reload() if current is not None
                      else KnowledgeBase.open(settings, encoder=state.holder.encoder, content=state.content))
            state.holder.swap(new_kb)
            metrics.set_kb(new_kb)
            job.progress("swap", 1, 1)
            rep["swapped"] = True
        state.extra["last_report"] = rep
        metrics.reindex_runs.labels("succeeded").inc()
        return rep
    except GateFailed:
        metrics.reindex_runs.labels("gated").inc()
        raise
    except JobFailed:
        metrics.reindex_runs.labels("failed").inc()
        raise
    except Exception as e:
        metrics.reindex_runs.labels("failed").inc()
        # IngestError and friends carry a message meant for editors.
        if type(e).__name__ in ("IngestError", "LoadError", "CorpusError"):
            raise JobFailed(str(e)) from e
        raise
    finally:
        if job.started_at:
            import time

            metrics.reindex_seconds.observe(time.time() - job.started_at)
