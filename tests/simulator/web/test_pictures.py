"""Frames for the page: the bytes the extension got, upstream boxes placed in the padding."""

from __future__ import annotations

import base64
import json
from fractions import Fraction

import numpy as np
import simplejpeg
from lva_extension.client import StreamFormat
from lva_extension.frames import encode
from lva_extension.inferences import entity, motion
from lva_simulator.graph.imaging import ImageSpec
from lva_simulator.graph.observer import AnalyzedFrame, EncodedImage
from lva_simulator.web.pictures import frame_event, placed


def test_upstream_boxes_land_where_the_source_lies_in_a_padded_frame():
    rgb = np.zeros((240, 320, 3), np.uint8)
    rgb[60:120, 80:160] = 255  # a white block: 1/4 .. 1/2 across, 1/4 .. 1/2 down
    padded, area = ImageSpec("pad", 320, 320, "raw", "rgb24").place(rgb)
    assert area == (0.0, 0.125, 1.0, 0.75)
    [box] = placed([motion((0.25, 0.25, 0.25, 0.25))], area)
    b = box["motion"]["box"]
    assert (b["l"], b["t"], b["w"], b["h"]) == (0.25, 0.3125, 0.25, 0.1875)
    # ...which is where the block is in the padded frame the extension got.
    rows, columns = np.nonzero(padded[..., 0] > 128)
    assert (columns.min() / 320, rows.min() / 320) == (b["l"], b["t"])
    assert ((rows.max() + 1 - rows.min()) / 320) == b["h"]
    # Without padding nothing moves.
    [same] = placed([motion((0.25, 0.25, 0.25, 0.25))], (0.0, 0.0, 1.0, 1.0))
    assert same["motion"]["box"] == {"l": 0.25, "t": 0.25, "w": 0.25, "h": 0.25}


def frame_of(image: EncodedImage) -> AnalyzedFrame:
    found = [entity("car", (0.1, 0.2, 0.3, 0.4), 0.9)]
    return AnalyzedFrame("i", "grpcExtension", Fraction(3, 2), 7, image, found)


def test_a_jpeg_frame_goes_to_the_page_as_the_extension_got_it():
    rgb = np.random.default_rng(1).integers(0, 256, (48, 64, 3), dtype=np.uint8)
    fmt = StreamFormat("jpg", "rgb24", 64, 48).frame_format()
    data = encode(rgb, fmt, quality=40)
    event = json.loads(frame_event(frame_of(EncodedImage(data, fmt))))
    assert base64.b64decode(event["jpeg"]) == data  # the very bytes, not re-encoded
    assert (event["width"], event["height"], event["sequence"]) == (64, 48, 7)
    assert event["timestamp"] == 135_000  # 1.5 s on the 90 kHz clock
    assert event["inferences"][0]["entity"]["tag"] == {"value": "car", "confidence": 0.9}


def test_a_raw_frame_is_decoded_as_the_extension_decodes_it():
    rgb = np.zeros((48, 64, 3), np.uint8)
    rgb[:, :32] = (200, 30, 30)
    fmt = StreamFormat("raw", "bgr24", 64, 48).frame_format()
    event = json.loads(frame_event(frame_of(EncodedImage(encode(rgb, fmt), fmt))))
    shown = simplejpeg.decode_jpeg(base64.b64decode(event["jpeg"]), colorspace="RGB")
    assert np.abs(shown[24, 10].astype(int) - (200, 30, 30)).max() < 12  # red stays red
