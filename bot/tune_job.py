"""The tune job (`POST /v1/admin/tune`): `kb tune` in the service's job system - the gate, the model tuned on
every label, its export, a new version embedded with it - then the new version (and with it the tuned
model's question encoder) swapped in live. A refusal fails the job with the gate's figures in its details."""
from __future__ import annotations

from typing import Any

from bot.deps import ServiceState
from bot.jobs import Job, JobFailed


def run_tune_job(state: ServiceState, job: Job, seed: int, folds: int) -> dict[str, Any]:
    from ingest.tune.run import TuneRefused, tune
    from ingest.tune.train import release_memory
    from kb.knowledge_base import KnowledgeBase

    try:
        report = tune(state.settings, state.content, seed=seed, folds=folds, progress=job.progress,
                      encoder=state.holder.encoder)
    except TuneRefused as exc:
        raise JobFailed(str(exc), exc.details) from exc
    finally:
        release_memory()  # the gate's models and vectors: gigabytes this process would keep otherwise
    rep = report.to_dict()
    job.report = rep
    job.progress("swap", 0, 1)
    current = state.holder.kb
    new_kb = (current.reload() if current is not None
              else KnowledgeBase.open(state.settings, encoder=state.holder.encoder, content=state.content))
    state.holder.swap(new_kb)
    state.metrics.set_kb(new_kb)
    job.progress("swap", 1, 1)
    rep["swapped"] = True
    return rep
