"""The extension server in a thread of the test process, on a loopback port."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

from lva_extension.server import ExtensionServer
from lva_extension.settings import Settings

from tests.support.loop_thread import LoopThread

# The tests' own processors (tests.support.processors) are loaded by dotted path.
TEST_PROCESSORS = {"allow_processor_paths": True, "allowed_processor_modules": "tests."}


def loopback_settings(**overrides: Any) -> Settings:
    """The defaults, on a free loopback port, with the test processors allowed and ``overrides``."""
    return replace(Settings(grpc_binding="tcp://127.0.0.1:0"), **{**TEST_PROCESSORS, **overrides})


class RunningServer:
    """An ExtensionServer serving from its own event loop thread."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._thread = LoopThread()
        try:
            self.server: ExtensionServer = self._thread.call(self._start())
        except BaseException:
            self._thread.close()  # a server that cannot start leaves no loop running
            raise

    async def _start(self) -> ExtensionServer:
        server = ExtensionServer(self.settings)
        await server.start()
        return server

    @property
    def address(self) -> str:
        return self.server.address

    def stop(self) -> None:
        self._thread.call(self.server.stop(0))
        self._thread.close()


@contextmanager
def running_server(**overrides: Any) -> Iterator[RunningServer]:
    server = RunningServer(loopback_settings(**overrides))
    try:
        yield server
    finally:
        server.stop()
