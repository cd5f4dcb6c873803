"""The ``onnx`` processor: an ONNX image model run with ONNX Runtime.

``options`` holds what users configure, ``session`` opens models and runs
them, ``fitting`` puts frames into the input tensor, ``decoders`` turns model
outputs into inferences, and ``processor`` ties them into a Processor. The
model server (lva_extension.models) builds on the same parts. ONNX Runtime
itself is imported only when a model is loaded.
"""

from .options import OnnxOptions
from .processor import OnnxProcessor

__all__ = ["OnnxOptions", "OnnxProcessor"]
