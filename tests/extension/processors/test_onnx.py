"""The onnx processor, with tiny models built with the onnx package (tests/support/onnx_models).

Tags, boxes and their order must match exactly; confidences to TOLERANCE.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import grpc
import numpy as np
import pytest
from lva_extension.client import ClientOptions, ExtensionCallError, StreamFormat
from lva_extension.errors import InvalidArgument, NotFound
from lva_extension.files import FileRoom
from lva_extension.frames.resize import fit
from lva_extension.processors import LoadingRules, ProcessorSpec, create_processor
from lva_extension.processors.base import Frame
from lva_extension.processors.onnx import OnnxProcessor
from lva_extension.processors.onnx.decoders import YoloDecoder, class_nms

from tests.support.onnx_models import (
    BOX_CLASS,
    BOX_WEIGHT,
    BOXES,
    COLOURS,
    LABELS,
    TOLERANCE,
    assert_classes,
    classes_of,
    classifier,
    detector,
    expected_classes,
    flat_input,
    softmax,
    solid,
    unbatched_classifier,
)
from tests.support.streams import descriptor, raw_call, run_client


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    folder = tmp_path_factory.mktemp("models")
    (folder / "labels.txt").write_text("red\ngreen\nblue\n\n")
    (folder / "garbage.onnx").write_bytes(b"not a model")
    return {
        "classifier": classifier(folder / "classifier.onnx"),
        "nhwc": classifier(folder / "nhwc.onnx", ["N", 32, 32, 3], nhwc=True),
        "batch1": classifier(folder / "batch1.onnx", [1, 3, 32, 32]),
        "batch2": classifier(folder / "batch2.onnx", [2, 3, 32, 32]),
        "unbatched": unbatched_classifier(folder / "unbatched.onnx"),
        "detector": detector(folder / "detector.onnx"),
        "dynamic": detector(folder / "dynamic.onnx", size="S"),
        "flat": flat_input(folder / "flat.onnx"),
        "labels": str(folder / "labels.txt"),
        "garbage": str(folder / "garbage.onnx"),
    }


def model_dir(models: dict[str, str]) -> str:
    """The folder of the test models: the servers' model directory (modelDir)."""
    return str(Path(models["classifier"]).parent)


# --- expectations, computed from the models' definitions ------------------------


def expected_detections(
    means: tuple[float, float, float], to_frame, threshold: float = 0.25
) -> list[tuple[str, tuple[float, float, float, float], float]]:
    """What the detector must report for channel means (0..1) of its input."""
    found = []
    for box, cls, weight in zip(BOXES, BOX_CLASS, BOX_WEIGHT, strict=True):
        score = means[cls] * weight
        if score >= threshold:
            found.append((LABELS[cls], box, score))
    found.sort(key=lambda d: -d[2])
    kept: list[tuple[str, tuple[int, int, int, int], float]] = []
    for label, box, score in found:
        if label == "red" and box == BOXES[1] and any(k[1] == BOXES[0] for k in kept):
            continue  # same class, IoU with box 0 is 0.78: suppressed
        kept.append((label, box, score))
    return [(label, to_frame(box), score) for label, box, score in kept]


def detections_of(inferences) -> list[tuple[str, tuple[float, float, float, float], float]]:
    out = []
    for i in inferences:
        box = i.entity.box
        out.append((i.entity.tag.value, (box.l, box.t, box.w, box.h), i.entity.tag.confidence))
    return out


def assert_detections(got, expected) -> None:
    assert [(tag, box) for tag, box, _ in got] == [(tag, box) for tag, box, _ in expected]
    for (*_, confidence), (*_, wanted) in zip(got, expected, strict=True):
        assert abs(confidence - wanted) <= TOLERANCE


def stretch_box(box):
    """Stretched to 64 x 64, any frame: a fraction of the frame is input pixels / 64."""
    cx, cy, w, h = box
    return tuple(np.float32(v / 64) for v in (cx - w / 2, cy - h / 2, w, h))


