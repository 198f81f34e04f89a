"""`python tests/service/crash_at.py STAGE:N ARGS...` runs `kb ARGS...` with a fault injected, as a power cut
or an OOM kill would hit it: the process SIGKILLs itself the first time a KB build's progress report for
STAGE reaches N (the stages and what N counts: `ingest.pipeline.Progress`). Used by
tests/service/test_crash_safety.py."""
from __future__ import annotations

import os
import signal
import sys

from ingest import pipeline


def _crash_at(stage: str, at: int) -> None:
    build = pipeline.build_version

    def crashing_build(settings, encoder=None, progress=None, **kwargs):
        def report(name: str, done: int, total: int) -> None:
            if progress is not None:
                progress(name, done, total)
            if name == stage and done >= at:
                os.kill(os.getpid(), signal.SIGKILL)

        return build(settings, encoder, report, **kwargs)

    pipeline.build_version = crashing_build  # the CLI and the service's re-index look it up when they build


if __name__ == "__main__":
    name, _, n = sys.argv[1].partition(":")
    _crash_at(name, int(n or 0))
    from bot.cli import main

    sys.exit(main(sys.argv[2:]))
