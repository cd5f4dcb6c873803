"""The simulator in a thread of the test process, and graphs for it.

The HTTPS front end is real (a loopback port, its self-signed certificate);
tests reach it with the real azure-iot-hub SDK or the console app, and reach
the module's internals (runs, store) directly to wait for graphs to finish.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from lva_simulator.app import Simulator, SimulatorOptions
from lva_simulator.graph.node import Playback

from tests.support.loop_thread import LoopThread

T = TypeVar("T")
DEVICE, MODULE = "sim-device", "lvaEdge"
TOPOLOGY_NAME = "TestGrpcExtension"


class RunningSimulator:
    def __init__(self, options: SimulatorOptions) -> None:
        self.options = options
        self._thread = LoopThread()
        self.simulator = Simulator(options)
        self.call(self.simulator.start())

    def call(self, coroutine: Coroutine[Any, Any, T], timeout: float = 60) -> T:
        return self._thread.call(coroutine, timeout)

    @property
    def connection_string(self) -> str:
        return str(self.simulator.connection_string)

    @property
    def certificate(self) -> Path:
        return self.simulator.certificate

    def invoke(self, method: str, payload: dict[str, Any]) -> tuple[int, Any]:
        """A direct method straight into the module (no HTTP)."""
        return self.call(self.simulator.module.invoke(method, {"@apiVersion": "2.0", **payload}))

    def wait_until_finished(self, instance: str, timeout: float = 60) -> None:
        run = self.simulator.module.runs[instance]
        self.call(run.wait(), timeout)

    def stop(self) -> None:
        self.call(self.simulator.stop())
        self._thread.close()


@contextmanager
def running_simulator(state_dir: Path, **overrides: Any) -> Iterator[RunningSimulator]:
    options = SimulatorOptions(
        **{
            "port": 0,
            "state_dir": state_dir,
            "device_id": DEVICE,
            "module_id": MODULE,
            "sink_output": str(state_dir / "messages.jsonl"),
            "playback": Playback(loop=False, realtime=False),
            **overrides,
        }
    )
    simulator = RunningSimulator(options)
    try:
        yield simulator
    finally:
        simulator.stop()


def messages(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


_M = "#Microsoft.Media."

TOPOLOGY: dict[str, Any] = {
    "@apiVersion": "2.0",
    "name": TOPOLOGY_NAME,
    "properties": {
        "description": "a source, a gRPC extension and an IoT Hub message sink",
        "parameters": [
            {"name": "rtspUrl", "type": "String"},
            {"name": "grpcExtensionAddress", "type": "String", "default": "tcp://127.0.0.1:1"},
            {"name": "grpcExtensionUserName", "type": "String", "default": ""},
            {"name": "grpcExtensionPassword", "type": "SecretString", "default": ""},
            {"name": "extensionConfiguration", "type": "String", "default": ""},
            {"name": "maximumSamplesPerSecond", "type": "Double", "default": "30"},
            {"name": "frameWidth", "type": "Int", "default": "64"},
            {"name": "frameHeight", "type": "Int", "default": "48"},
            {"name": "imageScaleMode", "type": "String", "default": "stretch"},
        ],
        "sources": [
            {
                "@type": f"{_M}MediaGraphRtspSource",
                "name": "rtspSource",
                "endpoint": {"@type": f"{_M}MediaGraphUnsecuredEndpoint", "url": "${rtspUrl}"},
            }
        ],
        "processors": [
            {
                "@type": f"{_M}MediaGraphGrpcExtension",
                "name": "grpcExtension",
                "endpoint": {
                    "@type": f"{_M}MediaGraphUnsecuredEndpoint",
                    "url": "${grpcExtensionAddress}",
                    "credentials": {
                        "@type": f"{_M}MediaGraphUsernamePasswordCredentials",
                        "username": "${grpcExtensionUserName}",
                        "password": "${grpcExtensionPassword}",
                    },
                },
                "dataTransfer": {"mode": "embedded"},
                "extensionConfiguration": "${extensionConfiguration}",
                "image": {
                    "scale": {
                        "mode": "${imageScaleMode}",
                        "width": "${frameWidth}",
                        "height": "${frameHeight}",
                    },
                    "format": {"@type": f"{_M}MediaGraphImageFormatRaw", "pixelFormat": "rgb24"},
                },
                "samplingOptions": {
                    "skipSamplesWithoutAnnotation": "false",
                    "maximumSamplesPerSecond": "${maximumSamplesPerSecond}",
                },
                "inputs": [{"nodeName": "rtspSource"}],
            }
        ],
        "sinks": [
            {
                "@type": f"{_M}MediaGraphIoTHubMessageSink",
                "name": "hubSink",
                "hubOutputName": "inferenceOutput",
                "inputs": [{"nodeName": "grpcExtension"}],
            }
        ],
    },
}


def topology(
    transfer: dict[str, str] | None = None,
    image_format: dict[str, str] | None = None,
    name: str = TOPOLOGY_NAME,
) -> dict[str, Any]:
    """The test topology, with another data transfer or image format if asked."""
    result = copy.deepcopy(TOPOLOGY)
    result["name"] = name
    extension = result["properties"]["processors"][0]
    if transfer is not None:
        extension["dataTransfer"] = transfer
    if image_format is not None:
        extension["image"]["format"] = image_format
    return result


def instance(name: str, topology_name: str = TOPOLOGY_NAME, **parameters: str) -> dict[str, Any]:
    return {
        "name": name,
        "properties": {
            "topologyName": topology_name,
            "parameters": [{"name": k, "value": v} for k, v in parameters.items()],
        },
    }


def of_instance(lines: list[dict[str, Any]], instance: str) -> list[dict[str, Any]]:
    prefix = f"/graphInstances/{instance}"
    return [m for m in lines if m["applicationProperties"]["subject"].startswith(prefix)]


def event_type(message: dict[str, Any]) -> str:
    """``Inference``, ``RecordingStarted``, ``MediaSessionEstablished``, ..."""
    return str(message["applicationProperties"]["eventType"]).rsplit(".", 1)[-1]


def node_of(message: dict[str, Any]) -> str:
    return str(message["applicationProperties"]["subject"]).rsplit("/", 1)[-1]
