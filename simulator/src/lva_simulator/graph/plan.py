"""A resolved topology, turned into the plan the simulator runs (or a clear refusal).

The simulator runs RTSP sources (also local files), frame rate filters, gRPC
extensions and IoT Hub message sinks. Anything else is refused here, at
GraphInstanceSet, with a ModuleValidationError that says so.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from .imaging import LVA_PIXEL_FORMATS, SCALE_MODES, ImageSpec, client_sends
from .properties import Json, inputs_of, nodes

_M = "#Microsoft.Media."
RTSP_SOURCE = f"{_M}MediaGraphRtspSource"
FRAME_RATE_FILTER = f"{_M}MediaGraphFrameRateFilterProcessor"
GRPC_EXTENSION = f"{_M}MediaGraphGrpcExtension"
IOT_HUB_SINK = f"{_M}MediaGraphIoTHubMessageSink"
SUPPORTED = (RTSP_SOURCE, FRAME_RATE_FILTER, GRPC_EXTENSION, IOT_HUB_SINK)

_GRPC_URL = re.compile(r"^tcp://(?P<host>\[[0-9a-fA-F:.]+\]|[^:/\[\]]+):(?P<port>\d{1,5})/?$")


@dataclass(frozen=True)
class Problem:
    """Why a graph cannot run: an OData-style error detail."""

    code: str
    message: str
    target: str = ""


class PlanError(Exception):
    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(p.message for p in problems))
        self.problems = problems


@dataclass(frozen=True)
class SourceSpec:
    name: str
    url: str  # rtsp://..., file://... or a local path
    username: str = ""
    password: str = field(default="", repr=False)
    transport: str = "tcp"


@dataclass(frozen=True)
class TlsSpec:
    trusted_pem: str  # "" = the system's roots
    ignore_hostname: bool


@dataclass(frozen=True)
class ExtensionSpec:
    name: str
    source: str  # the source node the frames come from
    max_fps: Fraction | None  # the strictest limit on the path, with samplingOptions
    address: str  # host:port
    metadata: tuple[tuple[str, str], ...] = field(repr=False)
    tls: TlsSpec | None
    shared_memory_bytes: int  # 0 = embedded
    extension_configuration: str
    image: ImageSpec


@dataclass(frozen=True)
class SinkSpec:
    name: str
    inputs: tuple[str, ...]  # extension nodes
    hub_output_name: str


@dataclass(frozen=True)
class GraphPlan:
    instance: str
    topology: str
    sources: tuple[SourceSpec, ...]
    extensions: tuple[ExtensionSpec, ...]
    sinks: tuple[SinkSpec, ...]


class _Compiler:
    def __init__(self, properties: Json) -> None:
        self.properties = properties
        self.details: list[Problem] = []
        self.by_name: dict[str, tuple[str, Json]] = {}
        for section, i, node in nodes(properties):
            self.by_name[str(node["name"])] = (f"$.properties.{section}[{i}]", node)

    def fail(self, target: str, message: str, code: str = "PropertyValueInvalid") -> None:
        self.details.append(Problem(code, message, target))

    def text(self, node: Json, key: str, target: str, default: str | None = None) -> str:
        value = node.get(key, default)
        if not isinstance(value, str):
            self.fail(f"{target}.{key}", f"{key} is required (a string)", "PropertyRequired")
            return ""
        return value

    def positive(self, value: Any, target: str, kind: type = int) -> Any:
        try:
            number = kind(str(value).strip())
        except (TypeError, ValueError):
            number = 0
        if number <= 0:
            self.fail(
                target,
                f"expected a positive {'integer' if kind is int else 'number'}, got {value!r}",
            )
            return None
        return number

    def flag(self, value: Any, target: str) -> bool:
        text = str(value).strip().lower()
        if text not in ("true", "false"):
            self.fail(target, f"expected 'true' or 'false', got {value!r}")
        return text == "true"

    # --- nodes ---

    def unsupported(self, target: str, node: Json) -> None:
        kind = str(node.get("@type", "")).removeprefix(_M)
        self.fail(
            target,
            f"node {node.get('name')!r} ({kind}) is not supported by the simulator: it runs"
            " MediaGraphRtspSource, MediaGraphFrameRateFilterProcessor, MediaGraphGrpcExtension"
            " and MediaGraphIoTHubMessageSink nodes",
            "NotSupportedBySimulator",
        )

    def source(self, target: str, node: Json) -> SourceSpec:
        endpoint = node.get("endpoint")
        if not isinstance(endpoint, dict):
            self.fail(f"{target}.endpoint", "an RTSP source needs an endpoint", "PropertyRequired")
            return SourceSpec(str(node["name"]), "")
        url = self.text(endpoint, "url", f"{target}.endpoint")
        scheme = url.split("://", 1)[0].lower() if "://" in url else ""
        if scheme not in ("", "rtsp", "rtsps", "file"):
            self.fail(
                f"{target}.endpoint.url",
                f"Uri scheme '{scheme}' is not valid for an RTSP source endpoint. Valid values"
                " are: rtsp (and, in the simulator, file:// URLs or local paths)",
                "RtspEndpointUrlInvalidScheme",
            )
        username, password = self.credentials(endpoint, f"{target}.endpoint")
        transport = str(node.get("transport", "tcp")).lower()
        if transport not in ("tcp", "http"):
            self.fail(f"{target}.transport", f"expected tcp or http, got {transport!r}")
        return SourceSpec(str(node["name"]), url, username, password, transport)

    def credentials(self, endpoint: Json, target: str) -> tuple[str, str]:
        credentials = endpoint.get("credentials")
        if credentials is None:
            return "", ""
        if not isinstance(credentials, dict) or credentials.get("@type") != (
            f"{_M}MediaGraphUsernamePasswordCredentials"
        ):
            self.fail(
                f"{target}.credentials",
                "expected #Microsoft.Media.MediaGraphUsernamePasswordCredentials",
            )
            return "", ""
        return (
            self.text(credentials, "username", f"{target}.credentials"),
            self.text(credentials, "password", f"{target}.credentials", ""),
        )

    def frame_path(self, name: str, target: str) -> tuple[str, Fraction | None]:
        """The source behind ``name`` through frame rate filters, and their strictest limit."""
        limit: Fraction | None = None
        while True:
            where, node = self.by_name[name]
            kind = node.get("@type")
            if kind == RTSP_SOURCE:
                return name, limit
            if kind != FRAME_RATE_FILTER:
                self.fail(
                    target,
                    f"a gRPC extension in the simulator takes video from an RTSP source or a frame"
                    f" rate filter, not from {name!r} ({str(kind).removeprefix(_M)})",
                    "NotSupportedBySimulator",
                )
                return name, limit
            fps = self.positive(node.get("maximumFps"), f"{where}.maximumFps", float)
            if fps is not None:
                value = Fraction(fps).limit_denominator(1000)
                limit = value if limit is None else min(limit, value)
            upstream = inputs_of(node)
            if len(upstream) != 1:
                self.fail(f"{where}.inputs", "a frame rate filter takes exactly one input")
                return name, limit
            name = upstream[0]

    def extension(self, target: str, node: Json) -> ExtensionSpec | None:
        upstream = inputs_of(node)
        if len(upstream) != 1:
            self.fail(f"{target}.inputs", "the simulator's gRPC extension takes exactly one input")
            return None
        for selector in node["inputs"][0].get("outputSelectors") or []:
            if selector.get("property") == "mediaType" and (
                (selector.get("operator"), selector.get("value"))
                not in (("is", "video"), ("isNot", "audio"))
            ):
                self.fail(f"{target}.inputs", "a gRPC extension needs the video of its input")
        source, limit = self.frame_path(upstream[0], f"{target}.inputs")
        sampling = node.get("samplingOptions") or {}
        if "maximumSamplesPerSecond" in sampling:
            fps = self.positive(
                sampling["maximumSamplesPerSecond"],
                f"{target}.samplingOptions.maximumSamplesPerSecond",
                float,
            )
            if fps is not None:
                value = Fraction(fps).limit_denominator(1000)
                limit = value if limit is None else min(limit, value)
        if self.flag(
            sampling.get("skipSamplesWithoutAnnotation", "false"), f"{target}.samplingOptions"
        ):
            self.fail(
                f"{target}.samplingOptions.skipSamplesWithoutAnnotation",
                "'true' sends only frames annotated upstream (motion detection, another"
                " extension): not supported by the simulator",
                "NotSupportedBySimulator",
            )
        address, metadata, tls = self.endpoint(node, target)
        shared_memory = self.data_transfer(node.get("dataTransfer"), f"{target}.dataTransfer")
        configuration = node.get("extensionConfiguration", "")
        if not isinstance(configuration, str):
            self.fail(f"{target}.extensionConfiguration", "must be a string")
            configuration = ""
        image = self.image(node.get("image"), f"{target}.image")
        if image is None:
            return None
        return ExtensionSpec(
            str(node["name"]),
            source,
            limit,
            address,
            metadata,
            tls,
            shared_memory,
            configuration,
            image,
        )

    def endpoint(
        self, node: Json, target: str
    ) -> tuple[str, tuple[tuple[str, str], ...], TlsSpec | None]:
        endpoint = node.get("endpoint")
        if not isinstance(endpoint, dict):
            self.fail(
                f"{target}.endpoint", "a gRPC extension needs an endpoint", "PropertyRequired"
            )
            return "", (), None
        url = self.text(endpoint, "url", f"{target}.endpoint")
        match = _GRPC_URL.match(url)
        if not match or not 0 < int(match["port"]) < 65536:
            self.fail(f"{target}.endpoint.url", f"expected tcp://HOST:PORT, got {url!r}")
            address = ""
        else:
            address = f"{match['host']}:{match['port']}"
        username, password = self.credentials(endpoint, f"{target}.endpoint")
        metadata: tuple[tuple[str, str], ...] = ()
        if username or password:
            token = base64.b64encode(f"{username}:{password}".encode()).decode()
            metadata = (("x-ms-authentication", f"Basic {token}"),)
        kind = endpoint.get("@type")
        if kind == f"{_M}MediaGraphUnsecuredEndpoint":
            return address, metadata, None
        if kind != f"{_M}MediaGraphTlsEndpoint":
            self.fail(
                f"{target}.endpoint.@type",
                "expected MediaGraphUnsecuredEndpoint or MediaGraphTlsEndpoint",
            )
            return address, metadata, None
        return address, metadata, self.tls(endpoint, f"{target}.endpoint")

    def tls(self, endpoint: Json, target: str) -> TlsSpec:
        trusted = endpoint.get("trustedCertificates")
        pem = ""
        if trusted is not None:
            certificates = trusted.get("certificates") if isinstance(trusted, dict) else None
            if not isinstance(certificates, list) or not all(
                isinstance(c, str) and "BEGIN CERTIFICATE" in c for c in certificates
            ):
                self.fail(f"{target}.trustedCertificates", "expected {certificates: [PEM strings]}")
            else:
                pem = "\n".join(c.strip() for c in certificates) + "\n"
        options = endpoint.get("validationOptions") or {}
        ignore_hostname = self.flag(
            options.get("ignoreHostname", "false"), f"{target}.validationOptions"
        )
        if self.flag(options.get("ignoreSignature", "false"), f"{target}.validationOptions"):
            self.fail(
                f"{target}.validationOptions.ignoreSignature",
                "'true' is not supported by the simulator: put the extension's certificate (or"
                " its CA) in trustedCertificates instead",
                "NotSupportedBySimulator",
            )
        return TlsSpec(pem, ignore_hostname)

    def data_transfer(self, transfer: Any, target: str) -> int:
        if not isinstance(transfer, dict):
            self.fail(
                target, "dataTransfer {mode: embedded|sharedMemory} is required", "PropertyRequired"
            )
            return 0
        mode = transfer.get("mode")
        if mode == "embedded":
            return 0
        if mode != "sharedMemory":
            self.fail(f"{target}.mode", f"expected embedded or sharedMemory, got {mode!r}")
            return 0
        size = self.positive(transfer.get("SharedMemorySizeMiB"), f"{target}.SharedMemorySizeMiB")
        return int(size or 0) * 1024 * 1024

    def image(self, image: Any, target: str) -> ImageSpec | None:
        if not isinstance(image, dict):
            self.fail(target, "image {scale, format} is required", "PropertyRequired")
            return None
        scale = image.get("scale") or {}
        mode = scale.get("mode", "preserveAspectRatio" if scale else "")
        width = (
            self.positive(scale["width"], f"{target}.scale.width") if scale.get("width") else None
        )
        height = (
            self.positive(scale["height"], f"{target}.scale.height")
            if scale.get("height")
            else None
        )
        if mode and mode not in SCALE_MODES:
            self.fail(
                f"{target}.scale.mode", f"expected one of {', '.join(SCALE_MODES)}, got {mode!r}"
            )
        if mode in ("pad", "stretch") and not (width and height):
            self.fail(f"{target}.scale", f"scale mode {mode} needs both width and height")
        if mode == "preserveAspectRatio" and not (width or height):
            self.fail(f"{target}.scale", "scale mode preserveAspectRatio needs a width or a height")
        encoding, pixel_format, quality = self.image_format(image.get("format"), f"{target}.format")
        return ImageSpec(str(mode or "none"), width, height, encoding, pixel_format, quality)

    def image_format(self, fmt: Any, target: str) -> tuple[str, str, int]:
        if not isinstance(fmt, dict):
            self.fail(target, "image.format is required", "PropertyRequired")
            return "raw", "rgb24", 90
        kind = str(fmt.get("@type", "")).removeprefix(_M)
        quality = 90
        if fmt.get("quality") not in (None, ""):
            try:
                quality = int(str(fmt["quality"]))
            except ValueError:
                quality = -1
            if not 0 <= quality <= 100:
                self.fail(f"{target}.quality", f"expected 0 to 100, got {fmt['quality']!r}")
        if kind == "MediaGraphImageFormatRaw":
            pixel_format = str(fmt.get("pixelFormat", "")).lower()
            if pixel_format not in LVA_PIXEL_FORMATS:
                known = ", ".join(LVA_PIXEL_FORMATS)
                self.fail(f"{target}.pixelFormat", f"expected one of {known}, got {pixel_format!r}")
            elif not client_sends(pixel_format):
                sent = ", ".join(p for p in LVA_PIXEL_FORMATS if client_sends(p))
                self.fail(
                    f"{target}.pixelFormat",
                    f"pixelFormat {pixel_format} is not supported by the simulator (its gRPC"
                    f" client sends {sent})",
                    "NotSupportedBySimulator",
                )
            return "raw", pixel_format, quality
        encodings = {
            "MediaGraphImageFormatJpeg": "jpg",
            "MediaGraphImageFormatBmp": "bmp",
            "MediaGraphImageFormatPng": "png",
        }
        if kind in encodings:
            return encodings[kind], "rgb24", quality
        if kind == "MediaGraphImageFormatEncoded":  # the LVA 1.0 form
            encoding = {"jpeg": "jpg", "bmp": "bmp", "png": "png"}.get(
                str(fmt.get("encoding", "jpeg"))
            )
            if encoding is None:
                self.fail(
                    f"{target}.encoding", f"expected jpeg, bmp or png, got {fmt.get('encoding')!r}"
                )
                return "jpg", "rgb24", quality
            return encoding, "rgb24", quality
        self.fail(
            f"{target}.@type",
            "expected MediaGraphImageFormatRaw, MediaGraphImageFormatJpeg, MediaGraphImageFormatBmp"
            f" or MediaGraphImageFormatPng, got {fmt.get('@type')!r}",
        )
        return "raw", "rgb24", quality

    def sink(self, target: str, node: Json) -> SinkSpec:
        for j, upstream in enumerate(inputs_of(node)):
            kind = self.by_name[upstream][1].get("@type")
            if kind != GRPC_EXTENSION:
                self.fail(
                    f"{target}.inputs[{j}]",
                    "an IoT Hub message sink publishes inferences: its inputs must be gRPC"
                    f" extensions in the simulator, got {upstream!r}"
                    f" ({str(kind).removeprefix(_M)})",
                    "NotSupportedBySimulator" if kind != RTSP_SOURCE else "InvalidInput",
                )
        output = node.get("hubOutputName", "")
        if not isinstance(output, str) or not output:
            self.fail(f"{target}.hubOutputName", "hubOutputName is required", "PropertyRequired")
            output = ""
        return SinkSpec(str(node["name"]), tuple(inputs_of(node)), output)


def compile_plan(instance: str, topology: str, properties: Json) -> GraphPlan:
    """Check a resolved graph against what the simulator runs; raise PlanError."""
    compiler = _Compiler(properties)
    sources: list[SourceSpec] = []
    extensions: list[ExtensionSpec] = []
    sinks: list[SinkSpec] = []
    for section, i, node in nodes(properties):
        target = f"$.properties.{section}[{i}]"
        kind = node.get("@type")
        if kind not in SUPPORTED:
            compiler.unsupported(target, node)
        elif kind == RTSP_SOURCE:
            sources.append(compiler.source(target, node))
        elif kind == GRPC_EXTENSION:
            spec = compiler.extension(target, node)
            if spec is not None:
                extensions.append(spec)
        elif kind == IOT_HUB_SINK:
            sinks.append(compiler.sink(target, node))
    if compiler.details:
        raise PlanError(compiler.details)
    return GraphPlan(instance, topology, tuple(sources), tuple(extensions), tuple(sinks))
