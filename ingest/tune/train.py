"""The training loop: sentence-transformers' model and MultipleNegativesRankingLoss driven by a plain torch
loop (SentenceTransformerTrainer needs `datasets` and `accelerate`, which the product does not ship).

On the CPU only, with a fixed thread count and the seed fixing dropout and the batch order, so the same
labels, seed and thread count give bit-identical weights. torch's random state and thread count are the
process's: both are put back afterwards (the service trains on a job thread beside its own work).
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from ingest.tune.pairs import Pair, step_plan
from ingest.tune.recipe import Recipe

StepProgress = Callable[[int, int], None]  # (steps done, steps in all)


@dataclass
class Trained:
    model: object  # a SentenceTransformer on the CPU, in eval mode, its own max_seq_length restored
    pairs: int
    steps: int
    loss_first: float  # mean loss of the first 3 steps
    loss_last: float  # of the last 3
    seconds: float


def _optimizer(model, recipe: Recipe):
    import torch

    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    plain = [p for n, p in named if "bias" in n or "LayerNorm" in n]  # no weight decay on these
    decayed = [p for n, p in named if not ("bias" in n or "LayerNorm" in n)]
    return torch.optim.AdamW([{"params": decayed, "weight_decay": recipe.weight_decay},
                              {"params": plain, "weight_decay": 0.0}], lr=recipe.lr)


def train(base: str, pairs: list[Pair], passages: list[str], recipe: Recipe, seed: int, threads: int,
          prompts: tuple[str, str], progress: StepProgress | None = None) -> Trained:
    """A model tuned from the sentence-transformers folder `base` on `pairs` (rows index `passages`, the
    texts the KB embeds). prompts: (query, passage) prefixes, as the KB encodes."""
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss
    from transformers import get_linear_schedule_with_warmup
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # "Loading weights" at every fold: the caller reports progress

    if not pairs:
        raise ValueError("没有可训练的标注 / no labels to train on")
    progress = progress or (lambda done, total: None)
    query, passage = prompts
    t0 = time.perf_counter()
    threads_before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = SentenceTransformer(base, device="cpu")
            own_length = model.max_seq_length
            model.max_seq_length = recipe.max_seq_length
            if recipe.freeze_word_embeddings:
                model[0].auto_model.embeddings.word_embeddings.weight.requires_grad_(False)
            loss_fn = MultipleNegativesRankingLoss(model, scale=recipe.scale)
            optimizer = _optimizer(model, recipe)
            plan = step_plan(pairs, recipe.batch, recipe.epochs, seed)
            schedule = get_linear_schedule_with_warmup(optimizer, int(recipe.warmup * len(plan)), len(plan))
            model.train()
            losses: list[float] = []
            progress(0, len(plan))
            for step, batch in enumerate(plan, 1):
                chosen = [pairs[i] for i in batch]
                columns = [[query + p.question for p in chosen], [passage + passages[p.positive] for p in chosen]]
                columns += [[passage + passages[p.negatives[j]] for p in chosen] for j in range(recipe.negatives)]
                loss = loss_fn([model.preprocess(c) for c in columns], None)
                loss.backward()
                optimizer.step()
                schedule.step()
                optimizer.zero_grad()
                losses.append(float(loss.detach()))
                progress(step, len(plan))
            model.max_seq_length = own_length
            model.eval()
    finally:
        torch.set_num_threads(threads_before)
    return Trained(model, len(pairs), len(plan), round(sum(losses[:3]) / len(losses[:3]), 4),
                   round(sum(losses[-3:]) / len(losses[-3:]), 4), round(time.perf_counter() - t0, 1))


def release_memory() -> None:
    """Hand what a dropped model held back to the system (glibc keeps freed memory otherwise): the service
    process that ran a tune job would stay gigabytes larger."""
    import ctypes
    import gc

    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: nothing to hand back this way
        pass
