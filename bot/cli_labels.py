"""`kb labels import|export|list|delete`, `kb eval --cv`, and `kb calibrate`: the labelled questions from the
command line (bot/cli.py registers them)."""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from kb.labels.model import Label, LabelError
from kb.settings import Settings


def _content(settings: Settings):
    from kb.state import open_content

    return open_content(settings)


def cmd_labels_import(args, settings: Settings) -> int:
    from kb.labels.files import check_labels, import_file

    content = _content(settings)
    try:
        try:
            stored = import_file(content, Path(args.file))
        except LabelError as exc:
            print(f"error: {exc}\n没有导入任何标注 / nothing was imported", file=sys.stderr)
            return 2
        print(f"imported {args.file}: added {len(stored.added)}, replaced {len(stored.replaced)}, "
              f"unchanged {len(stored.unchanged)}; {len(content.labels.labels())} labels in {content.labels.where}")
        _print_unresolved(check_labels(content))
    finally:
        content.close()
    return 0


def _print_unresolved(resolution) -> None:
    if resolution is None:
        print("no published version yet: labels are matched to passages when one is built (`kb ingest`)")
        return
    for label in resolution.unresolved:
        print(f"unresolved {label.id}: no passage of the published version contains its gold phrases "
              f"({' | '.join(label.gold)})  {label.question}", file=sys.stderr)
    if resolution.unresolved:
        print(f"{len(resolution.unresolved)} labels answer no passage of the published version "
              "(kept; `kb labels list --unresolved`)", file=sys.stderr)


def cmd_labels_export(args, settings: Settings) -> int:
    from kb.labels.files import export_text

    content = _content(settings)
    try:
        text = export_text(content.labels.labels())
    finally:
        content.close()
    if args.file:
        Path(args.file).write_text(text, "utf-8")
        print(f"exported {text.count(chr(10))} labels to {args.file}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def cmd_labels_list(args, settings: Settings) -> int:
    from kb.labels.files import check_labels, current_matcher

    content = _content(settings)
    try:
        labels = content.labels.labels()
        matcher = current_matcher(content)
        resolution = check_labels(content, labels) if matcher is not None else None
    finally:
        content.close()
    unresolved = {label.id for label in resolution.unresolved} if resolution else set()
    shown = [label for label in labels if not args.unresolved or label.id in unresolved]
    rows = [_listed(label, resolution, matcher) for label in shown]
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=1))
        return 0
    for r in rows:
        where = "out of scope" if r["kind"] == "oos" else (
            "UNRESOLVED" if r["resolved"] is False else ", ".join(r["passages"]) or "(no version)")
        print(f"{r['id']:<16} {r['kind']:<9} {r['source']:<6} {where[:60]:<60}  {r['question']}")
    print(f"{len(shown)} of {len(labels)} labels" + (f"; {len(unresolved)} unresolved" if resolution else ""),
          file=sys.stderr)
    return 0


def _listed(label: Label, resolution, matcher) -> dict:
    rows = resolution.rows.get(label.id, ()) if resolution else ()
    return {"id": label.id, "kind": label.kind, "source": label.source, "question": label.question,
            "gold": list(label.gold), "passage_id": label.passage_id, "created_by": label.created_by,
            "created_at": label.created_at,
            "resolved": None if resolution is None or not label.in_scope else bool(rows),
            "passages": [matcher.ids[r] for r in rows] if matcher else []}


def cmd_labels_delete(args, settings: Settings) -> int:
    content = _content(settings)
    try:
        gone = content.labels.delete(args.ids)
    finally:
        content.close()
    missing = [i for i in args.ids if i not in gone]
    print(f"deleted {len(gone)}" + (f"; not found: {', '.join(missing)}" if missing else ""))
    return 1 if missing else 0


def add_labels_parser(sub) -> None:
    labels = sub.add_parser("labels", help="labelled questions: import, export, list, delete")
    cmds = labels.add_subparsers(dest="labels_command", required=True)
    s = cmds.add_parser("import", help="store every label of a JSONL file (the eval format), or none")
    s.add_argument("file")
    s.set_defaults(labels_fn=cmd_labels_import)
    s = cmds.add_parser("export", help="every label as JSONL, each line as it was given")
    s.add_argument("file", nargs="?", help="write here (default: standard output)")
    s.set_defaults(labels_fn=cmd_labels_export)
    s = cmds.add_parser("list", help="labels and the passages of the published version that answer them")
    s.add_argument("--unresolved", action="store_true", help="only in-scope labels no passage answers")
    s.add_argument("--json", action="store_true")
    s.set_defaults(labels_fn=cmd_labels_list)
    s = cmds.add_parser("delete", help="remove labels by id")
    s.add_argument("ids", nargs="+")
    s.set_defaults(labels_fn=cmd_labels_delete)


