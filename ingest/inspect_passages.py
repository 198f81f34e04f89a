"""Diagnostic: clean + split every document in a folder and show what came out.

    python -m ingest.inspect_passages [--docs seeds] [--gold tests/data/dev.jsonl] [--show 000] [--full]

For each document: counts by kind, a size histogram and the cleaning report; then, for a labelled question
file, whether each gold phrase is contained in a single passage's match key.
"""
from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

from ingest.clean import clean
from ingest.loaders import SUPPORTED_SUFFIXES, load
from ingest.split import split_document
from kb.text import match_key

BINS = (0, 80, 200, 350, 500, 800, 1200, 10**9)


def histogram(sizes: list[int]) -> str:
    parts = []
    for lo, hi in zip(BINS, BINS[1:]):
        n = sum(1 for s in sizes if lo <= s < hi)
        label = f"{lo}-{hi}" if hi < 10**9 else f"{lo}+"
        parts.append(f"{label}:{n}")
    return " ".join(parts)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", default="seeds")
    ap.add_argument("--gold", default="tests/data/dev.jsonl")
    ap.add_argument("--show", default="", help="print passages of documents whose name starts with this")
    ap.add_argument("--full", action="store_true", help="print whole passage texts")
    args = ap.parse_args(argv)

    passages: dict[str, list] = {}
    all_sizes = []
    for path in sorted(Path(args.docs).iterdir()):
        if path.suffix.lower() not in SUPPORTED_SUFFIXES:
            continue
        cd = clean(load(path))
        parts = split_document(cd)
        ps = parts.passages
        passages[path.name] = ps
        sizes = [len(p.text) for p in ps]
        all_sizes += sizes
        kinds = {k: sum(1 for p in ps if p.kind == k) for k in ("principle", "case", "other")}
        r = cd.report
        print(f"== {path.name}  「{cd.title}」  passages={len(ps)} {kinds}")
        if sizes:
            print(f"   size median={statistics.median(sizes):.0f} min={min(sizes)} max={max(sizes)}  {histogram(sizes)}")
        print(f"   {r.summary()}; slides={r.slides_detected} chunks_joined={r.page_chunks_joined} "
              f"wrapped_joined={r.wrapped_lines_joined}")
        for w in r.warnings:
            print(f"   ! {w}")
        for j in parts.junk:
            print(f"   junk ({j.reason}): {j.text[:60]!r}")
        if args.show and path.name.startswith(args.show):
            for i, p in enumerate(ps):
                body = p.text if args.full else p.text[:90].replace("\n", " / ")
                print(f"   [{i}] {p.kind:9} {len(p.text):4} p={p.page} {' > '.join(p.section)} || {p.title}")
                print(f"        {body}")
    if all_sizes:
        print(f"ALL: {len(all_sizes)} passages, median={statistics.median(all_sizes):.0f}  {histogram(all_sizes)}")

    gold_path = Path(args.gold)
    if gold_path.exists():
        total = hit = 0
        keys = {name: [match_key(p.text) for p in ps] for name, ps in passages.items()}
        for line in gold_path.read_text("utf-8").splitlines():
            if not line.strip():
                continue
            item = json.loads(line)
            docs = [d for d in [item.get("doc"), *item.get("also_docs", [])] if d]
            for g in item.get("gold", []):
                gk = match_key(g)
                total += 1
                where = [d for d in keys if any(gk in k for k in keys[d])]
                if where:
                    hit += 1
                else:
                    print(f"   MISS {item['id']} {g!r} (docs {docs})")
        if total:
            print(f"gold phrases contained in a single passage: {hit}/{total} = {100 * hit / total:.1f}%")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
