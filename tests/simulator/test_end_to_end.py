"""A generated clip through simulator -> extension -> IoT Hub message sink.

A real extension server (credentials on) and the simulator's real graph
runner: every sampled frame gets exactly one inference message, dark scenes
dark and light scenes light, in both transfer modes; the shared-memory ring
never overwrites a region before its ack (checked by the extension).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from lva_extension.client.clips import dark_light_frames, is_dark_scene, write_clip
from lva_simulator.graph.node import Playback

from tests.support.certificates import make_authority, make_server_certificate
from tests.support.simulator import instance, messages, running_simulator, topology
from tests.support.simulator_processors import HoldAndCheck
from tests.support.waiting import wait_for

USER, PASSWORD = "lva", "e2e-Pässword"
FPS, FRAMES, SCENE = 15, 30, 5  # 2 s of video, scenes of 5 frames
TICKS_PER_FRAME = 90_000 // FPS
_M = "#Microsoft.Media."

SHARED_MEMORY = {"mode": "sharedMemory", "SharedMemorySizeMiB": "1"}
EMBEDDED = {"mode": "embedded"}
RAW = {"@type": f"{_M}MediaGraphImageFormatRaw", "pixelFormat": "bgra"}
JPEG = {"@type": f"{_M}MediaGraphImageFormatJpeg", "quality": "80"}


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("e2e") / "clip.mp4"
    write_clip(path, dark_light_frames(64, 48, FRAMES, scene_frames=SCENE), fps=FPS)
    return path


@pytest.fixture
def extension(start_server):
    return start_server(auth_username=USER, auth_password=PASSWORD)


def run_graph(sim, transfer, image_format, **parameters):
    assert sim.invoke("GraphTopologySet", topology(transfer, image_format))[0] == 201
    status, payload = sim.invoke("GraphInstanceSet", instance("e2e", **parameters))
    assert status == 201, payload
    assert sim.invoke("GraphInstanceActivate", {"name": "e2e"}) == (200, None)
    sim.wait_until_finished("e2e")
    return messages(sim.options.state_dir / "messages.jsonl")


def frame_index(message) -> int:
    timestamp = message["body"]["timestamp"]
    assert timestamp % TICKS_PER_FRAME == 0
    return timestamp // TICKS_PER_FRAME


@pytest.mark.parametrize(
    ("transfer", "image_format"),
    [(SHARED_MEMORY, RAW), (EMBEDDED, JPEG)],
    ids=["sharedMemory-raw", "embedded-jpeg"],
)
def test_every_sampled_frame_gets_one_right_message(
    tmp_path, clip, extension, shm_dir_clean, transfer, image_format
):
    HoldAndCheck.reset()
    with running_simulator(tmp_path / "sim") as sim:
        lines = run_graph(
            sim,
            transfer,
            image_format,
            rtspUrl=str(clip),
            grpcExtensionAddress=f"tcp://{extension.address}",
            grpcExtensionUserName=USER,
            grpcExtensionPassword=PASSWORD,
            extensionConfiguration="tests.support.simulator_processors:HoldAndCheck",
            maximumSamplesPerSecond="5",
            # Big frames: the 1 MiB ring holds two, while eight may be in flight.
            frameWidth="416",
            frameHeight="416",
        )
        node = sim.simulator.module.runs["e2e"].nodes["grpcExtension"]
        stats = {s.node: s for s in sim.simulator.module.runs["e2e"].stats()}["grpcExtension"]
    sampled = list(range(0, FRAMES, FPS // 5))  # 5 of every 15 frames: 0, 3, 6, ...
    assert sorted(frame_index(m) for m in lines) == sampled  # each exactly once
    for message in lines:
        (inference,) = message["body"]["inferences"]
        expected = "dark" if is_dark_scene(frame_index(message), SCENE) else "light"
        assert inference["classification"]["tag"]["value"] == expected
        assert inference["subtype"] == "heldAndChecked"
        assert (
            message["applicationProperties"]["subject"]
            == "/graphInstances/e2e/processors/grpcExtension"
        )
        assert message["outputName"] == "inferenceOutput"
    assert len(HoldAndCheck.checked) == len(sampled)
    assert HoldAndCheck.overwritten == []
    assert (stats.acks, stats.frames_out, node.streams) == (len(sampled),) * 2 + (1,)


def test_wrong_credentials_are_a_diagnostic_event_and_publish_no_inference(
    tmp_path, clip, extension
):
    with running_simulator(tmp_path / "sim") as sim:
        sim.invoke("GraphTopologySet", topology(EMBEDDED))
        sim.invoke(
            "GraphInstanceSet",
            instance(
                "e2e",
                rtspUrl=str(clip),
                grpcExtensionAddress=f"tcp://{extension.address}",
                grpcExtensionUserName=USER,
                grpcExtensionPassword="guess",
            ),
        )
        assert sim.invoke("GraphInstanceActivate", {"name": "e2e"}) == (200, None)
        counters = sim.simulator.module.runs["e2e"].nodes["grpcExtension"].context.counters
        # The node retries (after 1 s, 2 s, 5 s, ...). About one refused call in four
        # reaches the client as INTERNAL "Internal error from Core" instead of
        # UNAUTHENTICATED (a grpc.aio race between the client's first write and the
        # server's abort), so wait for a retry that shows the real status.
        wait_for(
            lambda: "UNAUTHENTICATED" in counters.last_error,
            timeout=60,
            what="a retry refused as UNAUTHENTICATED",
        )
        assert counters.acks == 0
        assert sim.invoke("GraphInstanceDeactivate", {"name": "e2e"}) == (200, None)
        published = messages(sim.options.state_dir / "messages.jsonl")
    types = {m["applicationProperties"]["eventType"] for m in published}
    assert "Microsoft.Media.Graph.Analytics.Inference" not in types
    # The refusal is a diagnostic event of the extension node, on the diagnostics output.
    refusals = [m for m in published if m["body"].get("errorCode") == "UNAUTHENTICATED"]
    assert refusals and refusals[0]["outputName"] == "AmsDiagnostics"
    properties = refusals[0]["applicationProperties"]
    assert properties["eventType"] == "Microsoft.Media.Graph.Diagnostics.ProtocolError"
    assert properties["subject"] == "/graphInstances/e2e/processors/grpcExtension"


@pytest.mark.parametrize("ignore_hostname", [False, True], ids=["name-matches", "ignoreHostname"])
def test_tls_endpoint(tmp_path, clip, start_server, ignore_hostname):
    authority = make_authority(tmp_path)
    host = "extension.example" if ignore_hostname else "localhost"
    cert, key = make_server_certificate(authority, tmp_path, host)
    server = start_server(tls_cert_file=str(cert), tls_key_file=str(key))
    body = topology(EMBEDDED)
    endpoint = body["properties"]["processors"][0]["endpoint"]
    endpoint.pop("credentials")
    endpoint["@type"] = f"{_M}MediaGraphTlsEndpoint"
    endpoint["trustedCertificates"] = {
        "@type": f"{_M}MediaGraphPemCertificateList",
        "certificates": [authority.path.read_text()],
    }
    endpoint["validationOptions"] = {"ignoreHostname": str(ignore_hostname).lower()}
    dial = "127.0.0.1" if ignore_hostname else "localhost"
    with running_simulator(tmp_path / "sim") as sim:
        assert sim.invoke("GraphTopologySet", body)[0] == 201
        parameters = {
            "rtspUrl": str(clip),
            "grpcExtensionAddress": f"tcp://{dial}:{server.server.port}",
        }
        assert sim.invoke("GraphInstanceSet", instance("tls", **parameters))[0] == 201
        assert sim.invoke("GraphInstanceActivate", {"name": "tls"}) == (200, None)
        sim.wait_until_finished("tls")
        assert len(messages(sim.options.state_dir / "messages.jsonl")) == FRAMES


def test_instances_run_at_once_and_deactivate_one_by_one(tmp_path, clip, extension, shm_dir_clean):
    live = Playback(loop=True, realtime=True)
    with running_simulator(tmp_path / "sim", playback=live) as sim:
        for name, transfer in (("one", SHARED_MEMORY), ("two", EMBEDDED)):
            assert sim.invoke("GraphTopologySet", topology(transfer, name=f"T{name}"))[0] == 201
            body = instance(
                name,
                f"T{name}",
                rtspUrl=str(clip),
                grpcExtensionAddress=f"tcp://{extension.address}",
                grpcExtensionUserName=USER,
                grpcExtensionPassword=PASSWORD,
                maximumSamplesPerSecond="10",
            )
            assert sim.invoke("GraphInstanceSet", body)[0] == 201
            assert sim.invoke("GraphInstanceActivate", {"name": name}) == (200, None)
        sink = sim.options.state_dir / "messages.jsonl"

        def count(name: str) -> int:
            subject = f"/graphInstances/{name}/processors/grpcExtension"
            return sum(m["applicationProperties"]["subject"] == subject for m in messages(sink))

        wait_for(lambda: count("one") >= 3 and count("two") >= 3, what="both instances' inferences")
        assert sim.invoke("GraphInstanceDeactivate", {"name": "one"}) == (200, None)
        stopped_at = count("one")
        two_then = count("two")
        wait_for(lambda: count("two") >= two_then + 3)  # "two" goes on alone
        assert count("one") == stopped_at
        assert sorted(sim.simulator.module.runs) == ["two"]
