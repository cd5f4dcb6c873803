"""The web view's HTTP server: its own port (loopback by default), one access token."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

from . import access
from .catalogue import Catalogue, RecordingList
from .observatory import Observatory
from .routes import Invoke, Pages
from .shelf import Shelf

log = logging.getLogger(__name__)

SHUTDOWN_SECONDS = 2.0  # streams end at once on stop; this bounds anything else


@dataclass(frozen=True)
class WebOptions:
    host: str = "127.0.0.1"
    port: int = 8090  # 0: any free port
    token: str = field(default_factory=access.new_token, repr=False)

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ValueError(f"web port: expected 0 to 65535, got {self.port}")
        if len(self.token) < 16:
            raise ValueError("web token: expected at least 16 characters")


class WebView:
    def __init__(
        self, options: WebOptions, folder: Path, recordings: RecordingList, invoke: Invoke
    ) -> None:
        """``folder``: the view's own files; ``recordings``: the simulator's list of them."""
        self.options = options
        self.shelf = Shelf(folder / "timelines")
        self.observatory = Observatory(self.shelf)  # the graphs' observer
        self.catalogue = Catalogue(recordings, self.shelf)
        self.invoke = invoke
        self.port = 0
        self._runner: web.AppRunner | None = None

    def application(self) -> web.Application:
        app = web.Application(middlewares=[access.guard(self.options.token)])
        app.add_routes(Pages(self.observatory, self.catalogue, self.invoke).routes())
        app.on_response_prepare.append(access.on_prepare(self.options.token))
        app.on_shutdown.append(self._close_streams)
        return app

    async def _close_streams(self, app: web.Application) -> None:
        self.observatory.close()

    async def start(self) -> str:
        """Serve; returns the link with the token."""
        self.shelf.tidy()
        self._runner = web.AppRunner(
            self.application(), access_log=None, shutdown_timeout=SHUTDOWN_SECONDS
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.options.host, self.options.port)
        try:
            await site.start()
        except OSError as error:
            await self.stop()
            raise OSError(
                f"web view: cannot listen on {self.options.host}:{self.options.port}"
                f" ({error.strerror or error}); choose --web-port (0: any free port) or --no-web"
            ) from None
        self.port = int(self._runner.addresses[0][1])
        log.info("web view on http://%s:%d/", self._host, self.port)
        return self.url

    @property
    def _host(self) -> str:
        host = self.options.host
        if host in ("0.0.0.0", "::", ""):
            return "127.0.0.1"
        return f"[{host}]" if ":" in host else host

    @property
    def url(self) -> str:
        return f"http://{self._host}:{self.port}/?token={self.options.token}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
