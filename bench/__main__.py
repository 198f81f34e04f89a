"""`python -m bench [--quick] [--out DIR] [--parts engines,query,...] [--sizes 10000,100000]`."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bench.common import log
from bench.runner import PARTS, run
from bench.summary import print_summary


def _sizes(value: str) -> list[int]:
    try:
        return [int(x) for x in value.split(",") if x]
    except ValueError:
        raise argparse.ArgumentTypeError(f"sizes are whole numbers separated by commas, not {value!r}")


def _parts(value: str) -> list[str]:
    parts = [p for p in value.split(",") if p]
    unknown = [p for p in parts if p not in PARTS]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown part(s) {', '.join(unknown)}; choose from {', '.join(PARTS)}")
    return parts


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench",
                                description="benchmarks: engines, query path, HTTP load, ingest, scale")
    p.add_argument("--data-dir", help="data folder (default: KB_DATA_DIR or ./data)")
    p.add_argument("--quick", action="store_true", help="skip the 1M-passage scale run")
    p.add_argument("--out", default="bench-results", help="folder for bench.json and bench.png")
    p.add_argument("--parts", type=_parts, default=list(PARTS),
                   help=f"comma-separated subset of {','.join(PARTS)} (default: all)")
    p.add_argument("--sizes", type=_sizes,
                   help="scale sizes, e.g. 10000,100000 (default: 10k,100k,1M; --quick: 10k,100k)")
    return p


def main(argv: list[str] | None = None) -> int:
    from kb.settings import Settings

    args = build_parser().parse_args(argv)
    settings = Settings(**({"data_dir": Path(args.data_dir)} if args.data_dir else {}))
    out_dir = Path(args.out).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    result = run(settings, out_dir, quick=args.quick, parts=args.parts, sizes=args.sizes)
    print_summary(result)
    try:
        from bench.plot import plot

        plot(result, out_dir / "bench.png")
        log(f"plot: {out_dir / 'bench.png'}")
    except Exception as exc:  # noqa: BLE001 - the figures are still in the JSON
        log(f"plot failed: {exc}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
