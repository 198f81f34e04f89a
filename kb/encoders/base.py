"""What every embedding engine offers the `Encoder`: L2-normalised vectors for a list of texts, token
counts, and the capabilities it declares (how many concurrent single-threaded lanes it runs)."""
from __future__ import annotations

import numpy as np


class EncoderBackend:
    name: str = ""
    dim: int = 0
    precision: str = "fp32"  # what the engine computes in (OpenVINO: "bf16" on CPUs that have it)
    # Concurrent single-threaded workers the engine supports (`encode_lane`); 1 = one caller at a time on all
    # cores, batches formed by the `Encoder`'s single worker.
    lanes: int = 1
    lane_run: int = 8  # at most this many questions a lane encodes at once

    def encode(self, texts: list[str], is_query: bool) -> np.ndarray:
        """(len(texts), dim) float32 L2-normalised vectors, in input order; on every core."""
        raise NotImplementedError

    def encode_lane(self, texts: list[str], is_query: bool) -> np.ndarray:
        """As `encode`, on the calling thread alone: for engines with lanes > 1."""
        raise NotImplementedError(f"{self.name} has no lanes")

    def token_count(self, text: str, is_query: bool = True) -> int:
        """Tokens of prompt + text, incl. special tokens, not truncated."""
        raise NotImplementedError