def letterbox_box_128x64(box):
    """A 128 x 64 frame in a 64 x 64 input: scale 1/2, 16 rows of padding above and below."""
    cx, cy, w, h = box
    x1, x2 = (cx - w / 2) / 64, (cx + w / 2) / 64
    y1 = min(max((cy - h / 2 - 16) / 32, 0), 1)
    y2 = min(max((cy + h / 2 - 16) / 32, 0), 1)
    return tuple(np.float32(v) for v in (x1, y1, x2 - x1, y2 - y1))


# --- through the server -----------------------------------------------------------
# Files are the server's: the operator names the model in defaultProcessor, and a
# stream refines the options (a stream never names a file; see also test_repository).


def onnx_default(**options) -> str:
    return json.dumps({"processor": "onnx", **options})


@pytest.mark.parametrize("batch_size", [1, 4])
@pytest.mark.parametrize("shared_memory", [False, True], ids=["embedded", "shm"])
def test_classifier_through_the_server(start_server, models, batch_size, shared_memory):
    running = start_server(
        batch_size=batch_size,
        default_processor=onnx_default(model=models["classifier"]),
        model_dir=model_dir(models),
    )
    frames = [solid(c) for c in COLOURS] * 2
    options = ClientOptions(
        running.address,
        StreamFormat("raw", "rgb24", 64, 48, stride_padding=3),
        shared_memory=shared_memory,
        extension_configuration=json.dumps({"labels": LABELS, "topK": 3}),
    )
    results, summary = run_client(options, frames)

    assert not summary.violations
    assert summary.frames_acknowledged == len(frames)
    for result in sorted(results, key=lambda r: r.sequence):
        colour = COLOURS[(result.sequence - 2) % len(COLOURS)]
        assert_classes(classes_of(result.inferences), expected_classes(colour))
        assert all(i.type == i.CLASSIFICATION for i in result.inferences)


@pytest.mark.parametrize("batch_size", [1, 4])
@pytest.mark.parametrize("shared_memory", [False, True], ids=["embedded", "shm"])
@pytest.mark.parametrize("resize", ["stretch", "letterbox"])
def test_detector_through_the_server(start_server, models, batch_size, shared_memory, resize):
    default = onnx_default(model=models["detector"], labelsFile=models["labels"], decoder="yolo")
    running = start_server(
        batch_size=batch_size, default_processor=default, model_dir=model_dir(models)
    )
    width, height = (128, 96) if resize == "stretch" else (128, 64)
    frames = [solid(c, width, height) for c in COLOURS] * 2
    options = ClientOptions(
        running.address,
        StreamFormat("raw", "bgr24", width, height),
        shared_memory=shared_memory,
        extension_configuration=json.dumps({"resize": resize, "subtype": "objects"}),
    )
    results, summary = run_client(options, frames)

    assert not summary.violations
    assert summary.frames_acknowledged == len(frames)
    for result in results:
        colour = np.array(COLOURS[(result.sequence - 2) % len(COLOURS)]) / 255
        if resize == "stretch":
            means, to_frame = colour, stretch_box
        else:  # half of the input is the grey padding (114)
            means, to_frame = (colour + 114 / 255) / 2, letterbox_box_128x64
        assert_detections(detections_of(result.inferences), expected_detections(means, to_frame))
        assert all(i.type == i.ENTITY and i.subtype == "objects" for i in result.inferences)


def test_options_from_the_default_processor_setting(start_server, models):
    default = json.dumps({"processor": "onnx", "model": models["classifier"], "labels": LABELS})
    running = start_server(default_processor=default, model_dir=model_dir(models))
    frames = [solid(COLOURS[0])]

    plain, _ = run_client(ClientOptions(running.address, StreamFormat(width=64, height=48)), frames)
    refined, _ = run_client(
        ClientOptions(
            running.address,
            StreamFormat(width=64, height=48),
            extension_configuration='{"topK": 2}',
        ),
        frames,
    )

    assert_classes(classes_of(plain[0].inferences), expected_classes(COLOURS[0], top_k=1))
    assert_classes(classes_of(refined[0].inferences), expected_classes(COLOURS[0], top_k=2))


