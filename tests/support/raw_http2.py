"""gRPC streams spoken by hand over HTTP/2 (h2), for what no gRPC client does:
stop in the middle of a message and keep the connection open."""

from __future__ import annotations

import socket
import struct

import h2.config
import h2.connection
import h2.events
from lva_extension.contract import SERVICE_NAME

PATH = f"/{SERVICE_NAME}/ProcessMediaStream"


class RawGrpcStream:
    """One HTTP/2 connection on which streams are opened and fed by hand."""

    def __init__(self, sock: socket.socket, authority: str) -> None:
        self._sock = sock
        self._authority = authority
        self._h2 = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
        self._h2.initiate_connection()
        self._flush()

    @classmethod
    def connect(cls, address: str) -> RawGrpcStream:
        host, _, port = address.rpartition(":")
        return cls(socket.create_connection((host, int(port)), timeout=10), address)

    @property
    def local_port(self) -> int:
        return int(self._sock.getsockname()[1])

    def open(self) -> int:
        stream_id: int = self._h2.get_next_available_stream_id()
        self._h2.send_headers(
            stream_id,
            [
                (":method", "POST"),
                (":scheme", "http"),
                (":path", PATH),
                (":authority", self._authority),
                ("content-type", "application/grpc"),
                ("te", "trailers"),
            ],
        )
        self._flush()
        return stream_id

    def send_message(self, stream_id: int, payload: bytes) -> None:
        self._send(stream_id, struct.pack(">BI", 0, len(payload)) + payload)

    def send_partial(self, stream_id: int, payload: bytes) -> int:
        """The message's header and as much of its first half as flow control allows now."""
        data = struct.pack(">BI", 0, len(payload)) + payload[: len(payload) // 2]
        return self._send(stream_id, data, wait=False)

    def _send(self, stream_id: int, data: bytes, wait: bool = True) -> int:
        sent = 0
        while sent < len(data):
            window = min(
                self._h2.local_flow_control_window(stream_id), self._h2.max_outbound_frame_size
            )
            if window <= 0:
                if not wait:
                    break
                self._receive()
                continue
            chunk = data[sent : sent + window]
            self._h2.send_data(stream_id, chunk)
            self._flush()
            sent += len(chunk)
        # Let the server's window updates for what was sent arrive, then send more.
        self._sock.settimeout(0.2)
        try:
            while sent < len(data) and self._receive():
                window = self._h2.local_flow_control_window(stream_id)
                if window > 0:
                    chunk = data[sent : sent + min(window, self._h2.max_outbound_frame_size)]
                    self._h2.send_data(stream_id, chunk)
                    self._flush()
                    sent += len(chunk)
        finally:
            self._sock.settimeout(10)
        return sent

    def _receive(self) -> bool:
        try:
            data = self._sock.recv(65536)
        except TimeoutError:
            return False
        if not data:
            return False
        for event in self._h2.receive_data(data):
            if isinstance(event, h2.events.DataReceived):
                self._h2.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
        self._flush()
        return True

    def _flush(self) -> None:
        self._sock.sendall(self._h2.data_to_send())

    def close(self) -> None:
        self._sock.close()
