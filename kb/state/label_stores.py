"""The labels' stores as small interfaces; each backend implements them (kb/state/embedded_labels.py,
kb/state/pg_labels.py).

    LabelStore        labelled questions (question -> passage, or out of scope), with a revision to watch
    CalibrationStore  the no-answer model `kb calibrate` fitted

Both are `Portable` (kb/state/base.py): `kb migrate --to` copies them. Errors as in kb/state/base.py.
"""
from __future__ import annotations

import time
from abc import abstractmethod
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from kb.labels.model import Label
from kb.state.base import Portable


@dataclass(frozen=True)
class StoredLabels:
    """What a `LabelStore.put` did, by label id."""

    added: list[str]
    replaced: list[str]  # same id, other content: the new one kept
    unchanged: list[str]  # same id and content: nothing written


class LabelStore(Portable):
    """Labelled questions (kb/labels/model.py) by id, in the order they were first stored. `revision()` grows
    with every change, so every serving process notices a change within about a second
    (`wait_for_change`). Exported as one dict per label, its fields by name."""

    where: str  # where the labels are, for messages

    @abstractmethod
    def labels(self) -> list[Label]:
        """Every label, in the order first stored."""

    @abstractmethod
    def get(self, label_id: str) -> Label | None:
        """One label; None when there is none with that id."""

    @abstractmethod
    def put(self, labels: list[Label]) -> StoredLabels:
        """Store labels in one transaction (all or none). A label whose id is stored already replaces it,
        keeping its place in the order, unless its content is the same (`Label.same_content`): then nothing
        is written. The revision grows when anything was written."""

    @abstractmethod
    def delete(self, ids: list[str]) -> list[str]:
        """Remove labels; returns the ids that were there."""

    @abstractmethod
    def revision(self) -> int:
        """A number that grows with every change (0 for a store never written)."""

    def count(self) -> int:
        return len(self.labels())

    def export_records(self) -> Iterator[dict]:
        for label in self.labels():
            yield {"id": label.id, "question": label.question, "kind": label.kind, "gold": list(label.gold),
                   "passage_id": label.passage_id, "source": label.source, "created_at": label.created_at,
                   "created_by": label.created_by, "item": label.item}

    def import_records(self, records: Iterable[dict]) -> int:
        labels = [Label(r["id"], r["question"], r["kind"], tuple(r["gold"]), r["passage_id"], r["source"],
                        r["created_at"], r["created_by"], r["item"]) for r in records]
        self.put(labels)
        return len(labels)

    def wait_for_change(self, revision: int, timeout: float) -> int:
        """Block until the revision differs from `revision` or `timeout` seconds pass; the revision either
        way. What a serving process calls in a loop (a backend with notifications overrides this poll)."""
        deadline = time.monotonic() + timeout
        while True:
            current = self.revision()
            left = deadline - time.monotonic()
            if current != revision or left <= 0:
                return current
            time.sleep(min(0.25, left))

    def close(self) -> None:
        pass


class CalibrationStore(Portable):
    """The no-answer model (kb/answer/calibration.py) `kb calibrate` fitted, the same for every process; None
    until one is stored (the shipped model, kb/resources/calibration.json, is used then). Exported as the
    model's dict, when there is one."""

    where: str

    @abstractmethod
    def get(self) -> dict | None:
        """The stored model: {"bias", "weights": {signal: weight}, ...}."""

    @abstractmethod
    def put(self, model: dict) -> None:
        """Replace the stored model (whole: a reader sees the old one or the new)."""

    @abstractmethod
    def clear(self) -> bool:
        """Forget the stored model (back to the shipped one); False when there was none."""

    def count(self) -> int:
        return 0 if self.get() is None else 1

    def export_records(self) -> Iterator[dict]:
        model = self.get()
        if model is not None:
            yield model

    def import_records(self, records: Iterable[dict]) -> int:
        n = 0
        for model in records:
            self.put(model)
            n += 1
        return n

    def close(self) -> None:
        pass
