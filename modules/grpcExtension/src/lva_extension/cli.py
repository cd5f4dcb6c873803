"""The ``lva-extension`` command: serve, send, health, models, sample-clip."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from . import __version__
from .errors import ConfigurationError
from .frames import PIXEL_LAYOUTS, pixel_format_name
from .logs import configure_logging
from .settings import Settings, add_setting_flags


def _serve(args: argparse.Namespace) -> int:
    from .server import serve

    settings = Settings.load(vars(args))
    configure_logging(settings.log_level)
    if settings.workers > 1:
        from .server.supervisor import Supervisor

        return Supervisor(settings).supervise()
    with asyncio.Runner() as runner:
        if not runner.run(serve(settings)):
            # Something never returned (a processor), or a second signal said not to
            # wait: exit now rather than in the interpreter's join of those threads.
            logging.shutdown()
            os._exit(0)
    return 0


def _health(args: argparse.Namespace) -> int:
    from .client.credentials import certificate_host_name, client_credentials
    from .client.health import probe

    settings = Settings.load({})
    address = args.address or settings.binding.client_address
    ca, server_name = args.tls_ca, args.server_name
    if not ca and settings.tls_cert_file:
        # A container's own HEALTHCHECK: trust the server's (self-signed) certificate,
        # which names the module, not the loopback address the check dials.
        ca = settings.tls_cert_file
        server_name = server_name or certificate_host_name(ca)
    credentials = client_credentials(ca) if ca else None
    status = probe(address, args.timeout, credentials, server_name, args.wait)
    print(status)
    return 0 if status == "SERVING" else 1


def _models(args: argparse.Namespace) -> int:
    from .models import repository_room
    from .models.listing import as_text, describe_repository

    configure_logging("WARNING")
    settings = Settings.load({"model_repository": args.model_repository})
    if not settings.model_repository:
        raise ConfigurationError(
            "modelRepository: not set (give --model-repository, or the environment variable)"
        )
    directory = Path(settings.model_repository)
    if not directory.is_dir():
        raise ConfigurationError(f"modelRepository: {directory} is not a directory")
    described = describe_repository(repository_room(settings))
    print(json.dumps(described, indent=2) if args.json else as_text(described))
    return 1 if any("error" in model for model in described) else 0


def _frames(args: argparse.Namespace) -> Iterator[np.ndarray]:
    from .client import clips

    if args.video:
        return clips.video_frames(args.video, args.frames, loop=args.loop)
    if args.image:
        return clips.image_frames(args.image, args.frames or 1)
    return clips.dark_light_frames(args.width, args.height, args.frames or 60)


def _send(args: argparse.Namespace) -> int:
    from .client import ClientOptions, ExtensionCallError, ExtensionClient, StreamFormat
    from .client.credentials import auth_metadata, client_credentials
    from .client.inference_json import to_message

    configure_logging("WARNING")
    password = args.password or os.environ.get("LVA_EXTENSION_PASSWORD", "")
    metadata = auth_metadata(args.username or "", password)
    options = ClientOptions(
        address=args.address,
        format=StreamFormat(
            args.encoding, args.pixel_format, args.width, args.height, args.stride_padding
        ),
        shared_memory=args.shm,
        shared_memory_bytes=args.shm_size_mib * 1024 * 1024,
        window=args.window,
        fps=args.fps,
        extension_configuration=args.config,
        metadata=metadata,
        channel_credentials=client_credentials(args.tls_ca) if args.tls_ca else None,
        channel_options=(
            (("grpc.ssl_target_name_override", args.server_name),) if args.server_name else ()
        ),
    )
    client = ExtensionClient(options)
    output = None

    async def run() -> None:
        frames = output.stamp(_frames(args)) if output else _frames(args)
        async for result in client.stream(frames):
            message = to_message(result.timestamp, result.inferences)
            if message is not None and not args.quiet:
                print(json.dumps(message), flush=True)
            if output:
                await asyncio.to_thread(output.write, result)

    try:
        if args.annotate:
            from .client.annotated_output import AnnotatedOutput

            output = AnnotatedOutput(args.annotate, options.timescale, options.nominal_fps)
        asyncio.run(run())
    except ExtensionCallError as error:
        print(f"lva-extension send: the server ended the stream: {error}", file=sys.stderr)
        return 1
    except (FileNotFoundError, FileExistsError) as error:
        print(f"lva-extension send: {error}", file=sys.stderr)
        return 2
    finally:
        if output:
            output.close()
    if output:
        print(output.describe(), file=sys.stderr)
    print(client.summary.describe(), file=sys.stderr)
    return 1 if client.summary.violations else 0


def _sample_clip(args: argparse.Namespace) -> int:
    from .client.clips import dark_light_frames, moving_frames, write_clip

    if args.frames < 1 or args.fps < 1 or args.width < 16 or args.height < 16:
        raise ConfigurationError("expected at least 1 frame, 1 fps and 16x16 pixels")
    gop = args.gop or max(1, args.fps // 2)
    scene = moving_frames if args.scene == "moving" else dark_light_frames
    count = write_clip(args.path, scene(args.width, args.height, args.frames), args.fps, gop)
    print(
        f"wrote {count} frames ({args.scene}, {args.width}x{args.height}, {args.fps} fps,"
        f" a keyframe every {gop} frames) to {args.path}"
    )
    return 0


def _add_tls_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tls-ca", help="connect with TLS, trusting this PEM CA certificate")
    parser.add_argument("--server-name", help="expect this name in the server certificate")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lva-extension", description=__doc__)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser(
        "serve",
        help="run the extension server",
        description="Run the gRPC extension server. Each flag overrides its environment"
        " variable, which overrides a .env file in the working directory.",
    )
    add_setting_flags(serve)
    serve.set_defaults(handler=_serve)

    send = commands.add_parser(
        "send",
        help="stream frames to a server, as an LVA graph would",
        description="Stream frames to an extension server and print one inference JSON line"
        " per frame that has inferences; a summary goes to stderr. Exit code 1 if the"
        " server ended the stream with an error or broke the protocol.",
    )
    send.add_argument("--address", default="127.0.0.1:5001", help="server HOST:PORT")
    source = send.add_mutually_exclusive_group()
    source.add_argument("--video", type=Path, help="frames from this video file (PyAV)")
    source.add_argument("--image", type=Path, help="send this image --frames times")
    send.add_argument("--frames", type=int, help="how many frames (default: all, or 60 generated)")
    send.add_argument("--loop", action="store_true", help="loop the video")
    send.add_argument("--encoding", choices=("raw", "jpg", "png", "bmp"), default="raw")
    send.add_argument(
        "--pixel-format",
        choices=[pixel_format_name(p).lower() for p in PIXEL_LAYOUTS],
        default="rgb24",
        help="for raw frames",
    )
    send.add_argument("--width", type=int, default=416)
    send.add_argument("--height", type=int, default=416)
    send.add_argument("--stride-padding", type=int, default=0, help="bytes added to each raw row")
    send.add_argument("--shm", action="store_true", help="transfer frames through shared memory")
    send.add_argument(
        "--shm-size-mib", type=int, default=0, help="ring size (default: fits window)"
    )
    send.add_argument("--window", type=int, default=8, help="samples in flight")
    send.add_argument("--fps", type=float, help="pace frames at this rate (default: unpaced)")
    send.add_argument("--config", default="", help="the extension_configuration to send")
    send.add_argument("--quiet", action="store_true", help="print only the summary")
    send.add_argument(
        "--annotate",
        type=Path,
        metavar="OUT",
        help="write every answered frame with its inferences drawn: OUT.mp4, or a folder of JPEGs",
    )
    send.add_argument("--username", help="send Basic credentials (x-ms-authentication)")
    send.add_argument(
        "--password", help="the password (default: environment LVA_EXTENSION_PASSWORD)"
    )
    _add_tls_flags(send)
    send.set_defaults(handler=_send)

    health = commands.add_parser(
        "health",
        help="ask a server's grpc.health.v1 service; exit 0 if SERVING",
        description="Ask the standard gRPC health service; print the status and exit 0 if it"
        " is SERVING, 1 otherwise. The address defaults to grpcBinding (environment or .env),"
        " and with tlsCertFile set the server's own certificate is trusted.",
    )
    health.add_argument("--address", help="server HOST:PORT (default: from grpcBinding)")
    health.add_argument("--timeout", type=float, default=3.0, help="seconds per attempt")
    health.add_argument("--wait", type=float, default=0.0, help="retry until SERVING this long")
    _add_tls_flags(health)
    health.set_defaults(handler=_health)

    models = commands.add_parser(
        "models",
        help="list the models of the model repository",
        description="Load every model of the model repository as the server would and list"
        " each with its inputs, outputs, decoder, batching policy, sessions and the options a"
        " stream may set. Exit code 1 if a model does not load.",
    )
    models.add_argument(
        "--model-repository", help="the repository (default: modelRepository, environment or .env)"
    )
    models.add_argument("--json", action="store_true", help="print JSON")
    models.set_defaults(handler=_models)

    clip = commands.add_parser(
        "sample-clip",
        help="write a sample H.264 video: dark/light scenes, or boxes moving",
        description="Write a sample H.264 video. --scene dark-light: scenes alternately dark"
        " and light (for colorIntensity); --scene moving: a still, dark background with a light"
        " box crossing it in 20-45%% of the clip and another in 65-85%% (for motion detection"
        " and event-based recording). No B-frames, a keyframe every --gop frames.",
    )
    clip.add_argument("path", type=Path)
    clip.add_argument("--scene", choices=("dark-light", "moving"), default="dark-light")
    clip.add_argument("--width", type=int, default=416)
    clip.add_argument("--height", type=int, default=416)
    clip.add_argument("--frames", type=int, default=90)
    clip.add_argument("--fps", type=int, default=15)
    clip.add_argument("--gop", type=int, help="frames from one keyframe to the next [fps/2]")
    clip.set_defaults(handler=_sample_clip)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args))
    except ConfigurationError as error:
        print(f"lva-extension {args.command}: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # the reader of our output went away (| head)
        sys.stderr.close()
        return 0
