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
frames it sent, each with the inferences that came back. Sampled frames wait
in a short queue for the extension: behind a live camera a full queue drops
the newest frame (the camera does not wait); a file played as fast as the
graph takes it waits instead.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from fractions import Fraction

from .imaging import LVA_PIXEL_FORMATS, SCALE_MODES, ImageSpec, client_sends
from .media import PICTURES, Item, Picture
from .node import Node, NodeContext
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


class ExtensionNode(Node):
    """What the gRPC and HTTP extension nodes share: sampling, the queue, finishing."""

    wants = frozenset({PICTURES})
    queue_frames = 16

    def __init__(self, context: NodeContext, sampling: SamplingSpec) -> None:
        super().__init__(context)
        self.sampler = Sampler(sampling)
        self.lossy = True  # the runner says whether frames may be dropped (a live source)
        self.queue: asyncio.Queue[Picture | None] = asyncio.Queue(self.queue_frames)
        self._done = asyncio.Event()

    def accepting(self) -> bool:
        """Whether the extension takes frames now (an HTTP server may ask for a pause)."""
        return True

    async def receive(self, item: Item, sender: str) -> None:
        if not isinstance(item, Picture):
            return
        self.context.counters.frames_in += 1
        if not self.sampler.admit(item) or not self.accepting():
            return
        if not self.lossy:
            await self.queue.put(item)
        elif not self.queue.full():
            self.queue.put_nowait(item)
        else:  # behind a live camera: this frame is lost, as in LVA
            self.context.counters.dropped += 1

    async def run(self) -> None:
        try:
            await self.serve()
        finally:
            self._done.set()

    async def serve(self) -> None:
        """Take frames from the queue until None, and send them to the extension."""
        raise NotImplementedError

    async def flush(self) -> None:
        if not self._done.is_set():  # still serving: let it finish what is queued
            await self.queue.put(None)
            await self._done.wait()


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
