"""MediaGraphGrpcExtension (and MediaGraphCognitiveServicesVisionExtension, the same wire).

It speaks to the extension with the project's client (``lva_extension.client``)
as LVA's node does: one ProcessMediaStream call per node, the descriptor with
the node's image format, embedded or shared-memory transfer (a ring of
``SharedMemorySizeMiB`` freed only on ack), credentials as
``x-ms-authentication`` metadata, TLS for a MediaGraphTlsEndpoint, and
``extensionConfiguration``. Each answered frame goes on downstream with the
inferences attached, and a non-empty answer is published as an inference
event. When the extension cannot be reached or ends the stream, the node
publishes a diagnostic event and tries again (1, 2, 5, 10 s).

With a live camera a node that falls behind loses frames (its queue is
short); with a file played as fast as the graph takes it, nothing is lost.
"""

from __future__ import annotations

import asyncio
import logging
import re
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass

import grpc
from cryptography import x509
from lva_extension.client import ClientOptions, ExtensionCallError, ExtensionClient, TimedFrame
from lva_extension.frames import FrameFormat
from lva_extension.proto.inferencing_pb2 import Inference

from ..endpoints import Endpoint, read_endpoint
from ..events import inference_body
from ..extension import ExtensionNode, SamplingSpec, read_image, read_sampling
from ..imaging import Area, ImageSpec
from ..media import TIMESCALE, Picture, ticks
from ..node import NodeContext
from ..observer import AnalyzedFrame, EncodedImage
from ..properties import Reader

log = logging.getLogger(__name__)

RETRY_DELAYS = (1.0, 2.0, 5.0, 10.0)
WINDOW = 8  # frames in flight
_GRPC_URL = re.compile(r"^tcp://(?P<host>\[[0-9a-fA-F:.]+\]|[^:/\[\]]+):(?P<port>\d{1,5})/?$")


@dataclass(frozen=True)
class GrpcExtensionSpec:
    endpoint: Endpoint
    address: str  # host:port
    shared_memory_bytes: int  # 0 = embedded
    extension_configuration: str
    image: ImageSpec
    sampling: SamplingSpec


def parse(node: Reader) -> GrpcExtensionSpec:
    endpoint = read_endpoint(node)
    match = _GRPC_URL.match(endpoint.url)
    address = ""
    if not match or not 0 < int(match["port"]) < 65536:
        node.fail("endpoint.url", f"expected tcp://HOST:PORT, got {endpoint.url!r}")
    else:
        address = f"{match['host']}:{match['port']}"
    shared_memory = 0
    if node.present("dataTransfer"):  # required for gRPC; Cognitive Services has none
        transfer = node.child("dataTransfer")
        if transfer.choice("mode", ("Embedded", "SharedMemory")) == "SharedMemory":
            shared_memory = transfer.integer("sharedMemorySizeMiB") * 1024 * 1024
    elif node.node.get("@type", "").lower().endswith("grpcextension"):
        node.fail(
            "dataTransfer",
            "dataTransfer {mode: embedded|sharedMemory} is required",
            "PropertyRequired",
        )
    configuration = node.node.get("extensionConfiguration", "")
    if not isinstance(configuration, str):
        node.fail("extensionConfiguration", "extensionConfiguration must be a string")
        configuration = ""
    return GrpcExtensionSpec(
        endpoint,
        address,
        shared_memory,
        configuration,
        read_image(node),
        read_sampling(node),
    )


def _certificate_name(host: str, port: int) -> str:
    """A name the server's certificate is issued to (for validationOptions.ignoreHostname)."""
    pem = ssl.get_server_certificate((host.strip("[]"), port), timeout=5)
    cert = x509.load_pem_x509_certificate(pem.encode())
    try:
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        dns = names.get_values_for_type(x509.DNSName)
        if dns:
            return str(dns[0])
        addresses = names.get_values_for_type(x509.IPAddress)
        if addresses:
            return str(addresses[0])
    except x509.ExtensionNotFound:
        pass
    common = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    return str(common[0].value) if common else host


