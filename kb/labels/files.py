"""Labels in and out of the store: a JSONL file imported whole (or not at all), exported back line for line,
and checked against the published version (which labels no passage answers)."""
from __future__ import annotations

from pathlib import Path

from kb.labels.model import Label, parse_lines, read_label_file
from kb.labels.resolve import PassageMatcher, Resolution, resolve
from kb.state import Content, StoredLabels
from kb.version import NoVersionError, VersionFolder


def import_file(content: Content, path: Path) -> StoredLabels:
    """Every label of the file, or none (LabelError names the first bad line). Importing the same file again
    changes nothing; a label with an id already stored replaces it."""
    return content.labels.put(read_label_file(path))


def import_text(content: Content, text: str, where: str = "upload") -> StoredLabels:
    return content.labels.put(parse_lines(text.splitlines(), where))


def export_text(labels: list[Label]) -> str:
    """One line per label, each the object as it was given: a file imported and exported comes back the same."""
    return "".join(label.to_json() + "\n" for label in labels)


def current_matcher(content: Content) -> PassageMatcher | None:
    """The published version's passages as the match rule sees them; None before the first version."""
    try:
        folder = content.versions.current_folder()
    except NoVersionError:
        return None
    store = VersionFolder(folder).passage_store()
    try:
        return PassageMatcher(store.rows(list(range(len(store.kinds)))))
    finally:
        store.close()


def check_labels(content: Content, labels: list[Label] | None = None) -> Resolution | None:
    """Which passages of the published version answer each label; None before the first version."""
    matcher = current_matcher(content)
    if matcher is None:
        return None
    return resolve(content.labels.labels() if labels is None else labels, matcher)
