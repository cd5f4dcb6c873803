"""Frames and inferences for the browser, in the style of ``lva-extension send --annotate``.

A frame goes to the page as a JPEG and its inference JSON in one server-sent
event's data, made on a worker thread and only for frames a viewer is about
to get. A JPG frame is sent as the extension got it; other formats are
decoded the way the extension decodes them (so a lossy pixel format shows
its loss) and encoded once more. Inferences that came from upstream (motion
regions before an extension) are placed where the source lies in the frame
(inside the padding, for a padded scale).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from typing import Any

import numpy as np
import simplejpeg
from lva_extension.client.annotate import STYLE, as_json
from lva_extension.frames import Encoding, decode
from lva_extension.proto.inferencing_pb2 import Inference

from ..graph.imaging import WHOLE, Area
from ..graph.media import ticks
from ..graph.observer import AnalyzedFrame, EncodedImage

JPEG_QUALITY = 85
MAX_PIXELS = 8192 * 8192


def style_json() -> dict[str, Any]:
    """The drawing style of ``lva-extension send --annotate``, for the pages' draw.js."""
    return STYLE.as_json()


def rgb_of(image: np.ndarray | EncodedImage) -> np.ndarray:
    if isinstance(image, EncodedImage):
        return decode(image.format, image.data, MAX_PIXELS)
    return image


def jpeg_of(image: np.ndarray | EncodedImage) -> tuple[bytes, int, int]:
    """JPEG bytes, width and height."""
    if isinstance(image, EncodedImage) and image.format.encoding == Encoding.JPG:
        return image.data, image.format.width, image.format.height
    rgb = np.ascontiguousarray(rgb_of(image))
    height, width = rgb.shape[:2]
    data = simplejpeg.encode_jpeg(rgb, quality=JPEG_QUALITY, colorspace="RGB")
    return bytes(data), width, height


def placed(inferences: Sequence[Inference], area: Area) -> list[dict[str, Any]]:
    """Inference JSON with boxes moved from the source frame into ``area`` of the frame."""
    found = as_json(inferences)
    if area == WHOLE:
        return [dict(i) for i in found]
    left, top, width, height = area
    out = []
    for inference in found:
        kind = inference.get("type", "")
        value = inference.get(kind)
        if isinstance(value, dict) and isinstance(value.get("box"), dict):
            box = value["box"]
            moved = {
                "l": left + float(box.get("l", 0)) * width,
                "t": top + float(box.get("t", 0)) * height,
                "w": float(box.get("w", 0)) * width,
                "h": float(box.get("h", 0)) * height,
            }
            inference = {**inference, kind: {**value, "box": moved}}
        out.append(dict(inference))
    return out


def frame_event(frame: AnalyzedFrame) -> str:
    """The data of one ``frame`` event (JSON)."""
    data, width, height = jpeg_of(frame.image)
    return json.dumps(
        {
            "node": frame.node,
            "sent": isinstance(frame.image, EncodedImage),  # what an extension sent
            "sequence": frame.sequence,
            "timestamp": ticks(frame.time),
            "width": width,
            "height": height,
            "inferences": as_json(frame.inferences),
            "upstream": placed(frame.upstream, frame.source_area),
            "jpeg": base64.b64encode(data).decode(),
        },
        separators=(",", ":"),
    )
