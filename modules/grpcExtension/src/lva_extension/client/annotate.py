"""Draw a frame's inferences on it: one style for the client's output and the web view.

    picture = annotate.draw(rgb, result.inferences, sequence=7, timestamp=21000)

Entity boxes carry their tag and confidence, motion regions a light fill,
classification, text and event inferences are listed top left, the frame's
sequence number and media time bottom left. Sizes follow the frame's height,
so a 64x48 thumbnail and a 1080p frame both read well.

The style is defined once, here. ``STYLE.as_json()`` is what the simulator's
web page draws with (its ``draw.js`` mirrors :func:`draw`), so boxes on the
live view, on recordings and in ``lva-extension send --annotate`` look alike.
Fonts are Pillow's own (``ImageFont.load_default``): nothing to install.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ..inferences import Inference
from .inference_json import inference_to_json

TIMESCALE = 90_000  # the media timestamps LVA sends: 90 kHz

Rgb = tuple[int, int, int]
InferenceJson = Mapping[str, Any]
Font = tuple["ImageFont.FreeTypeFont | ImageFont.ImageFont", int]  # the face and its size in px


@dataclass(frozen=True)
class Style:
    # Bright colours that stand out on dark and light video; a tag keeps its colour
    # everywhere: palette[fnv1a_32(tag as UTF-8) % len(palette)].
    palette: tuple[str, ...] = (
        "#ff3b30",
        "#34c759",
        "#ffcc00",
        "#0a84ff",
        "#ff9500",
        "#bf5af2",
        "#64d2ff",
        "#ff2d92",
        "#a4e400",
        "#ffd6a5",
    )
    motion_colour: str = "#00e5ff"
    motion_fill_alpha: float = 0.18
    banner_colour: str = "#000000"  # behind the listed tags and the frame label
    banner_alpha: float = 0.6
    banner_text_colour: str = "#ffffff"
    # Sizes in pixels: fraction of the frame height, clamped.
    font_fraction: float = 0.045
    font_min_px: int = 10
    font_max_px: int = 28
    line_fraction: float = 0.008
    line_min_px: int = 2
    line_max_px: int = 6
    # Label text is black on light colours, white on dark ones (BT.601 luma).
    dark_text_above_luma: int = 150

    def font_px(self, height: int) -> int:
        return _clamp_px(height * self.font_fraction, self.font_min_px, self.font_max_px)

    def line_px(self, height: int) -> int:
        return _clamp_px(height * self.line_fraction, self.line_min_px, self.line_max_px)

    def tag_colour(self, tag: str) -> Rgb:
        return hex_rgb(self.palette[fnv1a_32(tag.encode()) % len(self.palette)])

    def text_on(self, colour: Rgb) -> Rgb:
        luma = 0.299 * colour[0] + 0.587 * colour[1] + 0.114 * colour[2]
        return (0, 0, 0) if luma > self.dark_text_above_luma else (255, 255, 255)

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "palette": list(self.palette), "timescale": TIMESCALE}


STYLE = Style()


def _clamp_px(value: float, low: int, high: int) -> int:
    return max(low, min(high, round(value)))


def fnv1a_32(data: bytes) -> int:
    value = 0x811C9DC5
    for byte in data:
        value = ((value ^ byte) * 0x01000193) & 0xFFFFFFFF
    return value


def hex_rgb(colour: str) -> Rgb:
    value = int(colour.lstrip("#"), 16)
    return (value >> 16) & 255, (value >> 8) & 255, value & 255


@functools.cache
def _font(px: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=px)


def label(inference: InferenceJson) -> str:
    """The text drawn for one inference ("" for none)."""
    kind = inference.get("type", "")
    value = inference.get(kind) or {}
    if kind in ("entity", "classification"):
        tag = value.get("tag") or {}
        name = str(tag.get("value", ""))
        if value.get("id"):
            name += f"#{value['id']}"
        return f"{name} {float(tag.get('confidence', 0)):.2f}"
    if kind == "text":
        return f'"{value.get("value", "")}"'
    if kind == "event":
        return f"event: {value.get('name', '')}"
    return ""


def frame_label(sequence: int | None, timestamp: int | None) -> str:
    parts = []
    if sequence is not None:
        parts.append(f"#{sequence}")
    if timestamp is not None:
        parts.append(f"{timestamp / TIMESCALE:.3f} s")
    return "  ".join(parts)


def box_pixels(box: Mapping[str, float], width: int, height: int) -> tuple[int, int, int, int]:
    """A normalized box as inclusive pixel corners (x0, y0, x1, y1) inside the frame."""
    left, top = float(box.get("l", 0)), float(box.get("t", 0))
    x0 = min(width - 1, max(0, round(left * width)))
    y0 = min(height - 1, max(0, round(top * height)))
    x1 = min(width, max(x0 + 1, round((left + float(box.get("w", 0))) * width))) - 1
    y1 = min(height, max(y0 + 1, round((top + float(box.get("h", 0))) * height))) - 1
    return x0, y0, x1, y1


def as_json(inferences: Iterable[Inference | InferenceJson]) -> list[InferenceJson]:
    return [inference_to_json(i) if isinstance(i, Inference) else i for i in inferences]


def draw(
    rgb: np.ndarray,
    inferences: Iterable[Inference | InferenceJson],
    sequence: int | None = None,
    timestamp: int | None = None,
    style: Style = STYLE,
) -> np.ndarray:
    """A copy of an RGB frame with its inferences drawn on it."""
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected an RGB frame of shape (height, width, 3), got {rgb.shape}")
    image = Image.fromarray(np.ascontiguousarray(rgb, dtype=np.uint8))
    canvas = ImageDraw.Draw(image, "RGBA")
    height = image.height
    font_px = style.font_px(height)
    font = _font(font_px)
    line = style.line_px(height)
    items = as_json(inferences)
    # Bands first, boxes over them: where they meet, what the model found stays visible.
    listed = [
        (label(i), _list_colour(i, style)) for i in items if i.get("type") != "entity" and label(i)
    ]
    _banner(canvas, listed, (font, font_px), style, top=True, size=image.size)
    stamp = frame_label(sequence, timestamp)
    if stamp:
        white = hex_rgb(style.banner_text_colour)
        _banner(canvas, [(stamp, white)], (font, font_px), style, top=False, size=image.size)
    for inference in items:
        if inference.get("type") == "motion" and (inference.get("motion") or {}).get("box"):
            _motion(canvas, inference["motion"]["box"], image.size, line, style)
    for inference in items:
        if inference.get("type") == "entity" and (inference.get("entity") or {}).get("box"):
            _entity(canvas, inference, image.size, line, (font, font_px), style)
    return np.asarray(image)


def _list_colour(inference: InferenceJson, style: Style) -> Rgb:
    if inference.get("type") == "classification":
        tag = (inference.get("classification") or {}).get("tag") or {}
        return style.tag_colour(str(tag.get("value", "")))
    return hex_rgb(style.banner_text_colour)


def _alpha(colour: Rgb, alpha: float) -> tuple[int, int, int, int]:
    return (*colour, round(alpha * 255))


def _motion(
    canvas: ImageDraw.ImageDraw,
    box: Mapping[str, float],
    size: tuple[int, int],
    line: int,
    style: Style,
) -> None:
    x0, y0, x1, y1 = box_pixels(box, *size)
    colour = hex_rgb(style.motion_colour)
    canvas.rectangle((x0, y0, x1, y1), fill=_alpha(colour, style.motion_fill_alpha))
    canvas.rectangle((x0, y0, x1, y1), outline=colour, width=max(1, line // 2))


def _entity(
    canvas: ImageDraw.ImageDraw,
    inference: InferenceJson,
    size: tuple[int, int],
    line: int,
    font: Font,
    style: Style,
) -> None:
    entity = inference["entity"]
    x0, y0, x1, y1 = box_pixels(entity["box"], *size)
    colour = style.tag_colour(str((entity.get("tag") or {}).get("value", "")))
    # The outline lies inside the box: its outer edge is the box's edge.
    canvas.rectangle((x0, y0, x1, y1), outline=colour, width=line)
    text = label(inference)
    face, px = font
    pad = _pad(px)
    label_height = px + 2 * pad
    # Above the box when there is room, else just inside its top edge.
    top = y0 - label_height if y0 >= label_height else y0
    right = x0 + _text_width(face, text) + 2 * pad - 1
    canvas.rectangle((x0, top, right, top + label_height - 1), fill=colour)
    canvas.text((x0 + pad, top + pad), text, fill=style.text_on(colour), font=face, anchor="lt")


def _banner(
    canvas: ImageDraw.ImageDraw,
    lines: list[tuple[str, Rgb]],
    font: Font,
    style: Style,
    top: bool,
    size: tuple[int, int],
) -> None:
    """Lines of text on a translucent band, in the top or the bottom left corner."""
    if not lines:
        return
    face, px = font
    pad = _pad(px)
    step = px + pad
    band_height = step * len(lines) + pad
    y = 0 if top else size[1] - band_height
    band_width = max(_text_width(face, text) for text, _ in lines) + 2 * pad
    background = _alpha(hex_rgb(style.banner_colour), style.banner_alpha)
    canvas.rectangle((0, y, band_width - 1, y + band_height - 1), fill=background)
    for index, (text, colour) in enumerate(lines):
        canvas.text((pad, y + pad + index * step), text, fill=colour, font=face, anchor="lt")


def _pad(font_px: int) -> int:
    return max(1, font_px // 5)


def _text_width(face: ImageFont.FreeTypeFont | ImageFont.ImageFont, text: str) -> int:
    return int(face.getlength(text))
