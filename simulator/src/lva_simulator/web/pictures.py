"""Frames and inferences for the browser, in the style of ``lva-extension send --annotate``.

A frame goes to the page as a JPEG and its inference JSON in one server-sent
event's data, made on a worker thread and only for frames a viewer is about
to get. A JPG frame
is sent as the extension got it; other formats are decoded the way the
extension decodes them (so a lossy pixel format shows its loss) and encoded
once more.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import simplejpeg
from lva_extension.client.annotate import STYLE, as_json
from lva_extension.frames import Encoding, decode
from lva_extension.proto.inferencing_pb2 import Inference

from ..observer import AnalyzedFrame, EncodedPicture, Picture

JPEG_QUALITY = 85
MAX_PIXELS = 8192 * 8192


def inference_json(inferences: Sequence[Inference]) -> list[Mapping[str, Any]]:
    """Inferences as the inference JSON the pages draw."""
    return as_json(inferences)


def style_json() -> dict[str, Any]:
    """The drawing style of ``lva-extension send --annotate``, for the pages' draw.js."""
    return STYLE.as_json()


def rgb_of(picture: Picture) -> np.ndarray:
    if isinstance(picture, EncodedPicture):
        return decode(picture.format, picture.data, MAX_PIXELS)
    return picture


def jpeg_of(picture: Picture) -> tuple[bytes, int, int]:
    """JPEG bytes, width and height."""
    if isinstance(picture, EncodedPicture) and picture.format.encoding == Encoding.JPG:
        return picture.data, picture.format.width, picture.format.height
    rgb = np.ascontiguousarray(rgb_of(picture))
    height, width = rgb.shape[:2]
    data = simplejpeg.encode_jpeg(rgb, quality=JPEG_QUALITY, colorspace="RGB")
    return bytes(data), width, height


def frame_event(frame: AnalyzedFrame) -> str:
    """The data of one ``frame`` event (JSON)."""
    data, width, height = jpeg_of(frame.picture)
    return json.dumps(
        {
            "node": frame.node,
            "sequence": frame.sequence,
            "timestamp": frame.timestamp,
            "width": width,
            "height": height,
            "inferences": inference_json(frame.inferences),
            "jpeg": base64.b64encode(data).decode(),
        },
        separators=(",", ":"),
    )
