"""What a build embeds with: the model it chooses (a tuned one is kept), the encoder that loads on another thread
meanwhile, and the vectors it reuses from the current version or embeds anew."""
from __future__ import annotations

import hashlib
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Callable

import numpy as np

from kb.settings import Settings
from kb.state import VersionRegistry
from kb.version import BuildModel, NoVersionError, VersionFolder, model_for_build

# Progress reports (stage, done, total): load (documents read), embed / embed-sentences (items embedded so
# far, per batch of 64), index (1 dense, 2 BM25, 3 passage store), gate, publish (0 before sealing, 1 sealed,
# 2 moved in place, 3 CURRENT swapped).
Progress = Callable[[str, int, int], None]


def choose_model(settings: Settings, versions: VersionRegistry, tuned_model: str | None = None,
                 base_model: bool = False) -> BuildModel:
    """The model the build embeds with: `tuned_model` (a folder under data_dir/models, `kb tune`), the base
    model (base_model), or by kb/version/model.py's rule the current version's (a tuned model is kept)."""
    from kb.encoders import model_fingerprint

    if tuned_model:
        return BuildModel(str(settings.models_dir / tuned_model), tuned_model)
    current = versions.current_id()
    manifest = None
    if current:
        versions.fetch(current)  # with the tuned model it names (PostgreSQL: from the database)
        manifest = versions.manifest(current)
    return model_for_build(settings, manifest, model_fingerprint(settings.model_name_or_path), base_model)


def usable_encoder(encoder, model: BuildModel):
    """The given encoder if it embeds for the chosen model, else None (the right one loads on demand)."""
    from kb.encoders import encodes_for

    return encoder if encoder is not None and encodes_for(encoder, model.path) else None


def build_model_fingerprint(model: BuildModel, encoder) -> str:
    if encoder is not None:
        return encoder.fingerprint
    from kb.encoders import model_fingerprint

    return model_fingerprint(model.path)


def unit_key(text: str) -> bytes:
    """Cache key of an embedding: the exact text the model sees (the model itself is in the manifest)."""
    return hashlib.sha1(text.encode("utf-8")).digest()


def previous_version(versions: VersionRegistry, model_fp: str) -> VersionFolder | None:
    """The current version, if it was built with the same model: its vectors can be reused."""
    try:
        folder = versions.current_folder()
    except NoVersionError:
        return None
    if versions.manifest(folder.name).model_fingerprint != model_fp:
        return None
    return VersionFolder(folder)


def embed(items: list, todo: list[int], previous: dict, keys: list, inputs: list[str], encoder, dim: int,
           progress: Progress, stage: str, batch: int = 64) -> np.ndarray:
    """Vectors for every item: reused by key where possible, embedded in batches otherwise."""
    vectors = np.zeros((len(items), dim), dtype=np.float32)
    for i, key in enumerate(keys):
        hit = previous.get(key)
        if hit is not None:
            vectors[i] = hit
    todo = sorted(todo, key=lambda i: len(inputs[i]))  # similar lengths together: little padding per batch
    for start in range(0, len(todo), batch):
        progress(stage, start, len(todo))
        rows = todo[start:start + batch]
        vectors[rows] = encoder.encode_passages([inputs[i] for i in rows])
    progress(stage, len(todo), len(todo))
    return vectors


def load_encoder_async(settings: Settings, model: str) -> Future:
    """The passage encoder, loading on its own thread; its error (e.g. no model) surfaces at .result()."""
    from kb.encoders import Encoder

    loader = ThreadPoolExecutor(1, thread_name_prefix="model-load")
    try:
        return loader.submit(Encoder.from_settings, settings, batch_only=True, model=model)
    finally:
        loader.shutdown(wait=False)


def close_loaded(loaded: Future) -> None:
    if loaded.exception() is None:
        loaded.result().close()
