"""Export a sentence-transformers folder (BERT + mean pooling + normalise) to ONNX, once, at setup.

The graph takes `input_ids` and `attention_mask` (batch x tokens, both dynamic) and returns the
L2-normalised mean-pooled embedding, so kb/encoders/onnx_engine.py needs nothing but ONNX Runtime and
`tokenizers` at run time (no torch import: fast start, small memory). The export is deterministic
(torch's TorchScript-based exporter; same bytes twice) and is skipped when `onnx/export.json` records
an export of the same weights by this exporter version. An int8 copy (dynamic quantisation of most MatMuls,
see `_quantize_int8`) is written beside it for KB_ENCODER_ENGINE=onnx-int8, and the fp32 graph's body
without its word-embedding table (`_body_graph`) for OpenVINO (kb/encoders/openvino_engine.py).
"""
from __future__ import annotations

import json
from pathlib import Path

from ingest.model_convert import file_sha256
from kb.encoders.exported import DATA_SUFFIX, EXPORT_RECORD, FILES, ONNX_DIR, TOKENIZER_CACHE
from kb.encoders.onnx_engine import onnx_model_path
from kb.encoders.openvino_engine import BODY, BODY_INPUT, openvino_body
from kb.folders import written_in_place

EXPORTER_VERSION = 5  # 2: int8 keeps FFN output MatMuls + embeddings fp32; 3: weights in external files;
# 4: the body graph for OpenVINO; 5: the parsed tokenizer vocabulary (kb/unigram.py write_cache)
OPSET = 17


def _check_architecture(model_dir: Path) -> None:
    """Only what the graph computes: a Transformer, mean pooling, normalisation."""
    modules = json.loads((model_dir / "modules.json").read_text())
    kinds = [m["type"].rsplit(".", 1)[-1] for m in modules]
    pooling = json.loads((model_dir / "1_Pooling" / "config.json").read_text())
    if kinds != ["Transformer", "Pooling", "Normalize"] or not pooling.get("pooling_mode_mean_tokens") \
            or any(v for k, v in pooling.items() if k.startswith("pooling_mode_") and k != "pooling_mode_mean_tokens"):
        raise ValueError(f"{model_dir}: ONNX export supports Transformer + mean pooling + Normalize only "
                         f"(found {kinds}, pooling {pooling})")


def _export_fp32(model_dir: Path, dest: Path) -> None:
    import torch
    from sentence_transformers import SentenceTransformer

    st = SentenceTransformer(str(model_dir), device="cpu")
    bert = st[0].auto_model.eval()

    class Embed(torch.nn.Module):
        def __init__(self, bert):
            super().__init__()
            self.bert = bert

        def forward(self, input_ids, attention_mask):
            hidden = self.bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, dim=-1)

    sample = st.tokenizer(["query: 你好", "passage: 客户服务"], return_tensors="pt", padding=True)
    with torch.inference_mode():
        torch.onnx.export(Embed(bert), (sample["input_ids"], sample["attention_mask"]), str(dest),
                          input_names=["input_ids", "attention_mask"], output_names=["embedding"],
                          opset_version=OPSET, dynamo=False,
                          dynamic_axes={"input_ids": {0: "batch", 1: "tokens"},
                                        "attention_mask": {0: "batch", 1: "tokens"},
                                        "embedding": {0: "batch"}})


def _fp32_matmuls(fp32: Path, keep) -> list[str]:
    import onnx

    graph = onnx.load(str(fp32), load_external_data=False).graph
    return [n.name for n in graph.node if n.op_type == "MatMul" and keep(n.name)]


