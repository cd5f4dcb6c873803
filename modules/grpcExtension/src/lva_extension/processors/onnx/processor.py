"""The ``onnx`` processor: one ONNX image model, configured on the server.

    defaultProcessor={"processor": "onnx", "model": "yolov8n.onnx", "decoder": "yolo",
                      "labelsFile": "coco.names", "resize": "letterbox"}

The files are names in the model directory (``modelDir``, read through files.py).
Frames are fitted into the model's input (fitting.py), run through ONNX
Runtime in real batches when the model has a batch dimension (session.py),
and the output is decoded (decoders.py). Files and resources are the
operator's: a stream may refine the options (``{"topK": 3}``) but never name
a model, a labels file, providers or threads. Every stream of the same model
file shares one InferenceSession (thread-safe), loaded once per process; a
changed file is reloaded by the next stream that asks for it. Models served
by name, with batching across streams, are lva_extension.models.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import Any

from ... import files
from ...errors import InvalidArgument, shorten
from ...proto.inferencing_pb2 import Inference
from ..base import Frame, Processor
from .fitting import Fitter
from .options import OnnxOptions
from .session import (
    model_input,
    onnxruntime,
    open_session,
    output_name,
    provider_names,
    resolve_providers,
    run_frames,
)

log = logging.getLogger(__name__)

_sessions: dict[tuple[str, str, int], tuple[tuple[int, int], Any]] = {}
_sessions_lock = threading.Lock()


def shared_session(model: str, providers: Sequence[Any] | None, threads: int) -> Any:
    """The process's InferenceSession for this model file, loading it if needed.

    The file comes from the model directory (files.py), and ONNX Runtime gets its
    bytes, not its name: the name is not looked up twice.
    """
    onnxruntime()
    chosen = resolve_providers(providers)
    with files.current().open(model, "model") as opened:
        key = (str(opened.path), repr(chosen), threads)
        with _sessions_lock:
            cached = _sessions.get(key)
            if cached is not None and cached[0] == opened.stamp:
                return cached[1]
            try:
                session = open_session(opened.read(), chosen, threads)
            except Exception as error:  # onnxruntime raises its own types, all "cannot load"
                # Its message may quote the file: the log has it, the client does not.
                log.warning("cannot load ONNX model %s: %s", opened.path, error)
                raise InvalidArgument(
                    f"model: cannot load {shorten(repr(model))}: not an ONNX model this"
                    " ONNX Runtime can run (see the server log)"
                ) from None
            _sessions[key] = (opened.stamp, session)
    log.info("loaded ONNX model %s (providers %s)", opened.path, ", ".join(provider_names(chosen)))
    return session


class OnnxProcessor(Processor):
    """Runs an ONNX image model on every frame and decodes its output."""

    thread_safe = True
    operator_options = frozenset({"model", "labelsFile", "providers", "threads"})

    def __init__(self, **options: Any) -> None:
        self.options = OnnxOptions.parse(options)
        self.decoder = self.options.make_decoder()
        self.session = shared_session(
            self.options.model, self.options.providers, self.options.threads
        )
        self.input = model_input(self.session, self.options.layout, self.options.input_size)
        self.output_name = output_name(
            self.session, self.options.output, self.decoder, self.input.batched
        )
        self.fitter = Fitter(self.input, self.options)

    def process(self, frames: Sequence[Frame]) -> list[list[Inference]]:
        tensor = self.fitter.allocate(len(frames))
        placements = [
            self.fitter.fit_into(frame.image, slot)
            for frame, slot in zip(frames, tensor, strict=True)
        ]
        outputs = run_frames(self.session, self.input, self.output_name, tensor, len(frames))
        return [
            self.decoder.decode(output, where)
            for output, where in zip(outputs, placements, strict=True)
        ]
