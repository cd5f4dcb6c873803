"""MediaGraphHttpExtension against a real HTTP model server on loopback.

The server answers from a script: 503 with Retry-After, 200 with inferences,
204, 200 with text, 500, then 200 again. What the simulator must do with
each is LVA's HTTP extension protocol.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from aiohttp import web
from lva_simulator.graph.node import Playback

from tests.support import graphs
from tests.support.loop_thread import LoopThread
from tests.support.media import make_moving_clip
from tests.support.simulator import event_type, messages, of_instance, running_simulator

ENTITY = {
    "inferences": [
        {
            "type": "entity",
            "entity": {
                "tag": {"value": "box", "confidence": 0.9},
                "box": {"l": 0.1, "t": 0.2, "w": 0.3, "h": 0.4},
            },
        }
    ]
}
# status, headers, body, content type
SCRIPT = [
    (503, {"Retry-After": "1"}, b"", "text/plain"),
    (200, {}, json.dumps(ENTITY).encode(), "application/json"),
    (204, {}, b"", "text/plain"),
    (200, {}, b"hello", "text/plain"),
    (500, {}, b"", "text/plain"),
    (500, {}, b"", "text/plain"),
]


@dataclass
class ModelServer:
    requests: list[tuple[float, str, str, int]] = field(default_factory=list)
    url: str = ""

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        index = len(self.requests)
        self.requests.append(
            (
                time.monotonic(),
                request.content_type,
                request.headers.get("Authorization", ""),
                len(body),
            )
        )
        status, headers, content, kind = SCRIPT[index] if index < len(SCRIPT) else SCRIPT[1]
        if status == 204:
            return web.Response(status=204)
        return web.Response(status=status, headers=headers, body=content, content_type=kind)


@pytest.fixture
def model() -> Iterator[ModelServer]:
    thread = LoopThread()
    server = ModelServer()
    app = web.Application()
    app.router.add_post("/score", server.handle)
    runner = web.AppRunner(app)

    async def start() -> int:
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        return int(runner.addresses[0][1])

    server.url = f"http://127.0.0.1:{thread.call(start())}/score"
    yield server
    thread.call(runner.cleanup())
    thread.close()


def test_the_http_extension_protocol(tmp_path, model):
    clip = make_moving_clip(tmp_path / "clip.mp4", size=(160, 120))
    once = Playback(loop=False, realtime=True)
    node = graphs.http_extension(
        model.url,
        samplingOptions={"maximumSamplesPerSecond": "5", "skipSamplesWithoutAnnotation": "false"},
    )
    node["endpoint"]["credentials"] = {
        "@type": f"{graphs.M}MediaGraphUsernamePasswordCredentials",
        "username": "model",
        "password": "secret",
    }
    topology = graphs.topology("Http", graphs.rtsp_source(), node, graphs.hub_sink("httpExtension"))
    with running_simulator(tmp_path / "sim", playback=once) as sim:
        assert sim.invoke("GraphTopologySet", topology)[0] == 201
        assert (
            sim.invoke("GraphInstanceSet", graphs.instance("http-1", "Http", rtspUrl=str(clip)))[0]
            == 201
        )
        assert sim.invoke("GraphInstanceActivate", {"name": "http-1"}) == (200, None)
        sim.wait_until_finished("http-1")
        published = of_instance(messages(sim.options.state_dir / "messages.jsonl"), "http-1")
    requests = model.requests
    assert len(requests) >= len(SCRIPT) + 1
    times, kinds, auth, sizes = zip(*requests, strict=True)
    assert set(kinds) == {"image/jpeg"} and all(sizes)
    assert set(auth) == {"Basic " + base64.b64encode(b"model:secret").decode()}
    assert times[1] - times[0] >= 0.95  # nothing sent until Retry-After has passed
    inferences = [m for m in published if event_type(m) == "Inference"]
    # 200 with JSON: published as the server wrote it (no timestamp is added).
    assert inferences[0]["body"] == ENTITY
    assert inferences[0]["outputName"] == "inferenceOutput"
    assert (
        inferences[0]["applicationProperties"]["subject"]
        == "/graphInstances/http-1/processors/httpExtension"
    )
    # 200 with something else: wrapped, base64.
    [other] = inferences[1]["body"]["inferences"]
    assert other["type"] == "other"
    assert base64.b64decode(other["other"]["contentBytes"]) == b"hello"
    # 204: nothing; then every further 200 once; the two 500s: one diagnostic for the streak.
    answered = sum(1 for i in range(len(requests)) if i >= len(SCRIPT) or SCRIPT[i][0] == 200)
    assert len(inferences) == answered
    [error] = [m for m in published if event_type(m) == "ProtocolError"]
    assert error["body"]["protocol"] == "http" and error["body"]["errorCode"] == "500"
    assert error["outputName"] == "AmsDiagnostics"
