"""The reference questions a version is built with: every label's question, encoded as a question.

They serve twice: the version's hub scores are measured against them (kb.search.question_hub_scores, when
there are at least QUESTION_HUB_K), and their vectors are the label keys' vectors, so opening a version
encodes only the labels added since it was built. The corpus fingerprint includes them (`fingerprint`):
a change of labels makes the version stale for `kb ingest`.
"""
from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from kb.labels.keys import key_text
from kb.labels.model import Label

KEY_BYTES = 20


def text_key(text: str) -> bytes:
    """A question text's vector key; distinct from a passage's (kb/version: sha1 of the passage input)."""
    return hashlib.sha1(("query\x1f" + text).encode("utf-8")).digest()


@dataclass
class Reference:
    texts: list[str]  # key_text of each distinct label question, sorted
    vectors: np.ndarray  # (len(texts), dim) float32

    @property
    def keys(self) -> list[bytes]:
        return [text_key(t) for t in self.texts]


def reference_texts(labels: list[Label]) -> list[str]:
    return sorted({key_text(label.question) for label in labels})


def fingerprint(texts: list[str]) -> str:
    h = hashlib.sha256()
    for t in texts:
        h.update(t.encode("utf-8") + b"\n")
    return h.hexdigest()


def build_reference(texts: list[str], known: dict[bytes, np.ndarray],
                    encode: Callable[[list[str]], np.ndarray], dim: int) -> Reference:
    """Vectors for the texts: reused from `known` (the previous version's) by key, the rest encoded."""
    vectors = np.zeros((len(texts), dim), dtype=np.float32)
    todo = []
    for i, t in enumerate(texts):
        hit = known.get(text_key(t))
        if hit is None:
            todo.append(i)
        else:
            vectors[i] = hit
    if todo:
        vectors[todo] = encode([texts[i] for i in todo])
    return Reference(texts, vectors)
