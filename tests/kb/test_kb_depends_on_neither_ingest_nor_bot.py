"""Dependencies flow one way: `bot` and `ingest` build on `kb`, and `kb` imports neither."""
from __future__ import annotations


def test_kb_imports_neither_ingest_nor_bot():
    """Dependencies flow one way: `bot` and `ingest` build on `kb`."""
    import re
    from pathlib import Path

    import kb

    pattern = re.compile(r"^\s*(from|import)\s+(ingest|bot)\b", re.M)
    offenders = [str(p) for p in Path(kb.__file__).parent.rglob("*.py") if pattern.search(p.read_text("utf-8"))]
    assert offenders == []
