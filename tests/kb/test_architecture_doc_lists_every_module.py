"""docs/architecture.md is the one-hop map from a behaviour to its code: it names every Python module of
kb/, ingest/, bot/ and bench/ and every front-end file of bot/static/, and nothing that no longer exists.
The README stays short, and every relative link of the README and of docs/*.md leads to a file (and to a
heading of it, when the link names one)."""
from __future__ import annotations

import re
from urllib.parse import unquote

from tests.support.paths import REPO

PACKAGES = ("kb", "ingest", "bot", "bench")
ARCHITECTURE = REPO / "docs" / "architecture.md"
README_MAX_LINES = 150
# A code path in backticks: `kb/search.py`, `kb/answer/` (a package), `bot/static/chat.js`, `kb/index/_bm25c.c`.
CODE_PATH = re.compile(r"`((?:%s)/[\w./-]*)`" % "|".join(PACKAGES))
# A markdown link or image target: [text](target) / ![alt](target); anchors and titles stripped below.
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")


def _files(under: str, suffixes: tuple[str, ...]) -> set[str]:
    root = REPO / under
    return {p.relative_to(REPO).as_posix() for p in root.rglob("*")
            if p.is_file() and p.suffix in suffixes and "__pycache__" not in p.parts}


def _modules() -> set[str]:
    """Every module as the map names it: a package by its folder (`kb/answer/`), any other by its file."""
    names = set()
    for package in PACKAGES:
        for path in _files(package, (".py",)):
            names.add(path[: -len("__init__.py")] if path.endswith("/__init__.py") else path)
    return names


def _named_paths() -> set[str]:
    return set(CODE_PATH.findall(ARCHITECTURE.read_text("utf-8")))


def test_every_module_and_front_end_file_has_its_line():
    expected = _modules() | _files("bot/static", (".html", ".js", ".css", ".svg"))
    missing = sorted(expected - _named_paths())
    assert not missing, f"docs/architecture.md has no line for: {', '.join(missing)}"


def test_every_path_it_names_exists():
    gone = sorted(p for p in _named_paths() if not (REPO / p).exists())
    assert not gone, f"docs/architecture.md names paths that do not exist: {', '.join(gone)}"


def test_readme_stays_short():
    lines = (REPO / "README.md").read_text("utf-8").splitlines()
    assert len(lines) <= README_MAX_LINES, f"README.md has {len(lines)} lines (at most {README_MAX_LINES})"


def _without_code_blocks(md) -> str:
    return re.sub(r"```.*?```", "", md.read_text("utf-8"), flags=re.S)  # examples, not links or headings


def _relative_links(md) -> list[tuple[str, str]]:
    """(file, anchor) of every link to another file; an anchor alone refers to `md` itself."""
    out = []
    for target in LINK.findall(_without_code_blocks(md)):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):
            continue  # http:, https:, mailto:
        path, _, anchor = unquote(target).partition("#")
        out.append((path or md.name, anchor))
    return out


def _anchors(md) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces as hyphens."""
    headings = re.findall(r"^#{1,6}\s+(.+?)\s*$", _without_code_blocks(md), re.M)
    return {re.sub(r"[^\w\- ]", "", h.lower()).replace(" ", "-") for h in headings}


def test_relative_links_of_readme_and_docs_lead_to_files():
    pages = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
    broken = []
    for md in pages:
        for path, anchor in _relative_links(md):
            target = md.parent / path
            if not target.exists():
                broken.append(f"{md.relative_to(REPO)} -> {path}")
            elif anchor and target.suffix == ".md" and anchor not in _anchors(target):
                broken.append(f"{md.relative_to(REPO)} -> {path}#{anchor}")
    assert not broken, "broken relative links: " + "; ".join(broken)
