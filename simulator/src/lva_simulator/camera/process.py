"""Start and stop the camera (rtsp_server.py) as a process of the system Python.

GStreamer's Python bindings come from Debian (python3-gi,
gir1.2-gst-rtsp-server-1.0; ``scripts/setup.sh`` installs them), so the server
runs under ``/usr/bin/python3`` (or ``LVA_SIMULATOR_CAMERA_PYTHON``), not the
simulator's virtual environment. It says ``ready rtsp://HOST:PORT/media/`` when
it listens; until then, or if it exits, this says why.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from pathlib import Path
from urllib.parse import urlsplit

log = logging.getLogger(__name__)

SERVER = Path(__file__).with_name("rtsp_server.py")
START_SECONDS = 15.0
STOP_SECONDS = 5.0
PACKAGES = "python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-base/good/bad"


class CameraError(RuntimeError):
    pass


def system_python() -> str:
    return os.environ.get("LVA_SIMULATOR_CAMERA_PYTHON", "/usr/bin/python3")


class CameraProcess:
    def __init__(
        self,
        media: Path,
        host: str = "127.0.0.1",
        port: int = 8554,
        username: str = "",
        password: str = "",
    ) -> None:
        self.media = media
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.url = ""  # rtsp://HOST:PORT/media/ once started
        self._process: asyncio.subprocess.Process | None = None
        self._stderr: asyncio.Task[None] | None = None

    @property
    def address(self) -> str:
        """host:port, what the name rtspsim stands for."""
        return urlsplit(self.url).netloc

    async def start(self) -> str:
        if not self.media.is_dir():
            raise CameraError(f"no such folder of videos: {self.media}")
        python = system_python()
        command = [python, str(SERVER), "--media", str(self.media), "--host", self.host]
        command += ["--port", str(self.port), "--parent-pipe"]
        if self.username:
            command += ["--username", self.username, "--password", self.password]
        try:
            self._process = await asyncio.create_subprocess_exec(
                *command,
                stdin=asyncio.subprocess.PIPE,  # closed when we end: the camera ends too
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
        except OSError as error:
            raise CameraError(f"cannot run {python} for the camera: {error}") from None
        assert self._process.stdout is not None and self._process.stderr is not None
        lines: list[str] = []
        try:
            ready = await asyncio.wait_for(self._process.stdout.readline(), START_SECONDS)
        except TimeoutError:
            ready = b""
        if not ready.startswith(b"ready "):
            # It has usually exited: let asyncio's child watcher reap it first, because
            # signalling polls the process and a reaped child makes asyncio log "Unknown
            # child process" on the user's terminal.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._process.wait(), 1)
            await self.stop()
            lines = (await self._process.stderr.read()).decode(errors="replace").splitlines()
            raise CameraError(_why(lines, python))
        self.url = ready.decode().split(" ", 1)[1].strip()
        self._stderr = asyncio.ensure_future(self._relay(self._process.stderr))
        return self.url

    async def _relay(self, stream: asyncio.StreamReader) -> None:
        while line := await stream.readline():
            log.info("%s", line.decode(errors="replace").rstrip())

    async def stop(self) -> None:
        process = self._process
        if process is None or process.returncode is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), STOP_SECONDS)
        except TimeoutError:
            process.kill()
            await process.wait()
        if self._stderr is not None:
            await asyncio.gather(self._stderr, return_exceptions=True)


def _why(lines: list[str], python: str) -> str:
    text = "; ".join(line for line in lines[-5:] if line.strip()) or "it exited without a word"
    if "No module named 'gi'" in text or "Namespace GstRtspServer not available" in text:
        return (
            f"the camera needs GStreamer's RTSP server for {python}: install {PACKAGES}"
            " (scripts/setup.sh does)"
        )
    return f"the camera did not start: {text}"
