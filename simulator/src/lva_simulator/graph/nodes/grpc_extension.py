"""The gRPC extension node: frames to the extension, inferences to the sinks.

It speaks to the extension with the project's client (``lva_extension.client``)
as LVA's node does: the descriptor with the node's image format, embedded or
shared-memory transfer (a ring of ``SharedMemorySizeMiB`` freed only on ack),
credentials as ``x-ms-authentication`` metadata, TLS for a MediaGraphTlsEndpoint,
and ``extensionConfiguration``. When the extension cannot be reached or ends
the stream, the node says why and tries again, as LVA does.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import grpc
from cryptography import x509
from lva_extension.client import ClientOptions, ExtensionCallError, ExtensionClient, TimedFrame

from ..events import InferenceEvent
from ..plan import ExtensionSpec
from .rtsp_source import VideoFrame

log = logging.getLogger(__name__)

TIMESCALE = 90_000
RETRY_DELAYS = (1.0, 2.0, 5.0, 10.0)
WINDOW = 8


# Where the node takes its frames from: None when the source has ended. A plain
# awaitable (a queue's get), not a generator: a failed stream cancels its read,
# and the next stream must be able to read on.
FrameFeed = Callable[[], Awaitable[VideoFrame | None]]


@dataclass
class NodeStats:
    frames_sent: int = 0
    results: int = 0
    streams: int = 0
    failures: int = 0  # in a row; 0 again once a stream answers
    last_error: str = ""
    # Seconds from sending a sample to its ack, for the most recent samples.
    latencies: deque[float] = field(default_factory=lambda: deque(maxlen=10_000))

    def latency_ms(self, percent: int) -> float:
        if not self.latencies:
            return 0.0
        ordered = sorted(self.latencies)
        return 1000 * ordered[min(len(ordered) - 1, len(ordered) * percent // 100)]


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


class ExtensionNode:
    def __init__(
        self, spec: ExtensionSpec, instance: str, emit: Callable[[InferenceEvent], None]
    ) -> None:
        self.spec = spec
        self.instance = instance
        self.emit = emit
        self.stats = NodeStats()

    async def _options(self, width: int, height: int) -> ClientOptions:
        spec = self.spec
        credentials = None
        channel_options: tuple[tuple[str, object], ...] = ()
        if spec.tls is not None:
            credentials = grpc.ssl_channel_credentials(
                root_certificates=spec.tls.trusted_pem.encode() or None
            )
            if spec.tls.ignore_hostname:
                host, _, port = spec.address.rpartition(":")
                name = await asyncio.to_thread(_certificate_name, host, int(port))
                channel_options = (("grpc.ssl_target_name_override", name),)
        return ClientOptions(
            spec.address,
            spec.image.stream_format(width, height),
            shared_memory=spec.shared_memory_bytes > 0,
            shared_memory_bytes=spec.shared_memory_bytes,
            window=WINDOW,
            extension_configuration=spec.extension_configuration,
            graph_instance=self.instance,
            graph_node=spec.name,
            timescale=TIMESCALE,
            metadata=spec.metadata,
            channel_credentials=credentials,
            channel_options=channel_options,
        )

    async def run(self, frames: FrameFeed) -> None:
        """Stream until the frames end (or the task is cancelled), reconnecting on failures."""
        first = await frames()
        if first is None:
            return
        height, width = first.rgb.shape[:2]
        self._check_fits(width, height)
        options = await self._options(width, height)
        pending: list[VideoFrame] = [first]
        while True:
            ended = await self._stream(options, frames, pending)
            if ended:
                return
            delay = RETRY_DELAYS[min(self.stats.failures - 1, len(RETRY_DELAYS) - 1)]
            log.warning(
                "%s/%s: %s; trying again in %.0f s",
                self.instance,
                self.spec.name,
                self.stats.last_error,
                delay,
            )
            await asyncio.sleep(delay)

    def _check_fits(self, width: int, height: int) -> None:
        ring = self.spec.shared_memory_bytes
        fmt = self.spec.image.stream_format(width, height).frame_format()
        if ring and fmt.frame_bytes > ring:
            raise ValueError(
                f"{self.instance}/{self.spec.name}: a {fmt.describe()} frame is"
                f" {fmt.frame_bytes} bytes, more than SharedMemorySizeMiB"
                f" ({ring // (1024 * 1024)} MiB) holds"
            )

    async def _stream(
        self, options: ClientOptions, frames: FrameFeed, pending: list[VideoFrame]
    ) -> bool:
        """One ProcessMediaStream call; True when the frames ran out normally."""
        client = ExtensionClient(options)
        self.stats.streams += 1

        async def samples() -> AsyncIterator[TimedFrame]:
            while True:
                frame = pending.pop() if pending else await frames()
                if frame is None:
                    return
                data = await asyncio.to_thread(self.spec.image.convert, frame.rgb)
                self.stats.frames_sent += 1
                # The video's own timestamps, as LVA sends them.
                yield TimedFrame(round(frame.pts * TIMESCALE), data)

        try:
            async for result in client.stream(samples()):
                self.stats.results += 1
                self.stats.failures = 0
                self.stats.latencies.append(result.latency)
                self.emit(
                    InferenceEvent(
                        self.instance, self.spec.name, result.timestamp, result.inferences
                    )
                )
        except ExtensionCallError as error:
            self._failed(f"the extension at {self.spec.address} ended the stream: {error}")
            return False
        except (grpc.RpcError, OSError, ValueError) as error:
            self._failed(f"stream to the extension at {self.spec.address} failed: {error}")
            return False
        if client.summary.violations:
            log.warning(
                "%s/%s: the extension broke the protocol: %s",
                self.instance,
                self.spec.name,
                "; ".join(client.summary.violations[:5]),
            )
        return True

    def _failed(self, message: str) -> None:
        self.stats.failures += 1
        self.stats.last_error = message
