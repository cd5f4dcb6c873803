"""The ``onnx`` processor: an ONNX image model run with ONNX Runtime.

``processor`` holds the options and the batch loop, ``decoders`` turns model
outputs into inferences; frames are fitted with ``lva_extension.frames.resize``.
ONNX Runtime itself is imported only when a model is loaded.
"""

from .processor import OnnxOptions, OnnxProcessor

__all__ = ["OnnxOptions", "OnnxProcessor"]
