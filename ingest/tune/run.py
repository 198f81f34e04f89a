"""`tune`: the gate, then the model tuned on every label, its folder and export, and a new version embedded
with it, published with the no-answer model fitted on the gate's held-out rows.

Progress stages: "gate fold n/k" (training steps) and "gate fold n/k embed", "train" (steps), "export", then
the build's own (load, embed, embed-sentences, index, publish).

The tuned model is a folder under data_dir/models (ingest/tune/folder.py) that every process serving its
version needs: on the PostgreSQL backend, publishing the version stores the folder in the database and every
replica fetches it with the version (kb/state/pg_models.py).
"""
from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ingest.onnx_export import is_exported
from ingest.pipeline import build_version
from ingest.tune.folder import existing, labels_digest, passages_digest, tuned_name, write_model
from ingest.tune.gate import GateResult, run_gate
from ingest.tune.recipe import RECIPE, Recipe
from ingest.tune.space import FoldTuner, base_space_for
from kb.crossval.fit import items_of, why_not
from kb.labels.keys import key_text
from kb.settings import Settings
from kb.state import Content
from kb.version import NoVersionError, VersionModelError
from kb.version.model import models_lock, remove_unused_models

GATE_FOLDS = 3  # see docs/editors.md: 4 models in ~10 min on 2 cores; every label is still held out once
MIN_PAIRS = 20  # labels with a passage that answers them, below which there is nothing worth tuning on

Progress = Callable[[str, int, int], None]


class TuneRefused(Exception):
    """Tuning cannot start, or its model was not published; the message is for people (bilingual), details
    carry the figures."""

    def __init__(self, message: str, details: dict | None = None):
        super().__init__(message)
        self.details = details or {}


@dataclass
class TuneReport:
    seed: int
    folds: int
    labels: int
    gate: GateResult | None = None
    published: bool = False
    version_id: str | None = None
    model: str | None = None  # the tuned model's folder name
    reused_model: bool = False  # the same inputs were tuned before: that folder is used as it is
    gate_ignored: bool = False  # published although the gate refused (`--ignore-gate`)
    training: dict = field(default_factory=dict)  # pairs, steps, losses, seconds of the published model
    removed_models: list[str] = field(default_factory=list)
    seconds: dict = field(default_factory=dict)  # per stage: gate, train, export, build, total

    def to_dict(self) -> dict:
        out = asdict(self)
        out["gate"] = self.gate.to_dict() if self.gate else None
        return out


def refusal(settings: Settings) -> str | None:
    """Why this deployment cannot tune at all (None: it can)."""
    if not settings.use_labels:
        return ("KB_USE_LABELS=false 只用基础模型，不使用标注：无法微调 / KB_USE_LABELS=false serves the base model "
                "without labels: nothing to tune")
    if not Path(settings.model_name_or_path).is_dir():
        return (f"基础模型必须是本机的文件夹 / kb tune needs the base model as a folder on this machine, not "
                f"{settings.model_name_or_path!r} (KB_MODEL)")
    return None


@contextlib.contextmanager
def tune_lock(models_dir: Path) -> Iterator[None]:
    """One tune at a time on this data folder (it also removes other tunes' half-written folders)."""
    with models_lock(models_dir) as mine:
        if not mine:
            raise TuneRefused("已有微调在运行 / another kb tune is running on this data folder")
        yield


def _open_current(settings: Settings, content: Content, encoder):
    from kb.knowledge_base import KnowledgeBase

    try:
        return KnowledgeBase.open(settings, encoder=encoder, content=content)
    except NoVersionError:
        raise TuneRefused("还没有知识库版本：请先 kb ingest / no KB version yet: run `kb ingest` first") from None
    except VersionModelError as exc:  # the published version's tuned model is not here
        raise TuneRefused(str(exc)) from None


