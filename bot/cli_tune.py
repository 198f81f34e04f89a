"""`kb tune` and the tuned regimes of `kb eval --cv` (bot/cli.py registers them): the model fine-tuned on the
labels (ingest/tune), from the command line."""
from __future__ import annotations

import json
import sys
import time

from kb.settings import Settings

EXIT_REFUSED = 1  # the gate refused the tuned model (figures printed)
EXIT_CANNOT = 2  # tuning could not start (no version, too few labels, KB_USE_LABELS=false, no base model folder)


def run_tune(args, settings: Settings, progress, close_progress) -> int:
    from ingest.tune.gate import render
    from ingest.tune.run import GATE_FOLDS, TuneRefused, tune
    from kb.state import open_content

    content = open_content(settings)
    try:
        report = tune(settings, content, seed=args.seed, folds=args.folds or GATE_FOLDS, dry_run=args.dry_run,
                      progress=progress, ignore_gate=args.ignore_gate)
    except TuneRefused as exc:
        close_progress()
        figures = exc.details.get("tune")
        if args.json:
            print(json.dumps({"published": False, "error": str(exc), "tune": figures}, ensure_ascii=False, indent=1))
        elif figures and figures.get("gate"):
            from ingest.tune.gate import GateResult

            print("\n".join(render(GateResult(**figures["gate"]))))
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_REFUSED if figures else EXIT_CANNOT
    finally:
        content.close()
    close_progress()
    if args.json:
        print(json.dumps(report.to_dict(), ensure_ascii=False, indent=1))
        return 0
    print("\n".join(render(report.gate)))
    if not report.published:
        print(f"dry run: the gate passes; nothing trained on every label or published "
              f"({report.seconds['total']:.0f} s)")
        return 0
    if report.gate_ignored:
        print("warning: 门控未通过，按 --ignore-gate 仍然发布（仅供实验）/ the gate refused this model and it was "
              "published anyway (--ignore-gate, experiments only): " + "; ".join(report.gate.reasons))
    how = "the same inputs were tuned before: reused" if report.reused_model else (
        f"trained on {report.training['pairs']} pairs, {report.training['steps']} steps")
    print(f"published version {report.version_id}, embedded with {report.model} ({how}); "
          + ", ".join(f"{k} {v:.0f} s" for k, v in report.seconds.items()))
    if report.removed_models:
        print(f"removed tuned models no kept version uses: {', '.join(report.removed_models)}")
    return 0


def tuned_regimes(args, kb, items, test) -> dict:
    """run_cv's arguments for the tuned regimes of `kb eval --cv`: a model tuned per fold (unless
    --no-tune), and the base model's space when the version is embedded with a tuned model."""
    from ingest.tune.recipe import RECIPE
    from ingest.tune.space import FoldTuner, base_space_for
    from kb.labels.keys import key_text

    base = base_space_for(kb, kb.settings)
    if args.no_tune:
        return {"base": base, "skip_tuned": "--no-tune"}
    k = args.cv
    questions = [key_text(it.label.question) for it in [*items, *(test or [])]]
    started = time.perf_counter()
    last: dict[str, int] = {}

    def progress(stage: str, done: int, total: int) -> None:
        if last.get(stage) is None:
            print(f"{stage}: {total} steps ({time.perf_counter() - started:.0f} s)", file=sys.stderr)
        last[stage] = done

    def stage(n: int) -> str:
        return f"tune fold {n}/{k}" if n <= k else f"tune model {n} (repeated needs or --test)"

    return {"base": base, "tuned": FoldTuner(kb, kb.settings, base, RECIPE, args.seed, questions, progress, stage)}
