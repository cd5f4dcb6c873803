"""A model folder's ``config.json``: the model's options, its batching policy, and what a
stream may set.

    models/detector/
        model.onnx          the model (or "model": "<file name>")
        labels.txt          one label per line (or "labelsFile" / "labels")
        config.json         optional: every key has a default

    {"decoder": "yolo", "resize": "letterbox", "scoreThreshold": 0.3,
     "batching": {"maxBatchSize": 8, "maxQueueDelayMs": 5, "preferredBatchSizes": [4, 8]},
     "streamOptions": ["scoreThreshold"], "instances": 1, "threads": 2}

The model options are the onnx processor's (processors/onnx/options.py),
with file names relative to the folder. Every file is read through the same
guards as the onnx processor's (lva_extension/files.py: inside the repository
after links, regular, under ``maxModelFileMiB``, within ``modelReadSeconds``).
Reading a folder never loads the model: version.py does.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..files import FileRoom, OpenedFile
from ..processors.onnx.options import DECODING_OPTIONS, OnnxOptions, check_decoder_options
from ..settings import Settings

CONFIG_FILE = "config.json"
MODEL_FILE = "model.onnx"
LABELS_FILE = "labels.txt"

DEFAULT_MAX_BATCH_SIZE = 8
DEFAULT_MAX_QUEUE_DELAY_MS = 5.0

# Keys of config.json that are not options of the model itself.
REPOSITORY_KEYS = ("batching", "streamOptions", "instances")
BATCHING_KEYS = ("maxBatchSize", "maxQueueDelayMs", "preferredBatchSizes")


@dataclass(frozen=True)
class BatchingPolicy:
    """How frames of a model are gathered into batches (Triton's dynamic batcher)."""

    max_batch_size: int | None  # None: not given (the model's batch dimension decides)
    max_queue_delay_ms: float = DEFAULT_MAX_QUEUE_DELAY_MS
    preferred_batch_sizes: tuple[int, ...] = ()

    @classmethod
    def parse(cls, document: object) -> BatchingPolicy:
        if not isinstance(document, dict):
            raise ValueError(f"batching: expected an object, got {document!r}")
        unknown = sorted(set(document) - set(BATCHING_KEYS))
        if unknown:
            raise ValueError(
                f"batching: unknown key(s) {', '.join(unknown)}; known: {', '.join(BATCHING_KEYS)}"
            )
        size = document.get("maxBatchSize")
        if size is not None and not _whole(size, 1):
            raise ValueError(f"batching.maxBatchSize: expected 1 or more, got {size!r}")
        delay = document.get("maxQueueDelayMs", DEFAULT_MAX_QUEUE_DELAY_MS)
        number = isinstance(delay, int | float) and not isinstance(delay, bool)
        if not number or not 0 <= delay <= 10_000:
            raise ValueError(f"batching.maxQueueDelayMs: expected 0 to 10000, got {delay!r}")
        preferred = document.get("preferredBatchSizes", [])
        if not isinstance(preferred, list) or not all(_whole(p, 1) for p in preferred):
            raise ValueError(
                f"batching.preferredBatchSizes: expected a list of sizes, got {preferred!r}"
            )
        if size is not None and any(p > size for p in preferred):
            raise ValueError(
                f"batching.preferredBatchSizes {preferred} must not exceed maxBatchSize {size}"
            )
        return cls(size, float(delay), tuple(sorted(set(preferred))))

    def fixed(self, max_batch_size: int) -> BatchingPolicy:
        """This policy with the batch size settled."""
        preferred = tuple(p for p in self.preferred_batch_sizes if p <= max_batch_size)
        return BatchingPolicy(max_batch_size, self.max_queue_delay_ms, preferred)

    @property
    def size(self) -> int:
        return self.max_batch_size or DEFAULT_MAX_BATCH_SIZE

    def describe(self) -> str:
        preferred = ", ".join(map(str, self.preferred_batch_sizes)) or "none"
        return (
            f"maxBatchSize {self.size}, maxQueueDelayMs {self.max_queue_delay_ms:g},"
            f" preferredBatchSizes {preferred}"
        )


def repository_room(settings: Settings, directory: str | None = None) -> FileRoom:
    """The model repository as a FileRoom: the limits of every file the server reads."""
    return FileRoom(
        settings.model_repository if directory is None else directory,
        settings.max_model_file_mib * (1 << 20),
        settings.model_read_seconds,
        "the model repository",
    )


@dataclass(frozen=True)
class ModelConfig:
    """A model folder, read and checked: what loading it needs."""

    name: str
    room: FileRoom  # the repository, where options.model is read from
    options: OnnxOptions  # model: its name in the repository; labels: read, no file left
    batching: BatchingPolicy
    stream_options: frozenset[str]
    instances: int  # sessions that run batches side by side; 0: chosen for the cores

    @property
    def folder(self) -> Path:
        return Path(self.room.root) / self.name

    def read_model(self) -> bytes:
        """The model file's bytes (ONNX Runtime gets them, not a name to look up again)."""
        with self.room.open(self.options.model, "model") as opened:
            return opened.read()


def read_config(name: str, room: FileRoom) -> ModelConfig:
    """Read the model folder ``name``; an error names the file and what is wrong with it."""
    document = _config_document(name, room)
    batching = BatchingPolicy.parse(document.pop("batching", {}))
    stream_options = _stream_options(document.pop("streamOptions", []))
    instances = document.pop("instances", 0)
    if not _whole(instances, 0):
        raise ValueError(f"instances: expected 0 (chosen for the cores) or more, got {instances!r}")
    model_name = document.pop("model", MODEL_FILE)
    if not isinstance(model_name, str):
        raise ValueError(f"model: expected a file name in the model's folder, got {model_name!r}")
    with _open(room, name, model_name, "model"):  # there, regular, not too large
        model = f"{name}/{model_name}"
    labels = _labels(name, room, document)
    options = OnnxOptions.parse({**document, "model": model, "labels": labels})
    check_decoder_options(dict.fromkeys(stream_options), options.decoder)
    return ModelConfig(name, room, options, batching, stream_options, instances)


def _open(room: FileRoom, folder: str, name: str, option: str) -> OpenedFile:
    """A file of the model's folder, through the repository's guards."""
    if not name or name != Path(name).name or name in (".", ".."):
        raise ValueError(f"{option}: expected a file name in the model's folder, got {name!r}")
    return room.open(f"{folder}/{name}", option)


def _config_document(folder: str, room: FileRoom) -> dict[str, Any]:
    if not os.path.lexists(os.path.join(room.root, folder, CONFIG_FILE)):
        return {}
    with _open(room, folder, CONFIG_FILE, CONFIG_FILE) as opened:
        text = opened.read_text()
    try:
        document = json.loads(text)
    except (ValueError, RecursionError) as error:
        raise ValueError(f"{CONFIG_FILE}: not valid JSON ({error})") from None
    if not isinstance(document, dict):
        raise ValueError(f"{CONFIG_FILE}: expected a JSON object")
    return document


def _labels(folder: str, room: FileRoom, document: dict[str, Any]) -> list[str] | None:
    """The labels: given inline, from "labelsFile", or from labels.txt if there is one."""
    name = document.pop("labelsFile", None)
    if name is not None and "labels" in document:
        raise ValueError('give "labels" or "labelsFile", not both')
    if "labels" in document:
        labels = document.pop("labels")
        if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
            raise ValueError(f"labels: expected a list of strings, got {labels!r}")
        return labels
    if name is None:
        if not os.path.lexists(os.path.join(room.root, folder, LABELS_FILE)):
            return None
        name = LABELS_FILE
    if not isinstance(name, str):
        raise ValueError(f"labelsFile: expected a file name in the model's folder, got {name!r}")
    with _open(room, folder, name, "labelsFile") as opened:
        text = opened.read_text()
    lines = text.splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    return [line.strip() for line in lines]


def _stream_options(value: object) -> frozenset[str]:
    if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
        raise ValueError(f"streamOptions: expected a list of option names, got {value!r}")
    unknown = sorted(set(value) - set(DECODING_OPTIONS))
    if unknown:
        raise ValueError(
            f"streamOptions: {', '.join(unknown)} cannot be set per stream; these can:"
            f" {', '.join(DECODING_OPTIONS)}"
        )
    return frozenset(value)


def _whole(value: object, least: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= least