@pytest.mark.parametrize(
    "stream_options",
    [
        {"model": "/etc/passwd"},
        {"labelsFile": "/dev/zero"},
        {"model": "classifier", "providers": ["CPU"]},
        {"threads": 64},
    ],
)
def test_a_stream_cannot_name_a_file_or_take_resources(start_server, models, stream_options):
    running = start_server(
        default_processor=onnx_default(model=models["classifier"]), model_dir=model_dir(models)
    )
    configuration = json.dumps({"processor": "onnx", **stream_options})

    outcome = raw_call(running.address, [descriptor(configuration=configuration)])

    assert outcome.code == grpc.StatusCode.INVALID_ARGUMENT
    assert not outcome.responses
    refused = sorted(set(stream_options) & {"model", "labelsFile", "providers", "threads"})
    assert f"a stream cannot set {', '.join(refused)} of processor 'onnx'" in outcome.details
    assert '{"model": NAME}' in outcome.details


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"model": "nonexistent.onnx"}, "'nonexistent.onnx' not found in the model directory"),
        ({"model": "garbage"}, "cannot load .*: not an ONNX model"),
        ({"model": "flat"}, r"expected an image tensor .* got shape \['N', 10\]"),
        ({"model": "classifier", "layout": "NHWC"}, "the channel dimension must be 3, got 32"),
        (
            {"model": "classifier", "decoder": "ssd"},
            "decoder: expected one of classification, yolo",
        ),
        ({"model": "classifier", "inputSize": [64, 64]}, r"inputSize \[64, 64\] does not match"),
        ({"model": "dynamic", "decoder": "yolo"}, 'give "inputSize"'),
        ({"model": "classifier", "labels": ["a", "b"]}, "scores 3 classes, but 2 labels"),
        (
            {"model": "detector", "decoder": "yolo", "labels": ["a"]},
            r"no axis of 5 \(v8\) or 6 \(v5\) attributes",
        ),
        ({"model": "classifier", "iouThreshold": 0.5}, "applies to the yolo decoder"),
        ({"model": "classifier", "modle": "x"}, "unknown option"),
        (
            {"model": "classifier", "labelsFile": "/nonexistent/labels"},
            "labelsFile: '/nonexistent/labels' not found in the model directory",
        ),
        ({"model": "classifier", "resize": "crop"}, "resize: expected one of stretch, letterbox"),
        ({"model": "classifier", "providers": ["CUDA"]}, "CUDAExecutionProvider is not in this"),
        ({}, "model: expected the name of an .onnx file in the model directory"),
    ],
)
def test_bad_configurations_are_refused_with_the_reason(models, options, message):
    if "model" in options:
        options["model"] = models.get(options["model"], options["model"])

    rules = LoadingRules(models=FileRoom(model_dir(models), 1 << 30, 60))
    with pytest.raises((InvalidArgument, NotFound)) as refused:
        create_processor(ProcessorSpec("onnx", options), rules)

    assert re.search(message, refused.value.message), refused.value.message


def test_the_client_sees_the_reason(start_server, models):
    running = start_server(
        default_processor=onnx_default(model=models["classifier"]), model_dir=model_dir(models)
    )
    options = ClientOptions(running.address, extension_configuration='{"topK": 0}')
    with pytest.raises(
        ExtensionCallError, match=r"topK: expected an integer of at least 1"
    ) as raised:
        run_client(options, [solid((0, 0, 0), 416, 416)])
    assert raised.value.code == grpc.StatusCode.INVALID_ARGUMENT


# --- in-process: layouts, batching, sessions --------------------------------------


