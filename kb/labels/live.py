"""The keys a serving process answers with (kb/labels/keys.py), kept up to date with the label store.

A thread of its own waits for the store's revision to change (`LabelStore.wait_for_change`: the embedded
store polls it four times a second) and then builds new keys: only labels it has not seen are encoded (one
question encode each), only new gold phrases are resolved, and the new keys replace the old ones in one
assignment. Answers read `keys` once per question, so the question path never waits for any of it. Every
worker process does the same, so an editor's fix reaches all of them within about a second.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import numpy as np

from kb.labels.keys import Keys, LabelRules, build_keys
from kb.labels.reference import text_key
from kb.labels.resolve import PassageMatcher
from kb.state import LabelStore

log = logging.getLogger(__name__)

WATCH_SECONDS = 0.5  # the longest a wait for a change blocks (and so the longest `close` waits for the thread)
HOOK_SECONDS = 2.0  # without a change of labels, the `after_change` hooks run at most this often


class LiveLabels:
    def __init__(self, store: LabelStore, passages: Callable[[], list], encode: Callable[[list[str]], np.ndarray],
                 dim: int, known: dict[bytes, np.ndarray] | None = None, rules: LabelRules | None = None):
        """passages(): the version's passages (read once, when the first label needs resolving); encode(texts):
        query vectors; known: question-text key -> vector already computed (the version's reference)."""
        self.store = store
        self._passages = passages
        self._matcher: PassageMatcher | None = None
        self._encode = encode
        self._dim = dim
        self._known = dict(known or {})
        self._rules = rules or LabelRules()
        self._after_change: list[Callable[[], None]] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.keys = Keys([], np.zeros((0, dim), np.float32), [], [], -1, self._rules)
        self.refresh()

    def _vectors(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self._dim), dtype=np.float32)
        todo = [i for i, t in enumerate(texts) if text_key(t) not in self._known]
        if todo:
            encoded = self._encode([texts[i] for i in todo])
            for i, vector in zip(todo, encoded):
                self._known[text_key(texts[i])] = vector
        for i, t in enumerate(texts):
            out[i] = self._known[text_key(t)]
        return out

    def refresh(self) -> bool:
        """Build new keys if the store changed since the last build; whether it did."""
        revision = self.store.revision()
        if revision == self.keys.revision:
            return False
        labels = self.store.labels()
        if labels and self._matcher is None:
            self._matcher = PassageMatcher(self._passages())
        matcher = self._matcher or PassageMatcher([])
        self.keys = build_keys(labels, matcher, self._vectors, self._dim, revision, self._rules)
        for hook in self._after_change:
            hook()
        return True

    def after_change(self, hook: Callable[[], None]) -> None:
        """Call `hook` on the watch thread after a change of labels, and every HOOK_SECONDS without one:
        what else a serving process keeps up to date at about the same pace (the fitted no-answer model)."""
        self._after_change.append(hook)

    @property
    def matcher(self) -> PassageMatcher:
        if self._matcher is None:
            self._matcher = PassageMatcher(self._passages())
        return self._matcher

    def start(self) -> None:
        self._thread = threading.Thread(target=self._watch, name="label-watch", daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        hooked = time.monotonic()
        while not self._stop.is_set():
            try:
                self.store.wait_for_change(self.keys.revision, WATCH_SECONDS)
                if self._stop.is_set():
                    return
                if self.refresh():
                    hooked = time.monotonic()
                elif time.monotonic() - hooked >= HOOK_SECONDS:
                    hooked = time.monotonic()
                    for hook in self._after_change:
                        hook()
            except Exception:  # noqa: BLE001 - e.g. the store unreachable for a moment: answers keep the old keys
                log.warning("label refresh failed", exc_info=True)
                self._stop.wait(WATCH_SECONDS)

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2 * WATCH_SECONDS + 5)