class GrpcExtension(ExtensionNode):
    def __init__(self, spec: GrpcExtensionSpec, context: NodeContext) -> None:
        super().__init__(context, spec.sampling)
        self.spec = spec
        self.streams = 0
        # Each frame in flight, until its answer: the picture, the bytes sent, the source's area.
        self._pending: dict[int, tuple[Picture, bytes, Area]] = {}
        self._format: FrameFormat | None = None
        self._failures = 0
        self._reported = ""

    async def serve(self) -> None:
        first = await self.queue.get()
        if first is None:
            return
        height, width = first.rgb.shape[:2]
        self._check_fits(width, height)
        options = await self._options(width, height)
        self._format = options.format.frame_format()
        pending: list[Picture] = [first]
        while not await self._stream(options, pending):
            delay = RETRY_DELAYS[min(self._failures - 1, len(RETRY_DELAYS) - 1)]
            log.warning(
                "%s/%s: %s; trying again in %.0f s",
                self.context.instance,
                self.name,
                self.context.counters.last_error,
                delay,
            )
            await asyncio.sleep(delay)

    def _check_fits(self, width: int, height: int) -> None:
        ring = self.spec.shared_memory_bytes
        fmt = self.spec.image.stream_format(width, height).frame_format()
        if ring and fmt.frame_bytes > ring:
            raise ValueError(
                f"{self.context.instance}/{self.name}: a {fmt.describe()} frame is"
                f" {fmt.frame_bytes} bytes, more than SharedMemorySizeMiB"
                f" ({ring // (1024 * 1024)} MiB) holds"
            )

    async def _options(self, width: int, height: int) -> ClientOptions:
        spec = self.spec
        credentials = None
        channel_options: tuple[tuple[str, object], ...] = ()
        tls = spec.endpoint.tls
        if tls is not None:
            credentials = grpc.ssl_channel_credentials(
                root_certificates=tls.trusted_pem.encode() or None
            )
            if tls.ignore_hostname:
                host, _, port = spec.address.rpartition(":")
                name = await asyncio.to_thread(_certificate_name, host, int(port))
                channel_options = (("grpc.ssl_target_name_override", name),)
        # LVA's gRPC header for credentials, not HTTP's Authorization.
        metadata = tuple(
            ("x-ms-authentication", value) if key == "Authorization" else (key.lower(), value)
            for key, value in spec.endpoint.headers()
        )
        host, _, port = spec.address.rpartition(":")
        host, number = self.context.options.address(host.strip("[]"), int(port))
        address = f"[{host}]:{number}" if ":" in host else f"{host}:{number}"
        return ClientOptions(
            address,
            spec.image.stream_format(width, height),
            shared_memory=spec.shared_memory_bytes > 0,
            shared_memory_bytes=spec.shared_memory_bytes,
            window=WINDOW,
            extension_configuration=spec.extension_configuration,
            graph_instance=self.context.instance,
            graph_node=self.name,
            timescale=TIMESCALE,
            metadata=metadata,
            channel_credentials=credentials,
            channel_options=channel_options,
        )

    async def _stream(self, options: ClientOptions, pending: list[Picture]) -> bool:
        """One ProcessMediaStream call; True when the frames ran out normally."""
        client = ExtensionClient(options)
        self.streams += 1
        counters = self.context.counters

        async def samples() -> AsyncIterator[TimedFrame]:
            while True:
                picture = pending.pop() if pending else await self.queue.get()
                if picture is None:
                    return
                scaled, area = await asyncio.to_thread(self.spec.image.place, picture.rgb)
                data = await asyncio.to_thread(self.spec.image.encode, scaled)
                self._pending[ticks(picture.time)] = (picture, data, area)
                yield TimedFrame(ticks(picture.time), data)

        try:
            async for result in client.stream(samples()):
                counters.acks += 1
                counters.latencies.append(result.latency)
                if counters.state != "streaming":
                    counters.state = "streaming"
                    self._failures, self._reported = 0, ""
                await self._answered(result.sequence, result.timestamp, list(result.inferences))
        except ExtensionCallError as error:
            self._failed(
                error.code.name, f"the extension at {self.spec.address} ended the stream: {error}"
            )
            return False
        except (grpc.RpcError, OSError, ValueError) as error:
            self._failed(
                "UNAVAILABLE", f"stream to the extension at {self.spec.address} failed: {error}"
            )
            return False
        finally:
            self._pending.clear()
        if client.summary.violations:
            log.warning(
                "%s/%s: the extension broke the protocol: %s",
                self.context.instance,
                self.name,
                "; ".join(client.summary.violations[:5]),
            )
        return True

    async def _answered(self, sequence: int, timestamp: int, inferences: list[Inference]) -> None:
        found = self._pending.pop(timestamp, None)
        if found is None or self._format is None:
            return
        picture, data, area = found
        context = self.context
        context.observer.frame_analyzed(
            AnalyzedFrame(
                context.instance,
                self.name,
                picture.time,
                sequence,
                EncodedImage(data, self._format),
                inferences,
                picture.inferences,
                area,
            )
        )
        body = inference_body(timestamp, inferences)
        if body is not None:  # LVA forwards no empty result
            await context.emit(context.event(picture.time, body))
        context.counters.passed()
        await context.emit(Picture(picture.time, picture.rgb, (*picture.inferences, *inferences)))

    def _failed(self, code: str, message: str) -> None:
        self._failures += 1
        self.context.counters.state = "retrying"
        self.context.counters.error(message)
        if code == self._reported:
            return
        self._reported = code
        if code in ("UNAVAILABLE", "DEADLINE_EXCEEDED"):
            body = {"errorCode": code, "message": message}
            self.context.module_event("Diagnostics", "NetworkError", body)
        else:
            body = {"protocol": "grpc", "errorCode": code, "message": message}
            self.context.module_event("Diagnostics", "ProtocolError", body)
