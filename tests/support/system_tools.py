"""What the tests that run the product inside Linux namespaces need (installed by `make test-tools`)."""
from __future__ import annotations

import os
import shutil

import pytest


def require_root_and(*tools: str) -> None:
    """Fail with the command that installs what is missing; skip where namespaces need root we lack."""
    if os.geteuid() != 0:
        pytest.skip("needs root (namespaces, mounts)")
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        pytest.fail(f"missing system tools {missing}: run `make test-tools` (Debian: strace, iproute2, util-linux)")
