"""The ``lva-simulator`` command: serve, camera, send-message, events; deploy and remove."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from . import __version__
from .edge.commands import add_edge_commands
from .iothub.connection_string import ConnectionStringError

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def _volume(text: str) -> tuple[str, Path]:
    inside, sep, outside = text.partition("=")
    if not sep or not inside.startswith("/") or not outside:
        raise argparse.ArgumentTypeError(f"expected /PATH/IN/MODULE=FOLDER, got {text!r}")
    return inside.rstrip("/") or "/", Path(outside)


def _module_address(text: str) -> tuple[str, str]:
    name, sep, address = text.partition("=")
    if not sep or not name or not address or "/" in address:
        raise argparse.ArgumentTypeError(f"expected NAME=HOST[:PORT], got {text!r}")
    return name, address


def _serve(args: argparse.Namespace) -> int:
    from .app import SimulatorOptions, default_state_dir, run
    from .graph.events import EventOutputs
    from .graph.node import Playback
    from .web import WebOptions

    logging.basicConfig(level=args.log_level.upper(), format=LOG_FORMAT, stream=sys.stderr)
    options = SimulatorOptions(
        host=args.host,
        port=args.port,
        state_dir=args.state_dir or default_state_dir(),
        device_id=args.device_id,
        module_id=args.module_id,
        sink_output=args.sink_output,
        playback=Playback(loop=not args.once, realtime=not args.fast),
        event_outputs=EventOutputs(
            args.operational_events_output_name, args.diagnostics_events_output_name
        ),
        assets_dir=args.assets_dir,
        volumes=dict(args.volume),
        camera_media=args.camera_media,
        camera_port=args.camera_port,
        camera_username=args.camera_username,
        camera_password=os.environ.get("LVA_SIMULATOR_CAMERA_PASSWORD", args.camera_password),
        modules=dict(args.module_address + [("rtspsim", args.rtspsim)] * bool(args.rtspsim)),
        public_address=args.public_address,
        web=None if args.no_web else WebOptions(args.web_host, args.web_port),
    )
    asyncio.run(run(options))
    return 0


def _camera(args: argparse.Namespace) -> int:
    from .camera import CameraProcess

    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT, stream=sys.stderr)
    password = os.environ.get("LVA_SIMULATOR_CAMERA_PASSWORD", args.password)
    camera = CameraProcess(args.media, args.host, args.port, args.username, password)

    async def serve() -> None:
        url = await camera.start()
        for path in sorted(p for p in args.media.iterdir() if p.is_file()):
            print(f"{url}{path.name}", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        await stop.wait()
        await camera.stop()

    asyncio.run(serve())
    return 0


def _send_message(args: argparse.Namespace) -> int:
    from .app import default_state_dir
    from .iothub.client import SendError, send_message
    from .iothub.connection_string import HubConnectionString

    state = args.state_dir or default_state_dir()
    # The simulator of STATE_DIR, unless the environment names a hub (as the console app's does).
    text = os.environ.get("IoThubConnectionString", "")  # noqa: SIM112 - the samples' name
    certificate = os.environ.get("REQUESTS_CA_BUNDLE", "")
    if args.state_dir is not None or not text:
        where = state / "connection-string.txt"
        if not where.is_file():
            raise ConnectionStringError(
                f"no simulator is serving with state directory {state} (no {where.name});"
                " start one with lva-simulator serve, or set IoThubConnectionString"
            )
        text, certificate = where.read_text(), str(state / "hub-cert.pem")
    properties = {}
    for item in args.property:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise ValueError(f"--property: expected NAME=VALUE, got {item!r}")
        properties[name] = value
    try:
        json.loads(args.body)
    except json.JSONDecodeError as error:
        raise ValueError(f"--body: not JSON ({error})") from None
    try:
        delivered = send_message(
            HubConnectionString.parse(text),
            Path(certificate) if certificate else None,
            args.device_id,
            args.module_id,
            args.input,
            args.body.encode(),
            properties,
        )
    except SendError as error:
        print(f"lva-simulator send-message: {error}", file=sys.stderr)
        return 1
    if not delivered:
        print(
            f"lva-simulator send-message: no running graph instance reads input {args.input!r}"
            " (an IoT Hub message source with that hubInputName)",
            file=sys.stderr,
        )
        return 1
    print(f"delivered to {delivered} IoT Hub message source(s) reading {args.input!r}")
    return 0


def _events(args: argparse.Namespace) -> int:
    from .watch import watch

    if not args.follow and not args.path.is_file():
        print(f"lva-simulator events: no such file: {args.path}", file=sys.stderr)
        return 2
    tally = watch(args.path, args.follow)
    print(tally.summary(), flush=True)
    return 0


def _add_identity(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--state-dir",
        type=Path,
        help="key, certificate, topologies and instances [$XDG_STATE_HOME/lva-simulator]",
    )
    parser.add_argument(
        "--device-id", default="lva-sim-device", help="edge device id [lva-sim-device]"
    )
    parser.add_argument("--module-id", default="lvaEdge", help="LVA module id [lvaEdge]")


def _add_serve(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    serve = commands.add_parser(
        "serve",
        help="answer LVA direct methods over HTTPS and run the active graph instances",
        description="Serve the IoT Hub direct-method REST API on HOST:PORT (HTTPS, a self-signed"
        " certificate) for one device and its LVA module; run graph instances when activated."
        " The connection string is printed and written to STATE_DIR/connection-string.txt.",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on [127.0.0.1]")
    serve.add_argument("--port", type=int, default=8443, help="HTTPS port; 0 = any free one [8443]")
    serve.add_argument(
        "--public-address",
        default="",
        metavar="HOST:PORT",
        help="the address clients use, when not HOST:PORT (a published container port):"
        " the connection string's HostName [HOST:PORT]",
    )
    _add_identity(serve)
    serve.add_argument(
        "--sink-output",
        default="-",
        help="where the module's messages go as JSON lines: a file, or - for stdout [-]",
    )
    serve.add_argument(
        "--once", action="store_true", help="play local video files once, not looped"
    )
    serve.add_argument(
        "--fast",
        action="store_true",
        help="read local video files as fast as the graph takes them, not in real time",
    )
    serve.add_argument(
        "--web-host", default="127.0.0.1", help="address of the web view [127.0.0.1]"
    )
    serve.add_argument(
        "--web-port", type=int, default=8090, help="port of the web view; 0 = any free one [8090]"
    )
    serve.add_argument(
        "--no-web", action="store_true", help="no web view (graphs, frames, events, recordings)"
    )
    serve.add_argument("--log-level", default="INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR"))
    twin = serve.add_argument_group("the module twin's event outputs ('' publishes nothing)")
    twin.add_argument(
        "--operational-events-output-name",
        default="AmsOperational",
        help="operationalEventsOutputName: recording events [AmsOperational]",
    )
    twin.add_argument(
        "--diagnostics-events-output-name",
        default="AmsDiagnostics",
        help="diagnosticsEventsOutputName: sessions and errors [AmsDiagnostics]",
    )
    media = serve.add_argument_group("cameras and recordings")
    media.add_argument(
        "--camera-media",
        type=Path,
        help="serve this folder of videos over RTSP, as the samples' rtspsim module: graph URLs"
        " rtsp://rtspsim:554/media/FILE play FILE",
    )
    media.add_argument(
        "--camera-port", type=int, default=8554, help="its RTSP port; 0 = any [8554]"
    )
    media.add_argument("--camera-username", default="", help="RTSP user name it asks for [none]")
    media.add_argument(
        "--camera-password",
        default="",
        help="and its password (or LVA_SIMULATOR_CAMERA_PASSWORD)",
    )
    media.add_argument(
        "--rtspsim",
        default="",
        metavar="HOST:PORT",
        help="the camera the host name rtspsim stands for, when it runs elsewhere",
    )
    media.add_argument(
        "--module-address",
        type=_module_address,
        action="append",
        default=[],
        metavar="NAME=HOST[:PORT]",
        help="graphs reach the module NAME (a host name in their URLs, e.g. grpcExtension) at"
        " HOST[:PORT], as module names resolve on an edge device; repeatable",
    )
    media.add_argument(
        "--assets-dir", type=Path, help="where asset sinks keep assets [STATE_DIR/assets]"
    )
    media.add_argument(
        "--volume",
        type=_volume,
        action="append",
        default=[],
        metavar="/PATH=FOLDER",
        help="write what a graph puts under /PATH (a file sink's baseDirectoryPath) into FOLDER,"
        " as the module's container binds it; repeatable",
    )
    serve.set_defaults(run=_serve)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lva-simulator",
        description="A local stand-in for IoT Hub and the Live Video Analytics edge module.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    _add_serve(commands)

    camera = commands.add_parser(
        "camera",
        help="serve a folder of videos over RTSP, like the samples' rtspsim module",
        description="Serve every file of MEDIA at rtsp://HOST:PORT/media/FILE (H.264, sent as it"
        " is; each client from the start; the session ends at the end of the file). Runs"
        " GStreamer's RTSP server under the system Python. Prints the URLs; Ctrl+C stops it.",
    )
    camera.add_argument("--media", type=Path, required=True, help="the folder of videos")
    camera.add_argument("--host", default="127.0.0.1", help="address to listen on [127.0.0.1]")
    camera.add_argument("--port", type=int, default=8554, help="RTSP port; 0 = any [8554]")
    camera.add_argument("--username", default="", help="user name clients must give [none]")
    camera.add_argument(
        "--password", default="", help="and its password (or LVA_SIMULATOR_CAMERA_PASSWORD)"
    )
    camera.set_defaults(run=_camera)

    send = commands.add_parser(
        "send-message",
        help="send a message to the LVA module's input (an IoT Hub message source)",
        description="Send one message to INPUT of the simulated module, as another module's"
        " output routed there would arrive: graph instances whose MediaGraphIoTHubMessageSource"
        " has hubInputName INPUT get it (a signal gate opens). Uses the connection string and"
        " certificate in STATE_DIR (when given, or when IoThubConnectionString is not set), else"
        " IoThubConnectionString and REQUESTS_CA_BUNDLE.",
    )
    send.add_argument("input", help="the module input (hubInputName), e.g. recordingTrigger")
    send.add_argument("--body", default="{}", help="the message body, JSON [{}]")
    send.add_argument(
        "--property",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="an application property; repeatable",
    )
    _add_identity(send)
    send.set_defaults(run=_send_message)

    events = commands.add_parser(
        "events",
        help="show a sink's JSON lines as one readable line per message",
        description="Print one line per message of a --sink-output file, then how many there"
        " were and at what rate. --follow waits for more until Ctrl+C or SIGTERM.",
    )
    events.add_argument("path", type=Path)
    events.add_argument("--follow", "-f", action="store_true", help="wait for new messages")
    events.set_defaults(run=_events)
    add_edge_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from .camera import CameraError

    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args))
    except (ValueError, ConnectionStringError, OSError, CameraError) as error:
        print(f"lva-simulator {args.command}: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
