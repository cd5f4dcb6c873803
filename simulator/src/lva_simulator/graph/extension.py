"""What gRPC and HTTP extension nodes share: ``image``, ``samplingOptions``, the sampler.

Sampling (LVA's ``samplingOptions``):

- ``maximumSamplesPerSecond``: at most this many frames a second reach the
  extension (the first of each time slot, by media time: see sampling.py);
- ``skipSamplesWithoutAnnotation``: only frames that carry inferences from
  upstream (motion detection, another extension) are sent. LVA documents no
  default; here an absent value means ``false`` for a node fed by the RTSP
  source and ``true`` for one fed by motion detection or another extension,
  which is how the AIComposition sample behaves as its readme says (only
  frames the first model classified reach the second).

Frames the sampler leaves out go no further: an extension node passes on the
frames it sent, each with the inferences that came back.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from .imaging import LVA_PIXEL_FORMATS, SCALE_MODES, ImageSpec, client_sends
from .media import Picture
from .properties import Reader
from .sampling import RateLimit

_FORMATS = {
    "mediagraphimageformatjpeg": "jpg",
    "mediagraphimageformatbmp": "bmp",
    "mediagraphimageformatpng": "png",
    "mediagraphimageformatraw": "raw",
    "mediagraphimageformatencoded": "encoded",  # LVA 1.0
}


@dataclass(frozen=True)
class SamplingSpec:
    max_fps: Fraction | None
    skip_unannotated: bool | None  # None: decided by what feeds the node


def read_sampling(node: Reader) -> SamplingSpec:
    sampling = node.child("samplingOptions")
    max_fps = None
    if sampling.present("maximumSamplesPerSecond"):
        max_fps = sampling.number("maximumSamplesPerSecond").limit_denominator(1000)
    skip = None
    if sampling.present("skipSamplesWithoutAnnotation"):
        skip = sampling.flag("skipSamplesWithoutAnnotation", False)
    return SamplingSpec(max_fps, skip)


class Sampler:
    def __init__(self, spec: SamplingSpec) -> None:
        self.rate = RateLimit(spec.max_fps)
        self.skip_unannotated = bool(spec.skip_unannotated)

    def admit(self, picture: Picture) -> bool:
        if self.skip_unannotated and not picture.inferences:
            return False
        return self.rate.admit(picture.time)


def read_image(node: Reader) -> ImageSpec:
    if not node.present("image"):
        node.fail("image", "image {scale, format} is required", "PropertyRequired")
        return ImageSpec("none", None, None, "raw", "rgb24")
    image = node.child("image")
    scale = image.child("scale")
    width = scale.integer("width") if scale.present("width") else None
    height = scale.integer("height") if scale.present("height") else None
    mode = "none"
    if scale.node:
        mode = scale.choice("mode", SCALE_MODES, "preserveAspectRatio")
    if mode in ("pad", "stretch") and not (width and height):
        scale.fail("mode", f"scale mode {mode} needs both width and height")
    if mode == "preserveAspectRatio" and not (width or height):
        scale.fail("mode", "scale mode preserveAspectRatio needs a width or a height")
    encoding, pixel_format, quality = _format(image)
    return ImageSpec(mode, width, height, encoding, pixel_format, quality)


def _format(image: Reader) -> tuple[str, str, int]:
    if not image.present("format"):
        image.fail("format", "image.format is required", "PropertyRequired")
        return "raw", "rgb24", 90
    fmt = image.child("format")
    kind = _FORMATS.get(str(fmt.node.get("@type", "")).rsplit(".", 1)[-1].lower())
    quality = fmt.integer("quality", least=0) if fmt.present("quality") else 90
    if quality > 100:
        fmt.fail("quality", f"quality: expected 0 to 100, got {quality}")
    if kind == "raw":
        pixel_format = fmt.choice("pixelFormat", LVA_PIXEL_FORMATS).lower()
        if not client_sends(pixel_format):
            sent = ", ".join(p for p in LVA_PIXEL_FORMATS if client_sends(p))
            fmt.fail(
                "pixelFormat",
                f"pixelFormat {pixel_format} is not supported by the simulator (its gRPC"
                f" client sends {sent})",
                "NotSupportedBySimulator",
            )
        return "raw", pixel_format, quality
    if kind == "encoded":
        encoding = fmt.choice("encoding", ("jpeg", "bmp", "png"), "jpeg")
        return {"jpeg": "jpg"}.get(encoding, encoding), "rgb24", quality
    if kind is None:
        fmt.fail(
            "@type",
            "expected #Microsoft.Media.MediaGraphImageFormatRaw, ...Jpeg, ...Bmp or ...Png,"
            f" got {fmt.node.get('@type')!r}",
        )
        return "raw", "rgb24", quality
    return kind, "rgb24", quality
