"""What a build does with the labelled questions (labels in use, KB_USE_LABELS) besides measuring its hub
scores against them (kb/labels/reference.py): which labels no passage of the new version answers (reported),
and the no-answer model fitted for the new version on held-out rows (kb/crossval/fit.py)."""
from __future__ import annotations

from pathlib import Path

from kb.labels.model import Label
from kb.labels.resolve import PassageMatcher, resolve
from kb.passage import Passage
from kb.settings import Settings
from kb.state import Content
from kb.version import VersionFolder


def label_report(labels: list[Label], passages: list[Passage]) -> dict:
    """How many labels the version is built with, and the in-scope ones none of its passages answers."""
    unresolved = resolve(labels, PassageMatcher(passages)).unresolved if labels else []
    return {"labels": len(labels),
            "unresolved": [{"id": label.id, "question": label.question} for label in unresolved]}


def fit_for_version(settings: Settings, content: Content, folder: Path, encoder, labels: list[Label]) -> dict:
    """The no-answer model for the built (not yet published) version in `folder`, fitted on held-out rows of
    a cross-validation over the labels: {"model": ...} to store once it is published, or {"skipped": why}.
    Without labels in use nothing is fitted (the shipped model serves)."""
    from kb.crossval.fit import fit_no_answer, items_of, why_not
    from kb.knowledge_base import KnowledgeBase

    if not settings.use_labels or not labels:
        return {"skipped": "no labels in use"}
    items = items_of(labels)
    reason = why_not(items)
    if reason:
        return {"skipped": reason}
    kb = KnowledgeBase(settings, folder, encoder, content)
    try:  # the label questions are encoded already: the version's reference
        return {"model": fit_no_answer(kb, items, known=VersionFolder(folder).reference_vectors())}
    finally:
        kb.close()
