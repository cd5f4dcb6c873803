"""An RTSP camera like the LVA samples' rtspsim: a folder of videos, one URL each.

Run by the system Python, which has GStreamer's bindings (python3-gi and
gir1.2-gst-rtsp-server-1.0 from Debian); it imports nothing else, so it
needs none of the simulator's packages::

    /usr/bin/python3 rtsp_server.py --media DIR [--host H] [--port P] [--username U --password W]

Every file in DIR is served at ``rtsp://HOST:PORT/media/<file name>`` (files
added later are found within a second), its H.264 video sent as it is (no
re-encoding) at its own rate. Each client gets the file from its start; at
the end the session ends, and a client that wants more connects again, as
with rtspsim. With a user name, clients must give it and the password
(Digest authentication); without one, anyone may watch. The first line on
stdout is ``ready rtsp://HOST:PORT/media/``; one line per client session goes
to stderr.
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path
from typing import Any

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtsp", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtsp, GstRtspServer  # noqa: E402

ROLE = "viewer"
RESCAN_MS = 1000


def say(text: str) -> None:
    print(f"camera: {text}", file=sys.stderr, flush=True)


class FileFactory(GstRtspServer.RTSPMediaFactory):
    """One file: its H.264 track to pay0; other tracks are dropped."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path
        self.set_shared(False)  # every client from the start of the file

    def do_create_element(self, url: Any) -> Any:
        pipeline = Gst.Bin.new(None)
        source = Gst.ElementFactory.make("filesrc", None)
        source.set_property("location", str(self.path))
        parse = Gst.ElementFactory.make("parsebin", None)
        payloader = Gst.ElementFactory.make("rtph264pay", "pay0")
        payloader.set_property("pt", 96)
        payloader.set_property("config-interval", -1)  # SPS/PPS before every keyframe
        for element in (source, parse, payloader):
            pipeline.add(element)
        source.link(parse)
        parse.connect("pad-added", self._pad_added, pipeline, payloader)
        return pipeline

    def _pad_added(self, parse: Any, pad: Any, pipeline: Any, payloader: Any) -> None:
        caps = pad.get_current_caps() or pad.query_caps(None)
        target = payloader.get_static_pad("sink")
        if caps.to_string().startswith("video/x-h264") and not target.is_linked():
            pad.link(target)
            return
        sink = Gst.ElementFactory.make("fakesink", None)
        pipeline.add(sink)
        sink.sync_state_with_parent()
        pad.link(sink.get_static_pad("sink"))
        if caps.to_string().startswith("video/"):
            kind = caps.to_string().split(",")[0]
            say(f"{self.path.name}: only H.264 video is served, not {kind}")


class Camera:
    def __init__(self, media: Path, host: str, port: int, username: str, password: str) -> None:
        self.media = media
        self.server = GstRtspServer.RTSPServer()
        self.server.set_address(host)
        self.server.set_service(str(port))
        self.mounts = self.server.get_mount_points()
        self.served: set[str] = set()
        self.credentials = (username, password) if username else None
        if self.credentials:
            auth = GstRtspServer.RTSPAuth()
            token = GstRtspServer.RTSPToken()
            token.set_string("media.factory.role", ROLE)
            auth.add_digest(username, password, token)
            auth.set_supported_methods(GstRtsp.RTSPAuthMethod.DIGEST)
            self.server.set_auth(auth)
        self.server.connect("client-connected", self._client_connected)

    def scan(self) -> bool:
        for path in sorted(self.media.iterdir()):
            if path.is_file() and not path.name.startswith(".") and path.name not in self.served:
                factory = FileFactory(path)
                if self.credentials:
                    factory.add_role_from_structure(
                        Gst.Structure.new_from_string(
                            f"{ROLE}, media.factory.access=(boolean)true,"
                            " media.factory.construct=(boolean)true"
                        )
                    )
                self.mounts.add_factory(f"/media/{path.name}", factory)
                self.served.add(path.name)
        return True  # keep the timer

    def _client_connected(self, server: Any, client: Any) -> None:
        address = client.get_connection().get_ip()
        client.connect(
            "describe-request", lambda c, ctx: say(f"{address} asks for {ctx.uri.abspath}")
        )

    def start(self) -> str:
        self.scan()
        if self.server.attach(None) == 0:
            raise OSError(
                f"cannot listen on {self.server.get_address()}:{self.server.get_service()}"
            )
        GLib.timeout_add(RESCAN_MS, self.scan)
        host = self.server.get_address()
        shown = f"[{host}]" if ":" in host else host
        return f"rtsp://{shown}:{self.server.get_bound_port()}/media/"


def _quit(fd: int, condition: Any, loop: Any) -> bool:
    loop.quit()
    return False


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--media", type=Path, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8554)
    parser.add_argument("--username", default="")
    parser.add_argument("--password", default="")
    parser.add_argument("--parent-pipe", action="store_true", help="quit when stdin closes")
    args = parser.parse_args()
    if not args.media.is_dir():
        print(f"camera: no such folder: {args.media}", file=sys.stderr)
        return 2
    Gst.init(None)
    camera = Camera(args.media, args.host, args.port, args.username, args.password)
    try:
        base = camera.start()
    except OSError as error:
        print(f"camera: {error}", file=sys.stderr)
        return 1
    loop = GLib.MainLoop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signum, loop.quit)
    if args.parent_pipe:
        # The simulator keeps our stdin open: when it ends, however it ends, so do we.
        GLib.io_add_watch(sys.stdin.fileno(), GLib.IO_HUP | GLib.IO_IN | GLib.IO_ERR, _quit, loop)
    print(f"ready {base}", flush=True)
    say(f"serving {args.media} at {base}<file>")
    loop.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
