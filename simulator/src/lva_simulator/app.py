"""The simulator: one IoT hub with one edge device whose LVA module runs graphs.

Phases: ``start`` (state directory, key and certificate, the camera if it has a
folder of videos, the HTTPS front end, the connection string printed and
written to ``connection-string.txt``, the web view and its link in
``web-url.txt``, then the instances that were active start again), serving,
``stop`` (the web view closes, graphs stop, recordings are finished, the
front end and the camera close; stored states are kept).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import signal
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .camera import CameraProcess
from .graph.events import EventOutputs, MessageWriter, Publisher
from .graph.node import Playback, RunOptions
from .graph.observer import GraphObserver, NullObserver, watching
from .graph.plan import GraphPlan
from .graph.recordings import Recording
from .graph.runner import Environment, GraphRun
from .iothub import certificates
from .iothub.connection_string import DEFAULT_POLICY, HubConnectionString, load_or_create_key
from .iothub.hub import HubServer
from .module.methods import LvaModule
from .module.store import Store
from .web import WebOptions, WebView

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
    # The module twin's diagnosticsEventsOutputName / operationalEventsOutputName ("" = off).
    event_outputs: EventOutputs = field(default_factory=EventOutputs)
    assets_dir: Path | None = None  # default STATE_DIR/assets
    volumes: Mapping[str, Path] = field(default_factory=dict)  # container path -> folder here
    camera_media: Path | None = None  # serve this folder over RTSP as rtspsim
    camera_port: int = 8554
    camera_username: str = ""
    camera_password: str = field(default="", repr=False)
    # Module names graphs use as host names -> where they listen here ("rtspsim" -> the camera).
    modules: Mapping[str, str] = field(default_factory=dict)
    observer: GraphObserver = field(default_factory=NullObserver)
    # HOST:PORT that clients use when it is not host:port (a container's published port):
    # the connection string's HostName, which their tokens are signed for.
    public_address: str = ""
    web: WebOptions | None = None  # None: no web view

    def __post_init__(self) -> None:
        for what, port in (("port", self.port), ("camera port", self.camera_port)):
            if not 0 <= port <= 65535:
                raise ValueError(f"{what}: expected 0 to 65535, got {port}")
        public_host, _, public_port = self.public_address.rpartition(":")
        if self.public_address and not (public_host and public_port.isdigit()):
            raise ValueError(f"public address: expected HOST:PORT, got {self.public_address!r}")
        if self.camera_media is not None and "rtspsim" in {m.lower() for m in self.modules}:
            raise ValueError("give a camera folder or an address for rtspsim, not both")
        for inside in self.volumes:
            if not inside.startswith("/"):
                raise ValueError(
                    f"volume: expected an absolute path inside the module, got {inside!r}"
                )
        for what, value in (("device id", self.device_id), ("module id", self.module_id)):
            if not value or "/" in value:
                raise ValueError(f"{what}: expected a name without '/', got {value!r}")


class Simulator:
    def __init__(self, options: SimulatorOptions) -> None:
        self.options = options
        self.writer = MessageWriter(options.sink_output)
        self.web: WebView | None = None
        observer = options.observer
        if options.web is not None:
            self.web = WebView(
                options.web, options.state_dir / "web", self.recordings, self._invoke
            )
            observer = watching(observer, self.web.observatory)
        publisher = Publisher(self.writer, options.event_outputs, observer)
        run_options = RunOptions(
            options.playback,
            options.assets_dir or options.state_dir / "assets",
            {name.lower(): address for name, address in options.modules.items()},
            dict(options.volumes),
        )
        self.environment = Environment(run_options, publisher)
        self.store = Store(options.state_dir / "state.json")
        self.module = LvaModule(self.store, self._make_run)
        self.hub: HubServer | None = None
        self.camera: CameraProcess | None = None
        self.connection_string: HubConnectionString | None = None

    def _make_run(self, plan: GraphPlan) -> GraphRun:
        return GraphRun(plan, self.environment)

    async def _invoke(self, method: str, payload: Any) -> tuple[int, Any]:
        return await self.module.invoke(method, payload)

    def recordings(self) -> list[Recording]:
        """Every recording the sinks have made since the simulator started, and first those
        the sinks of the stored instances had left on disk before (files, no media times)."""
        return self.environment.recordings.list()

    def _find_earlier_recordings(self) -> None:
        found = [r for plan in self.module.plans() for r in self._make_run(plan).on_disk()]
        self.environment.recordings.restore(found)
        if found:
            log.info("recordings on disk from before this start: %d", len(found))

    @property
    def certificate(self) -> Path:
        return self.options.state_dir / "hub-cert.pem"

    @property
    def connection_string_file(self) -> Path:
        return self.options.state_dir / "connection-string.txt"

    @property
    def web_url_file(self) -> Path:
        return self.options.state_dir / "web-url.txt"

    async def start(self) -> None:
        try:
            await self._start()
        except BaseException:  # a port in use, a camera that cannot start: undo the rest
            await self.stop()
            raise

    async def _start(self) -> None:
        options = self.options
        state = options.state_dir
        # It holds the hub's key and graph credentials: only its owner may look in.
        state.mkdir(mode=0o700, parents=True, exist_ok=True)
        state.chmod(0o700)
        key = load_or_create_key(state / "hub-key.txt")
        public_host = options.public_address.rpartition(":")[0].strip("[]")
        names = sorted(
            {options.host, "localhost", "127.0.0.1", "::1", public_host} - {"0.0.0.0", "::", ""}
        )
        cert, cert_key = certificates.ensure(state, names)
        if options.camera_media is not None:
            self.camera = CameraProcess(
                options.camera_media,
                options.host if options.host not in ("0.0.0.0", "::") else "127.0.0.1",
                options.camera_port,
                options.camera_username,
                options.camera_password,
            )
            await self.camera.start()
            modules = {**self.environment.options.modules, "rtspsim": self.camera.address}
            self.environment.options = dataclasses.replace(
                self.environment.options, modules=modules
            )
        identity = HubConnectionString(f"{options.host}:{options.port}", DEFAULT_POLICY, key)
        self.hub = HubServer(
            identity,
            {(options.device_id, options.module_id): self.module.invoke},
            certificates.server_context(cert, cert_key),
            {(options.device_id, options.module_id): self.module.deliver},
        )
        port = await self.hub.start(options.host, options.port)
        host = f"[{options.host}]" if ":" in options.host else options.host
        self.hub.identity = self.connection_string = HubConnectionString(
            options.public_address or f"{host}:{port}", DEFAULT_POLICY, key
        )
        # It holds the iothubowner key: readable by its owner only.
        _write_whole(self.connection_string_file, str(self.connection_string), mode=0o600)
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
        self._find_earlier_recordings()
        if self.web is not None:
            url = await self.web.start()
            _write_whole(self.web_url_file, url, mode=0o600)  # the link holds the access token
        await self.module.restore()

    async def stop(self) -> None:
        await self.module.shutdown()
        if self.web is not None:  # after the graphs: their last recordings go on its shelf
            await self.web.stop()
            self.web_url_file.unlink(missing_ok=True)
        if self.hub is not None:
            await self.hub.stop()
        if self.camera is not None:
            await self.camera.stop()
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
        if simulator.web is not None:
            print(f"Web view: {simulator.web.url}", file=sys.stderr)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    log.info("stopping")
    await simulator.stop()


def _write_whole(path: Path, text: str, mode: int = 0o644) -> None:
    # Written whole, then renamed: a reader waiting for the file never sees half of it.
    partial = path.with_suffix(".tmp")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    os.fchmod(fd, mode)  # also when an older run left the file behind with other bits
    with os.fdopen(fd, "w") as out:
        out.write(f"{text}\n")
    partial.replace(path)
