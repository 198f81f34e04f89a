from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np


class Index(Protocol):
    """Rows are passage positions in the version; search returns (rows, scores), best first."""

    def search(self, query, k: int) -> tuple[np.ndarray, np.ndarray]: ...

    def save(self, folder: Path) -> None: ...

    @classmethod
    def load(cls, folder: Path) -> "Index": ...
