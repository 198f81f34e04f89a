"""CLI commands that succeed exit 0, every time, and one that refuses to start says why and exits 2: scripts
check the exit status.

A command's exit must not race the KB's background warm-up thread: a daemon thread still inside numpy's
native code when the interpreter finalises aborts the process (exit 134, "terminate called without an
active exception") after it has printed its results; without closing the KB first, about half of the
`kb search` runs on 2 cores ended so.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.support.paths import DEV_SET, REPO, SEEDS

RUNS = 30
CJK_AND_LATIN = ("至少", "at least")


def _kb(settings, model_dir, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KB_")}
    env.update(KB_DATA_DIR=str(settings.data_dir), KB_DOCS_DIRS=json.dumps([str(SEEDS)]), KB_MODEL=str(model_dir),
               HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false", PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], env=env, cwd=REPO, capture_output=True,
                          text=True, timeout=300)


def _failures(runs: list[subprocess.CompletedProcess]) -> list[str]:
    return [f"exit {r.returncode}: {r.stderr[-500:]}" for r in runs if r.returncode != 0]


def test_search_exits_0_every_time(seed_settings, seed_build, model_dir):
    runs = [_kb(seed_settings, model_dir, "search", "客户说快递晚到了，怎么回？", "-k", "3") for _ in range(RUNS)]
    assert _failures(runs) == []
    assert all("1. [" in r.stdout for r in runs)  # each run printed its results


def test_other_commands_that_open_the_kb_exit_0(seed_settings, seed_build, model_dir, tmp_path):
    golden = tmp_path / "golden.jsonl"
    golden.write_text("".join(DEV_SET.read_text("utf-8").splitlines(keepends=True)[:3]), "utf-8")
    runs = [_kb(seed_settings, model_dir, "stats"), _kb(seed_settings, model_dir, "ask", "客户说快递晚到了，怎么回？"),
            _kb(seed_settings, model_dir, "eval", str(golden), "--json")]
    assert _failures(runs) == []


def test_kb_serve_refuses_a_short_admin_token(tmp_path, model_dir):
    env = {k: v for k, v in os.environ.items() if not k.startswith("KB_")}
    env.update(KB_DATA_DIR=str(tmp_path / "data"), KB_DOCS_DIRS=json.dumps([str(SEEDS)]), KB_MODEL=str(model_dir),
               KB_ADMIN_TOKEN="letmein", PYTHONPATH=str(REPO))
    proc = subprocess.run([sys.executable, "-m", "bot.cli", "serve"], env=env, cwd=REPO, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "KB_ADMIN_TOKEN" in proc.stderr and all(w in proc.stderr for w in CJK_AND_LATIN)
    assert "Traceback" not in proc.stderr