def tune(settings: Settings, content: Content, seed: int = 0, folds: int = GATE_FOLDS, dry_run: bool = False,
         progress: Progress | None = None, encoder=None, recipe: Recipe = RECIPE, ignore_gate: bool = False
         ) -> TuneReport:
    """Gate, then (unless dry_run, or refused: TuneRefused with the figures) train on every label, write and
    export the model, and publish a new version embedded with it. encoder: a loaded model to open the
    current version with (the service's). ignore_gate: publish even what the gate refuses (`kb tune
    --ignore-gate`, for experiments: the figures still say it is not better)."""
    progress = progress or (lambda stage, done, total: None)
    reason = refusal(settings)
    if reason:
        raise TuneRefused(reason)
    if folds < 2:
        raise TuneRefused("--folds 至少为 2 / --folds must be at least 2")
    t0 = time.perf_counter()
    with tune_lock(settings.models_dir):
        kb = _open_current(settings, content, encoder)
        try:
            labels = content.labels.labels()
            items = items_of(labels)
            report = TuneReport(seed, folds, len(labels))
            problem = why_not(items)
            if problem:
                raise TuneRefused(problem)
            base = base_space_for(kb, settings)
            questions = [key_text(it.label.question) for it in items]
            tuner = FoldTuner(kb, settings, base, recipe, seed, questions, progress,
                              stage=lambda n: f"gate fold {n}/{folds}")
            trainable = len({p.question for p in tuner.pairs(labels)})
            if trainable < MIN_PAIRS:
                raise TuneRefused(f"能训练的标注太少 / too few labels to tune on: {trainable} in-scope labels answer "
                                  f"a passage (at least {MIN_PAIRS})")
            report.gate = run_gate(kb, items, folds, tuner, base)
            report.seconds["gate"] = report.gate.seconds
            report.gate_ignored = ignore_gate and not report.gate.passed
            if not report.gate.passed and not ignore_gate:
                raise TuneRefused("微调模型在留出的问题上没有胜过当前模型，未发布 / the tuned model did not beat the "
                                  "current one on held-out questions: not published; "
                                  + "; ".join(report.gate.reasons), {"tune": report.to_dict()})
            if dry_run:
                return _done(report, t0)
            name, folder_inputs = _name(settings, tuner, labels, recipe, seed)
            report.model = name
            report.reused_model = existing(settings.models_dir, name) is not None
            if not report.reused_model:
                _train_and_write(settings, tuner, labels, name, folder_inputs, report, progress)
        finally:
            kb.close()
        t = time.perf_counter()
        build = build_version(settings, progress=progress, force=True, content=content, tuned_model=report.model,
                              calibration=report.gate.calibration)
        report.seconds["build"] = round(time.perf_counter() - t, 1)
        report.published, report.version_id = True, build.version_id
        keep = {content.versions.manifest(v).tuned_model for v in content.versions.versions()} | {report.model}
        report.removed_models = remove_unused_models(settings.models_dir, {k for k in keep if k})
    return _done(report, t0)


def _name(settings: Settings, tuner: FoldTuner, labels, recipe: Recipe, seed: int) -> tuple[str, dict]:
    from kb.encoders import model_fingerprint

    inputs = {"base_model": settings.model_name_or_path, "base_fingerprint": model_fingerprint(
        settings.model_name_or_path), "labels": len(labels), "labels_sha256": labels_digest(labels),
        "passages_sha256": passages_digest(tuner.texts.passages), "recipe": recipe.as_dict(), "seed": seed,
        "threads": settings.tune_threads, "prompts": [settings.query_prompt, settings.passage_prompt]}
    named = {k: v for k, v in inputs.items() if k != "base_model"}  # the weights, not where they are
    return tuned_name(named), inputs


def _train_and_write(settings: Settings, tuner: FoldTuner, labels, name: str, inputs: dict, report: TuneReport,
                     progress: Progress) -> None:
    t = time.perf_counter()
    trained = tuner.train(labels, "train")
    report.training = {"pairs": trained.pairs, "steps": trained.steps, "loss_first": trained.loss_first,
                       "loss_last": trained.loss_last, "seconds": trained.seconds}
    report.seconds["train"] = round(time.perf_counter() - t, 1)
    t = time.perf_counter()
    progress("export", 0, 1)
    record = {**inputs, "training": report.training, "gate": {
        "folds": report.gate.folds, "passed": report.gate.passed, "ignored": report.gate_ignored,
        "gain": report.gate.gain, "figures": report.gate.figures}, "tuned_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    write_model(trained, Path(settings.model_name_or_path), settings.models_dir, name, record,
                export=is_exported(Path(settings.model_name_or_path)))
    progress("export", 1, 1)
    report.seconds["export"] = round(time.perf_counter() - t, 1)


def _done(report: TuneReport, t0: float) -> TuneReport:
    report.seconds["total"] = round(time.perf_counter() - t0, 1)
    return report