class CountingSession:
    """Wraps an InferenceSession and records the input shape of every run."""

    def __init__(self, session) -> None:
        self.session = session
        self.shapes: list[tuple[int, ...]] = []

    def run(self, names, feeds):
        (tensor,) = feeds.values()
        self.shapes.append(tensor.shape)
        return self.session.run(names, feeds)


def onnx_processor(**options) -> OnnxProcessor:
    """The processor for these options, with the folder of its model as the model directory."""
    room = FileRoom(str(Path(options["model"]).parent), 1 << 30, 60)
    processor = create_processor(ProcessorSpec("onnx", options), LoadingRules(models=room))
    assert isinstance(processor, OnnxProcessor)
    return processor


def frames_of(colours, width: int = 64, height: int = 48) -> list[Frame]:
    return [Frame(solid(c, width, height), i) for i, c in enumerate(colours)]


@pytest.mark.parametrize(
    ("model", "frame_count", "runs"),
    [
        ("classifier", 5, [(5, 3, 32, 32)]),  # a dynamic batch: all frames at once
        ("batch1", 3, [(1, 3, 32, 32)] * 3),
        ("batch2", 3, [(2, 3, 32, 32)] * 2),  # the last batch is padded
        ("unbatched", 2, [(3, 32, 32)] * 2),  # no batch dimension: one frame a run
    ],
)
def test_batches_are_real_when_the_model_has_a_batch_dimension(models, model, frame_count, runs):
    processor = onnx_processor(model=models[model], labels=LABELS, topK=3)
    counting = CountingSession(processor.session)
    processor.session = counting
    colours = COLOURS[:frame_count]

    results = processor.process(frames_of(colours))

    assert counting.shapes == runs
    for inferences, colour in zip(results, colours, strict=True):
        assert_classes(classes_of(inferences), expected_classes(colour))


@pytest.mark.parametrize(
    ("options", "channel_order"),
    [
        ({"model": "nhwc", "layout": "NHWC"}, [0, 1, 2]),
        ({"model": "classifier", "colorOrder": "BGR"}, [2, 1, 0]),
    ],
)
def test_layout_and_colour_order(models, options, channel_order):
    options = {**options, "model": models[options["model"]], "labels": LABELS, "topK": 3}
    processor = onnx_processor(**options)
    results = processor.process(frames_of(COLOURS))
    for inferences, colour in zip(results, COLOURS, strict=True):
        reordered = tuple(colour[i] for i in channel_order)
        assert_classes(classes_of(inferences), expected_classes(reordered))


def test_scale_mean_and_std(models):
    # input = (pixel * scale - mean) / std = pixel / 510 - 0.25 per channel:
    # logits are 10 * (colour / 510 - 0.25) / 0.5 = 20 * colour / 510 - 5.
    processor = onnx_processor(
        model=models["classifier"], labels=LABELS, topK=3, scale=1 / 255, mean=0.5, std=[2, 2, 2]
    )
    (inferences,) = processor.process(frames_of([COLOURS[0]]))
    logits = 10 * (np.array(COLOURS[0]) / 255 - 0.5) / 2
    probabilities = softmax(logits)
    expected = [(LABELS[i], float(probabilities[i])) for i in np.argsort(-probabilities)]
    assert_classes(classes_of(inferences), expected)


def test_score_threshold_and_softmax_switch(models):
    processor = onnx_processor(
        model=models["classifier"], topK=3, softmax=False, scoreThreshold=4.0
    )
    (inferences,) = processor.process(frames_of([(255, 102, 0)]))
    # Without softmax the confidences are the logits (clamped to 1 on the wire): only
    # 10 * 255/255 = 10 and 10 * 102/255 = 4 pass a threshold of 4. Without labels, tags
    # are class indices.
    assert [i.classification.tag.value for i in inferences] == ["0", "1"]


def test_dynamic_input_size_comes_from_the_options(models):
    processor = onnx_processor(
        model=models["dynamic"], decoder="yolo", labels=LABELS, inputSize=[64, 64]
    )
    (inferences,) = processor.process(frames_of([COLOURS[0]], 128, 96))
    colour = np.array(COLOURS[0]) / 255
    assert_detections(detections_of(inferences), expected_detections(colour, stretch_box))


