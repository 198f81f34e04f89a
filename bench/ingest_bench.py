"""Ingest and setup costs, each in a fresh process as a user runs them:

- model conversion (`kb setup-model --force` into a temporary folder's models/);
- seeds ingest cold (empty data folder: load, clean, split, embed every passage and sentence, index);
- incremental ingest with nothing changed (fingerprint check only) and with one document edited
  (only that document's new passages/sentences are embedded, the rest reuse stored vectors).
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

from bench.common import child_env, load, log


def _kb(args: list[str], env: dict) -> tuple[float, dict | None, str]:
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "bot.cli", *args], capture_output=True, text=True, env=env,
                          timeout=3600)
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        raise RuntimeError(f"kb {' '.join(args)} failed: {proc.stderr[-2000:]}")
    try:
        report = json.loads(proc.stdout)
    except json.JSONDecodeError:
        report = None
    return wall, report, proc.stdout


def _row(wall: float, report: dict) -> dict:
    passages = report["passages"]
    return {"wall_s": round(wall, 2), "build_s": report["seconds"], "passages": passages,
            "embedded": report["embedded"], "sentences_embedded": report.get("sentences_embedded"),
            "passages_per_s": round(passages / wall, 1), "changed": report["changed"], "load": load()}


def run(settings, out_dir: Path, convert: bool = True) -> dict:
    tmp = out_dir / "tmp" / "ingest"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    env = child_env()
    docs = tmp / "docs"
    shutil.copytree(Path(settings.docs_dirs[0]), docs)
    env.update({"KB_DATA_DIR": str(tmp / "data"), "KB_MODEL": settings.model_name_or_path,
                "KB_DOCS_DIRS": json.dumps([str(docs)]), "KB_ENCODER_ENGINE": settings.encoder_engine})
    out: dict = {}
    if convert and not settings.model:
        conv_env = dict(env, KB_DATA_DIR=str(tmp / "convert"))
        conv_env.pop("KB_MODEL")
        wall, _, _ = _kb(["setup-model", "--force"], conv_env)
        out["model_conversion"] = {"wall_s": round(wall, 2), "load": load()}
        shutil.rmtree(tmp / "convert", ignore_errors=True)
        log(f"ingest: model conversion {wall:.1f} s")
    wall, rep, _ = _kb(["ingest", "--json"], env)
    out["cold"] = _row(wall, rep)
    log(f"ingest: cold {wall:.1f} s ({rep['passages']} passages)")
    wall, rep, _ = _kb(["ingest", "--json"], env)
    out["incremental_no_change"] = _row(wall, rep)
    log(f"ingest: no change {wall:.2f} s")
    first = sorted(p for p in docs.iterdir() if p.is_file())[0]
    with open(first, "a", encoding="utf-8") as f:
        f.write("\n\n补充说明\n客户来电询问退款进度时，坐席应先核实订单号，再告知预计到账时间，并主动发送短信提醒。\n")
    wall, rep, _ = _kb(["ingest", "--json"], env)
    out["incremental_one_doc_edited"] = _row(wall, rep)
    log(f"ingest: one document edited {wall:.2f} s (embedded {rep['embedded']})")
    shutil.rmtree(tmp, ignore_errors=True)
    return out
