"""Any sentence-transformers model on torch (CPU): the engine for models other than the converted e5-small,
and for that model's passages when it has no ONNX export."""
from __future__ import annotations

import os

import numpy as np

from kb.encoders.base import EncoderBackend


def physical_cores() -> int:
    try:
        import psutil

        return psutil.cpu_count(logical=False) or os.cpu_count() or 1
    except ImportError:
        return os.cpu_count() or 1


class TorchBackend(EncoderBackend):
    name = "torch"

    def __init__(self, name_or_path: str, query_prompt: str, passage_prompt: str, threads: int = 0,
                 batch_size: int = 32):
        import torch
        from sentence_transformers import SentenceTransformer

        torch.set_num_threads(threads or physical_cores())
        self.model = SentenceTransformer(name_or_path, device="cpu")
        self.model.eval()
        self.dim = int(self.model.get_embedding_dimension())
        self.prompts = {True: query_prompt, False: passage_prompt}
        self.batch_size = batch_size

    def encode(self, texts: list[str], is_query: bool) -> np.ndarray:
        import torch

        prompt = self.prompts[is_query]
        with torch.inference_mode():
            vecs = self.model.encode([prompt + t for t in texts], batch_size=self.batch_size,
                                     convert_to_numpy=True, normalize_embeddings=True,
                                     show_progress_bar=False)
        return np.asarray(vecs, dtype=np.float32)

    def token_count(self, text: str, is_query: bool = True) -> int:
        return len(self.model.tokenizer(self.prompts[is_query] + text)["input_ids"])
