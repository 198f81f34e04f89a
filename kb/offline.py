"""No network at run time: the opt-outs of the third-party libraries that would otherwise phone home.

`kb/__init__.py` applies them, so every process that imports `kb` (serve and its workers, ingest, the
CLI, the tests) has them before any of those libraries is imported: most read their switches once, at
import. They are set in this process's environment, so child processes inherit them too.

- OpenVINO: `import openvino` imports its model converter (openvino.tools.ovc), which starts usage
  telemetry (the openvino_telemetry package): it writes a client id and counters under ~/intel and forks
  a child that loads CA certificates and posts to www.google-analytics.com. Its only switches are a
  consent file in the user's home folder and CI=true (which means something else to other tools); the
  converter imports the package in a try block and falls back to its own no-op stub when the import
  fails, so the package is made unimportable here (a None entry in sys.modules).
- Hugging Face hub, transformers, sentence-transformers: never download (a model is a local folder),
  no telemetry, no implicit token, no update check.
- DO_NOT_TRACK: the common convention (huggingface_hub reads it; so do other tools).
- ONNX Runtime (1.31) carries Microsoft's 1DS telemetry on Linux too: after a dynamic quantisation (the
  int8 copy `kb setup-model` and `kb tune` export) its threads look mobile.events.data.microsoft.com up
  at exit, even after `onnxruntime.disable_telemetry_events()` once torch is loaded; ORT_DISABLE_TELEMETRY
  stops it (measured: no lookup in a network namespace, tests/service/test_no_network.py).
- torch, FAISS, tqdm and jieba make no connection.
"""
from __future__ import annotations

import os
import sys

BLOCKED_MODULES = ("openvino_telemetry",)

ENVIRONMENT = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "HF_HUB_DISABLE_IMPLICIT_TOKEN": "1",
    "HF_HUB_DISABLE_UPDATE_CHECK": "1",
    "DO_NOT_TRACK": "1",
    "ORT_DISABLE_TELEMETRY": "1",
}


def apply() -> list[str]:
    """Set the switches; returns the blocked modules that were imported before this ran (their
    telemetry may already have started: import `kb` first)."""
    os.environ.update(ENVIRONMENT)
    too_late = []
    for name in BLOCKED_MODULES:
        if sys.modules.get(name) is not None:
            too_late.append(name)
        else:
            sys.modules[name] = None  # type: ignore[assignment] - `import name` now raises ImportError
    return too_late