def _quantize_int8(fp32: Path, dest: Path) -> None:
    """int8 weights (per output channel) and activations (per tensor, per batch) for the MatMuls, except
    each layer's second FFN MatMul, whose input (GELU output, a few large channels) loses most under one
    activation scale; embeddings stay fp32 (quantising the Gather only adds dequantisation work).

    Measured on 600 bench questions against the fp32 graph (docs/changelog.md, 2026-12-02): quantising every
    MatMul and the embeddings gave query cosine 0.997 (min 0.995) and the same top answer for 91 % of
    questions; this choice gives 0.9991 (min 0.998) and 96 %, at 1.6x the fp32 batch throughput instead
    of 2x."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    ffn2 = _fp32_matmuls(fp32, lambda name: "/output/dense/" in name and "/attention/" not in name)
    quantize_dynamic(str(fp32), str(dest), weight_type=QuantType.QInt8, per_channel=True,
                     op_types_to_quantize=["MatMul"], nodes_to_exclude=ffn2)


def _with_external_weights(src: Path, dest: Path) -> list[Path]:
    """dest (the graph) + dest.data (its tensors over 1 MiB) from the one-file graph src.

    ONNX Runtime memory-maps external weights instead of copying them into the process: measured, one
    session holds 153 MB instead of 521 and loads in 0.25 s instead of 1.1 (the 250k-row table stays on disk
    except for the rows questions touch); outputs are bit-identical."""
    import onnx

    model = onnx.load(str(src))
    onnx.save_model(model, str(dest), save_as_external_data=True, all_tensors_to_one_file=True,
                    location=dest.name + DATA_SUFFIX, size_threshold=1 << 20)
    return [dest, dest.with_name(dest.name + DATA_SUFFIX)]


def _body_graph(fp32: Path, dest: Path) -> dict:
    """dest: the fp32 graph from the word-embedding lookup on (input `token_embeddings`, batch x tokens x
    hidden, plus `attention_mask`); returns where the table lies in fp32's weights file.

    OpenVINO reads every page of the weights it is given and keeps a converted copy: with the 250k-row
    table in the graph one compiled model cost 520 MB of file pages + 120 MB anonymous (measured). The
    run time reads the rows a batch uses from the table itself (kb/encoders/openvino_engine.py `TokenTable`), so
    nothing of it stays in the process. The table's Gather becomes an Identity from the new input, and the
    shapes taken of `input_ids` are taken of `attention_mask` (the same shape)."""
    import onnx
    from onnx import TensorProto, helper

    model = onnx.load(str(fp32), load_external_data=False)
    graph = model.graph
    gather = next(n for n in graph.node if n.op_type == "Gather" and n.input[1:] == ["input_ids"])
    table = next(t for t in graph.initializer if t.name == gather.input[0])
    external = {e.key: e.value for e in table.external_data}
    if table.data_type != TensorProto.FLOAT or len(table.dims) != 2 or "location" not in external:
        raise ValueError(f"{fp32}: the word-embedding table is not an external 2-d float tensor")
    for node in graph.node:
        if node is not gather and "input_ids" in node.input:
            if node.op_type != "Shape":
                raise ValueError(f"{fp32}: input_ids feeds {node.op_type} {node.name}, not only the lookup")
            node.input[0] = "attention_mask"
    at = list(graph.node).index(gather)
    graph.node.remove(gather)
    graph.node.insert(at, helper.make_node("Identity", [BODY_INPUT], list(gather.output), name=BODY_INPUT))
    graph.initializer.remove(table)
    graph.input.remove(next(i for i in graph.input if i.name == "input_ids"))
    graph.input.insert(0, helper.make_tensor_value_info(BODY_INPUT, TensorProto.FLOAT,
                                                        ["batch", "tokens", int(table.dims[1])]))
    onnx.external_data_helper.load_external_data_for_model(model, str(fp32.parent))
    onnx.save_model(model, str(dest), save_as_external_data=True, all_tensors_to_one_file=True,
                    location=dest.name + DATA_SUFFIX, size_threshold=1 << 20)
    return {"file": external["location"], "offset": int(external.get("offset", 0)),
            "shape": [int(d) for d in table.dims], "dtype": "float32"}


def _tokenizer_cache(model_dir: Path, dest: Path) -> None:
    """The Unigram vocabulary parsed once (~1 s less in every process that loads the model); checked against
    tokenizer.json's bytes at each load, so it is not part of the export record."""
    from kb.unigram import write_cache

    if write_cache(model_dir / "tokenizer.json", dest):  # False: not a Unigram vocabulary, nothing to cache
        dest.chmod(0o644)


def is_exported(model_dir: Path) -> bool:
    """Current: written by this exporter version, and every graph valid for these weights."""
    try:
        meta = json.loads((Path(model_dir) / ONNX_DIR / EXPORT_RECORD).read_text())
    except (OSError, ValueError):
        return False
    return (meta.get("exporter_version") == EXPORTER_VERSION
            and all(onnx_model_path(model_dir, precision) is not None for precision in FILES)
            and openvino_body(model_dir) is not None)


def export_onnx(model_dir: Path, force: bool = False) -> Path:
    """Write `<model_dir>/onnx/` (fp32 + int8 graphs, the body graph, export.json); returns the folder.

    Built in a temporary sibling and renamed into place, so an interrupted export leaves no half folder."""
    model_dir = Path(model_dir).resolve()
    out = model_dir / ONNX_DIR
    if not force and is_exported(model_dir):
        return out
    _check_architecture(model_dir)
    weights = model_dir / "model.safetensors"
    with written_in_place(out) as tmp:
        scratch = {"fp32": tmp / "scratch.fp32.onnx", "int8": tmp / "scratch.int8.onnx"}
        _export_fp32(model_dir, scratch["fp32"])
        _quantize_int8(scratch["fp32"], scratch["int8"])
        export_sha = file_sha256(scratch["fp32"])
        published = []
        for precision, src in scratch.items():
            published += _with_external_weights(src, tmp / FILES[precision])
            src.unlink()
        table = _body_graph(tmp / FILES["fp32"], tmp / BODY)
        _tokenizer_cache(model_dir, tmp / TOKENIZER_CACHE)
        published += [tmp / BODY, tmp / (BODY + DATA_SUFFIX)]
        for leftover in tmp.glob("*-opt.onnx"):  # the quantiser's pre-processing scratch file
            leftover.unlink()
        record = {"exporter_version": EXPORTER_VERSION, "opset": OPSET, "weights_size": weights.stat().st_size,
                  "weights_sha256": file_sha256(weights), "export_sha256": export_sha,
                  "files": dict(FILES), "body": BODY, "token_embeddings": table,
                  "sha256": {f.name: file_sha256(f) for f in published}}
        (tmp / EXPORT_RECORD).write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")
        for f in published:
            f.chmod(0o644)  # onnx writes the weights file 0600
    return out
