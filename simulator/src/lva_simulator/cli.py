"""The ``lva-simulator`` command: serve, events."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from . import __version__
from .iothub.connection_string import ConnectionStringError


def _serve(args: argparse.Namespace) -> int:
    from .app import SimulatorOptions, default_state_dir, run
    from .graph.node import Playback

    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    options = SimulatorOptions(
        host=args.host,
        port=args.port,
        state_dir=args.state_dir or default_state_dir(),
        device_id=args.device_id,
        module_id=args.module_id,
        sink_output=args.sink_output,
        playback=Playback(loop=not args.once, realtime=not args.fast),
    )
    asyncio.run(run(options))
    return 0


def _events(args: argparse.Namespace) -> int:
    from .watch import watch

    if not args.follow and not args.path.is_file():
        print(f"lva-simulator events: no such file: {args.path}", file=sys.stderr)
        return 2
    tally = watch(args.path, args.follow)
    print(tally.summary(), flush=True)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lva-simulator",
        description="A local stand-in for IoT Hub and the Live Video Analytics edge module.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

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
        "--state-dir",
        type=Path,
        help="key, certificate, topologies and instances [$XDG_STATE_HOME/lva-simulator]",
    )
    serve.add_argument(
        "--device-id", default="lva-sim-device", help="edge device id [lva-sim-device]"
    )
    serve.add_argument("--module-id", default="lvaEdge", help="LVA module id [lvaEdge]")
    serve.add_argument(
        "--sink-output",
        default="-",
        help="where IoT Hub message sinks write JSON lines: a file, or - for stdout [-]",
    )
    serve.add_argument(
        "--once", action="store_true", help="play local video files once, not looped"
    )
    serve.add_argument(
        "--fast",
        action="store_true",
        help="read local video files as fast as the graph takes them, not in real time",
    )
    serve.add_argument("--log-level", default="INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR"))
    serve.set_defaults(run=_serve)

    events = commands.add_parser(
        "events",
        help="show a sink's JSON lines as one readable line per inference message",
        description="Print one line per inference message of a --sink-output file, then how"
        " many there were and at what rate. --follow waits for more until Ctrl+C or SIGTERM.",
    )
    events.add_argument("path", type=Path)
    events.add_argument("--follow", "-f", action="store_true", help="wait for new messages")
    events.set_defaults(run=_events)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args))
    except (ValueError, ConnectionStringError, OSError) as error:
        print(f"lva-simulator {args.command}: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