def test_one_session_per_model_shared_by_streams_and_reloaded_when_the_file_changes(
    models, tmp_path
):
    path = Path(classifier(tmp_path / "model.onnx"))
    first = onnx_processor(model=str(path))
    second = onnx_processor(model=str(path), topK=2)
    assert first.session is second.session

    classifier(path, ["N", 3, 16, 16])  # a new version of the model
    third = onnx_processor(model=str(path))
    assert third.session is not first.session
    assert (third.input.width, third.input.height) == (16, 16)


def test_missing_onnxruntime_names_the_extra(monkeypatch, models):
    import builtins

    real_import = builtins.__import__

    def no_onnxruntime(name, *args, **kwargs):
        if name == "onnxruntime":
            raise ImportError("No module named 'onnxruntime'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_onnxruntime)
    with pytest.raises(InvalidArgument, match=r"lva-extension\[onnx\].*EXTRAS=onnx"):
        onnx_processor(model=models["classifier"])


# --- decoding and box mapping, without a model ------------------------------------


def test_letterbox_pads_around_the_frame_and_maps_boxes_back():
    frame = solid((10, 20, 30), 200, 100)
    image, placement = fit(frame, 100, 100, "letterbox", 114)
    assert image.shape == (100, 100, 3)
    assert (image[:25] == 114).all() and (image[75:] == 114).all()
    assert (image[25:75] == (10, 20, 30)).all()
    # The input's content area (0, 25)-(100, 75) is the whole frame.
    whole = placement.to_frame(np.array([[0.0, 25.0, 100.0, 75.0]]))
    np.testing.assert_allclose(whole, [[0, 0, 1, 1]])
    quarter = placement.to_frame(np.array([[50.0, 50.0, 100.0, 75.0]]))
    np.testing.assert_allclose(quarter, [[0.5, 0.5, 0.5, 0.5]])


def test_pillarbox_for_tall_frames():
    image, placement = fit(solid((1, 2, 3), 50, 100), 100, 100, "letterbox", 0)
    assert (image[:, :25] == 0).all() and (image[:, 25:75] == (1, 2, 3)).all()
    np.testing.assert_allclose(placement.to_frame(np.array([[25.0, 0, 75, 50]])), [[0, 0, 1, 0.5]])


def test_class_wise_nms():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [1, 1, 11, 11], [50, 50, 60, 60]], float)
    scores = np.array([0.9, 0.8, 0.7, 0.6])
    classes = np.array([0, 0, 1, 0])
    assert class_nms(boxes, scores, classes, 0.5).tolist() == [0, 2, 3]
    assert class_nms(boxes, scores, np.zeros(4, int), 0.5).tolist() == [0, 3]
    assert class_nms(boxes, scores, classes, 0.9).tolist() == [0, 1, 2, 3]


def test_yolo_v5_rows_with_objectness():
    _, placement = fit(solid((0, 0, 0), 256, 256), 128, 128, "stretch", 0)
    rows = np.array(
        [
            [64, 64, 32, 32, 0.9, 0.1, 0.8],  # class 1, score 0.72
            [64, 64, 32, 32, 0.2, 0.9, 0.1],  # class 0, score 0.18: below 0.25
            [32, 32, 16, 16, 0.5, 0.6, 0.4],  # class 0, score 0.30
        ],
        dtype=np.float32,
    )
    decoder = YoloDecoder(["cat", "dog"], yolo_format="v5")
    got = detections_of(decoder.decode(rows, placement))
    assert [(tag, box) for tag, box, _ in got] == [
        ("dog", (0.375, 0.375, 0.25, 0.25)),
        ("cat", (0.1875, 0.1875, 0.125, 0.125)),
    ]
    assert [round(c, 6) for *_, c in got] == [0.72, 0.3]
