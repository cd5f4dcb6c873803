"""The simulator: one IoT hub with one edge device whose LVA module runs graphs.

Phases: ``start`` (state directory, key and certificate, the HTTPS front end,
the connection string printed and written to ``connection-string.txt``, then
the instances that were active start again), serving, ``stop`` (graphs stop,
the front end closes; stored states are kept).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path

from .graph.events import MessageWriter
from .graph.nodes.rtsp_source import Playback
from .graph.plan import GraphPlan
from .graph.runner import GraphRun
from .iothub import certificates
from .iothub.connection_string import DEFAULT_POLICY, HubConnectionString, load_or_create_key
from .iothub.hub import HubServer
from .module.methods import LvaModule
from .module.store import Store

log = logging.getLogger(__name__)


def default_state_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "lva-simulator"


@dataclass(frozen=True)
class SimulatorOptions:
    host: str = "127.0.0.1"
    port: int = 8443  # 0: any free port
    state_dir: Path = field(default_factory=default_state_dir)
    device_id: str = "lva-sim-device"
    module_id: str = "lvaEdge"
    sink_output: str = "-"  # "-" = stdout, else a file the JSON lines are appended to
    playback: Playback = field(default_factory=Playback)

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port: expected 0 to 65535, got {self.port}")
        for what, value in (("device id", self.device_id), ("module id", self.module_id)):
            if not value or "/" in value:
                raise ValueError(f"{what}: expected a name without '/', got {value!r}")


class Simulator:
    def __init__(self, options: SimulatorOptions) -> None:
        self.options = options
        self.writer = MessageWriter(options.sink_output)
        self.store = Store(options.state_dir / "state.json")
        self.module = LvaModule(self.store, self._make_run)
        self.hub: HubServer | None = None
        self.connection_string: HubConnectionString | None = None

    def _make_run(self, plan: GraphPlan) -> GraphRun:
        return GraphRun(plan, self.writer, self.options.playback)

    @property
    def certificate(self) -> Path:
        return self.options.state_dir / "hub-cert.pem"

    @property
    def connection_string_file(self) -> Path:
        return self.options.state_dir / "connection-string.txt"

    async def start(self) -> None:
        options = self.options
        state = options.state_dir
        state.mkdir(parents=True, exist_ok=True)
        key = load_or_create_key(state / "hub-key.txt")
        names = sorted({options.host, "localhost", "127.0.0.1", "::1"} - {"0.0.0.0", "::"})
        cert, cert_key = certificates.ensure(state, names)
        identity = HubConnectionString(f"{options.host}:{options.port}", DEFAULT_POLICY, key)
        self.hub = HubServer(
            identity,
            {(options.device_id, options.module_id): self.module.invoke},
            certificates.server_context(cert, cert_key),
        )
        port = await self.hub.start(options.host, options.port)
        host = f"[{options.host}]" if ":" in options.host else options.host
        self.hub.identity = self.connection_string = HubConnectionString(
            f"{host}:{port}", DEFAULT_POLICY, key
        )
        # Written whole, then renamed: a reader waiting for the file never sees half of it.
        partial = self.connection_string_file.with_suffix(".tmp")
        partial.write_text(f"{self.connection_string}\n")
        partial.replace(self.connection_string_file)
        log.info(
            "IoT hub on https://%s:%d, device %s, module %s; connection string in %s,"
            " certificate (for REQUESTS_CA_BUNDLE) %s",
            host,
            port,
            options.device_id,
            options.module_id,
            self.connection_string_file,
            cert,
        )
        await self.module.restore()

    async def stop(self) -> None:
        await self.module.shutdown()
        if self.hub is not None:
            await self.hub.stop()
        self.writer.close()
        self.connection_string_file.unlink(missing_ok=True)


async def run(options: SimulatorOptions, announce: bool = True) -> None:
    """Start, serve until SIGTERM or SIGINT, stop."""
    simulator = Simulator(options)
    await simulator.start()
    if announce:  # on stderr: stdout may carry the sink's JSON lines
        print(f"IoT Hub connection string: {simulator.connection_string}", file=sys.stderr)
        print(f"CA bundle (REQUESTS_CA_BUNDLE): {simulator.certificate}", file=sys.stderr)
        print(f"device: {options.device_id}  module: {options.module_id}", file=sys.stderr)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    log.info("stopping")
    await simulator.stop()
