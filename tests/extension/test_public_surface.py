"""The names users import stay where they are: a move inside the package must not break them.

Processor authors import the package face; users of the client library, the
simulator and the benchmark import ``lva_extension.client``; configurations
name the built-in processors and spawned processing processes unpickle their
entry points by module path.
"""

from __future__ import annotations

import importlib
import pickle

import pytest
from lva_extension.frames import FrameFormat
from lva_extension.processors import LoadingRules, ProcessorSpec, known_processors
from lva_extension.processors.registry import resolve_processor_class
from lva_extension.stream import processes

FACES = {
    "lva_extension": ["Frame", "Processor", "__version__", "inferences"],
    "lva_extension.client": [
        "ClientOptions",
        "ExtensionCallError",
        "ExtensionClient",
        "FrameResult",
        "SendableFrame",
        "StreamFormat",
        "StreamSummary",
        "TimedFrame",
    ],
    "lva_extension.processors": [
        "Frame",
        "LoadingRules",
        "Processor",
        "ProcessorSpec",
        "create_processor",
        "known_processors",
        "parse_configuration",
        "resolve_processor_class",
    ],
    "lva_extension.frames": [
        "ENCODED_FORMATS",
        "PIXEL_LAYOUTS",
        "Encoding",
        "FrameFormat",
        "PixelFormat",
        "PixelLayout",
        "decode",
        "encode",
        "encoding_name",
        "parse_format",
        "pixel_format_name",
    ],
    "lva_extension.transports": [
        "EmbeddedTransport",
        "SharedMemoryLimits",
        "SharedMemoryTransport",
        "Transport",
        "open_transport",
        "transfer_kind",
    ],
    "lva_extension.server": ["ExtensionServer", "serve"],
    "lva_extension.processors.onnx": ["OnnxOptions", "OnnxProcessor"],
}


@pytest.mark.parametrize(("module", "names"), FACES.items())
def test_each_face_exports_exactly_its_names(module, names):
    face = importlib.import_module(module)
    assert sorted(face.__all__) == sorted(names)
    for name in names:
        assert getattr(face, name) is not None


def test_processor_authors_import_from_the_package_and_from_processors_base():
    import lva_extension
    from lva_extension.processors import base

    assert lva_extension.Frame is base.Frame
    assert lva_extension.Processor is base.Processor
    assert callable(lva_extension.inferences.classification)
    assert callable(lva_extension.inferences.entity)


@pytest.mark.parametrize("name", ["colorIntensity", "motion", "onnx"])
def test_every_built_in_processor_resolves_by_name(name):
    assert name in known_processors()
    assert resolve_processor_class(name, LoadingRules()).__name__


def test_processing_process_entry_points_pickle_by_their_module_path():
    # A spawned child imports these by name: they must live where pickle says.
    for function in (processes._open, processes._run, processes._close):
        assert pickle.loads(pickle.dumps(function)) is function
    spec = ProcessorSpec("colorIntensity", {"threshold": 90})
    fmt = FrameFormat(3, 60, 4, 2, 12)
    assert pickle.loads(pickle.dumps((spec, fmt))) == (spec, fmt)
    assert "lva_extension.stream.processes" in pickle.dumps(processes._run).decode("latin-1")
