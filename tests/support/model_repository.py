"""Model repositories for tests: folders of tiny models, and many cameras streaming to them."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from lva_extension.client import ClientOptions, ExtensionClient, FrameResult, StreamFormat

from tests.support.onnx_models import LABELS, classifier

CAMERA_FORMAT = StreamFormat("raw", "bgr24", 64, 48)


def wait_until(condition: Callable[[], object], timeout: float = 30) -> object:
    """Poll ``condition`` until it is true (returned), or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        assert time.monotonic() < deadline, "the condition did not come true in time"
        time.sleep(0.02)
    return value


def make_model(
    repository: Path,
    name: str,
    config: dict[str, Any] | None = None,
    labels: list[str] | None = LABELS,
    **model: Any,
) -> Path:
    """A model folder: the classifier (``model`` passes its shape or weights), labels, config."""
    folder = repository / name
    folder.mkdir(parents=True, exist_ok=True)
    classifier(folder / "model.onnx", **model)
    if labels is not None:
        (folder / "labels.txt").write_text("\n".join(labels) + "\n")
    if config is not None:
        (folder / "config.json").write_text(json.dumps(config))
    return folder


def camera_colour(camera: int, frame: int) -> tuple[int, int, int]:
    """A colour of its own for every frame of every camera (so results cannot be swapped)."""
    return (
        (40 + 53 * camera + 17 * frame) % 256,
        (200 - 29 * frame) % 256,
        (90 + 71 * camera) % 256,
    )


def camera_frame(camera: int, frame: int, width: int = 64, height: int = 48) -> np.ndarray:
    image = np.empty((height, width, 3), dtype=np.uint8)
    image[:] = camera_colour(camera, frame)
    return image


def stream_cameras(
    address: str,
    cameras: int,
    frames: int,
    configuration: str,
    shared_memory: bool = False,
    window: int = 4,
    fmt: StreamFormat = CAMERA_FORMAT,
) -> list[tuple[list[FrameResult], ExtensionClient]]:
    """``cameras`` streams at once, each ``frames`` frames of its own colours."""

    async def camera(index: int) -> tuple[list[FrameResult], ExtensionClient]:
        options = ClientOptions(
            address,
            fmt,
            shared_memory=shared_memory,
            window=window,
            extension_configuration=configuration,
            graph_instance=f"camera-{index}",
        )
        client = ExtensionClient(options)
        images = [camera_frame(index, i, fmt.width, fmt.height) for i in range(frames)]
        return [result async for result in client.stream(images)], client

    async def all_cameras() -> list[tuple[list[FrameResult], ExtensionClient]]:
        return list(await asyncio.gather(*(camera(i) for i in range(cameras))))

    return asyncio.run(all_cameras())