def cmd_labels(args, settings: Settings) -> int:
    return args.labels_fn(args, settings)


# --- measuring and calibrating with labels -----------------------------------------------------------
def cv_items(files: list[str], content):
    """The labelled questions of the files, or the store's when none are given."""
    from kb.crossval.items import Item, read_sets

    if files:
        return read_sets([Path(f) for f in files])
    return [Item(label, "labels", label.item.get("of") or label.id) for label in content.labels.labels()]


def labelled_warning(kb, questions: list[str], path: str) -> str | None:
    """Plain `kb eval` on questions the KB has labels for measures them in-sample: say so."""
    if kb.labels is None:
        return None
    from kb.text import match_key

    known = {label.key for label in kb.labels.keys.labels}
    n = sum(1 for q in questions if match_key(q) in known)
    if not n:
        return None
    return (f"warning: {n} of {len(questions)} questions of {path} are labelled in this KB: their figures are "
            "in-sample (the labels answer them). For honest figures: `kb eval --cv 5 FILE` or "
            "KB_USE_LABELS=false kb eval FILE / 这些问题已有标注，结果偏高")


def run_eval_cv(args, kb) -> int:
    from kb.crossval.hijack import hijack
    from kb.crossval.items import read_sets
    from kb.crossval.report import render, run_cv

    t = time.perf_counter()
    try:
        items = cv_items(args.file, kb.content)
        test = read_sets([Path(args.test)]) if args.test else None
    except LabelError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    from kb.crossval.run import ABLATIONS, REGIMES

    from bot.cli_tune import tuned_regimes

    names = tuple(r.name for r in (*REGIMES, *ABLATIONS)) if args.ablation else None
    report = run_cv(kb, items, args.cv, test, regimes=names, **tuned_regimes(args, kb, items, test))
    extra = {}
    if args.hijack and report.result("labels") is not None:
        extra["hijack"] = hijack(report.cv, report.result("labels"))
    if args.json:
        print(json.dumps({"tables": report.tables(), "chosen": report.choices(), "skipped": report.skipped, **extra},
                         ensure_ascii=False, indent=1))
    else:
        print(render(report))
        if extra:
            print("\nwrong labels (10 % of the keys re-pointed, 3 draws): " + json.dumps(extra["hijack"]))
        print(f"({time.perf_counter() - t:.0f} s)", file=sys.stderr)
    return 0


def cmd_calibrate(args, kb) -> int:
    """Fit the no-answer model on held-out rows of a cross-validation over the labelled questions."""
    from kb.crossval.fit import fit_no_answer, why_not

    try:
        items = cv_items(args.file, kb.content)
    except LabelError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    reason = why_not(items)
    if reason:
        print(f"error: {reason}", file=sys.stderr)
        return 2
    if kb.manifest.get("tuned_model"):
        print("error: 当前版本使用在标注上微调的模型，标注问题的信号是样本内的；kb tune 已在留出的折上拟合拒答模型 / "
              "the published version is embedded with a model tuned on the labels, so their questions' signals are "
              "in-sample: `kb tune` fitted the no-answer model on held-out folds (run it again to refit)",
              file=sys.stderr)
        return 2
    model = fit_no_answer(kb, items, args.cv)
    out: dict = {"calibration": model}
    if args.out:
        Path(args.out).write_text(json.dumps(model, ensure_ascii=False, indent=1) + "\n", "utf-8")
        out["written"] = args.out
    elif args.dry_run:
        pass
    elif not kb.settings.use_labels:
        out["note"] = ("KB_USE_LABELS=false serves the shipped model: nothing stored (--out FILE writes it to a "
                       "file)")
    else:
        kb.content.calibration.put(model)
        out["written"] = kb.content.calibration.where
    print(json.dumps(out, ensure_ascii=False, indent=1))
    return 0
