"""Headless Chromium (Debian's package), driven over the DevTools protocol.

No driver binary and nothing downloaded: Chromium listens for DevTools on a
loopback port it picks (written to DevToolsActivePort in a new, empty
profile folder), and a websocket from aiohttp speaks the protocol. Pages'
uncaught exceptions are collected in ``errors``.

    with headless_chromium() as browser:
        browser.open(url)
        browser.wait_for("document.querySelectorAll('canvas').length > 0")
        browser.evaluate("document.title")
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import aiohttp

from tests.support.loop_thread import LoopThread

CHROMIUM = os.environ.get("CHROMIUM", "/usr/lib/chromium/chromium")
# As the machine's notes say: no sandbox as root, no GPU, and none of the
# background traffic that a closed network refuses.
FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--disable-extensions",
    "--disable-default-apps",
    "--no-first-run",
    "--no-default-browser-check",
    "--mute-audio",
    "--autoplay-policy=no-user-gesture-required",
    "--remote-debugging-address=127.0.0.1",
    "--remote-debugging-port=0",
    "--window-size=1360,860",
)


def chromium_path() -> str:
    for candidate in (CHROMIUM, "/usr/bin/chromium"):
        if Path(candidate).is_file():
            return candidate
    raise AssertionError(f"no Chromium at {CHROMIUM}: scripts/setup.sh installs Debian's chromium")


class CdpError(Exception):
    pass


class Browser:
    def __init__(self) -> None:
        self.profile = Path(tempfile.mkdtemp(prefix="lva-chromium-"))
        self.process = subprocess.Popen(
            [chromium_path(), *FLAGS, f"--user-data-dir={self.profile}", "about:blank"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # its helper processes end with it (see close)
        )
        self.errors: list[str] = []
        self._loop = LoopThread()
        self._next_id = 0
        self._answers: dict[int, asyncio.Future[dict[str, Any]]] = {}
        try:
            port = self._devtools_port()
            self._loop.call(self._connect(port))
        except BaseException:
            self.close()
            raise

    def _devtools_port(self, timeout: float = 30) -> int:
        marker = self.profile / "DevToolsActivePort"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"chromium exited with {self.process.returncode}")
            text = marker.read_text() if marker.is_file() else ""
            if "\n" in text:
                return int(text.split()[0])
            time.sleep(0.05)
        raise AssertionError("chromium did not open its DevTools port")

    async def _connect(self, port: int) -> None:
        self._session = aiohttp.ClientSession()
        async with self._session.put(f"http://127.0.0.1:{port}/json/new?about:blank") as answer:
            target = await answer.json()
        self._socket = await self._session.ws_connect(
            target["webSocketDebuggerUrl"], max_msg_size=0
        )
        self._reader = asyncio.ensure_future(self._read())
        for domain in ("Page", "Runtime"):
            await self._send(f"{domain}.enable", {})

    async def _read(self) -> None:
        async for message in self._socket:
            if message.type != aiohttp.WSMsgType.TEXT:
                continue
            data = json.loads(message.data)
            answer = self._answers.pop(data.get("id", -1), None)
            if answer is not None and not answer.done():
                answer.set_result(data)
            elif data.get("method") == "Runtime.exceptionThrown":
                details = data["params"]["exceptionDetails"]
                self.errors.append(str(details.get("exception", {}).get("description", details)))
        for answer in self._answers.values():
            if not answer.done():
                answer.set_exception(CdpError("the DevTools connection closed"))

    async def _send(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        self._next_id += 1
        answer = asyncio.get_running_loop().create_future()
        self._answers[self._next_id] = answer
        await self._socket.send_json({"id": self._next_id, "method": method, "params": params})
        data = await answer
        if "error" in data:
            raise CdpError(f"{method}: {data['error']}")
        return dict(data.get("result", {}))

    def command(self, method: str, timeout: float = 30, **params: Any) -> dict[str, Any]:
        return self._loop.call(self._send(method, params), timeout)

    def open(self, url: str) -> None:
        """Go to a URL and wait until its document has loaded."""
        # Marks the page we leave, so the wait below cannot see it as the new one.
        self.evaluate("window.lvaLeaving = true")
        self.command("Page.navigate", url=url)
        self.wait_for("document.readyState === 'complete' && !window.lvaLeaving")

    def evaluate(self, expression: str, timeout: float = 30) -> Any:
        """The value of a JavaScript expression (promises awaited)."""
        result = self.command(
            "Runtime.evaluate",
            timeout,
            expression=expression,
            returnByValue=True,
            awaitPromise=True,
        )
        if "exceptionDetails" in result:
            raise CdpError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 30) -> Any:
        """Poll until an expression is truthy; returns its value."""
        deadline = time.monotonic() + timeout
        value = None
        while time.monotonic() < deadline:
            try:
                value = self.evaluate(expression)
            except CdpError:
                value = None  # a page still loading
            if value:
                return value
            time.sleep(0.1)
        raise AssertionError(f"still false after {timeout} s: {expression} (last: {value!r})")

    def screenshot(self, path: Path) -> None:
        data = self.command("Page.captureScreenshot", format="png", captureBeyondViewport=False)
        path.write_bytes(base64.b64decode(data["data"]))

    def close(self) -> None:
        async def disconnect() -> None:
            if hasattr(self, "_socket"):
                await self._socket.close()
                await asyncio.gather(self._reader, return_exceptions=True)
            if hasattr(self, "_session"):
                await self._session.close()

        try:
            self._loop.call(disconnect(), 10)
        finally:
            self._loop.close()
            self._end(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._end(signal.SIGKILL)
                self.process.wait(timeout=10)
            shutil.rmtree(self.profile, ignore_errors=True)

    def _end(self, sig: int) -> None:
        """Signal the browser's own process group: the browser and its helpers."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, sig)


@contextmanager
def headless_chromium() -> Iterator[Browser]:
    browser = Browser()
    try:
        yield browser
    finally:
        browser.close()
