"""The LVA 2.0 topologies in topologies/: well-formed graphs that reach this repository's
extension as deployed by deployment.grpc.template.json."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.support.paths import REPO

TOPOLOGIES_DIR = REPO / "topologies"
TEMPLATE = REPO / "deployment.grpc.template.json"
ENV_EXAMPLE = REPO / ".env.example"
TOPOLOGY_FILES = sorted(TOPOLOGIES_DIR.glob("*/topology.json"))

Json = dict[str, Any]

PARAMETER = re.compile(r"\$\{([^}]*)\}")
PARAMETER_TYPES = {"String", "SecretString", "Int", "Double", "Bool"}
NODE_TYPES = {
    "sources": {
        "#Microsoft.Media.MediaGraphRtspSource",
        "#Microsoft.Media.MediaGraphIoTHubMessageSource",
    },
    "processors": {
        "#Microsoft.Media.MediaGraphGrpcExtension",
        "#Microsoft.Media.MediaGraphHttpExtension",
        "#Microsoft.Media.MediaGraphMotionDetectionProcessor",
        "#Microsoft.Media.MediaGraphSignalGateProcessor",
    },
    "sinks": {
        "#Microsoft.Media.MediaGraphIoTHubMessageSink",
        "#Microsoft.Media.MediaGraphAssetSink",
        "#Microsoft.Media.MediaGraphFileSink",
    },
}
GRPC = "#Microsoft.Media.MediaGraphGrpcExtension"
HUB_SINK = "#Microsoft.Media.MediaGraphIoTHubMessageSink"
IMAGE_FORMATS = {
    "#Microsoft.Media.MediaGraphImageFormatRaw",
    "#Microsoft.Media.MediaGraphImageFormatJpeg",
    "#Microsoft.Media.MediaGraphImageFormatBmp",
    "#Microsoft.Media.MediaGraphImageFormatPng",
}
PIXEL_FORMATS = {
    "yuv420p", "rgb565be", "rgb565le", "rgb555be", "rgb555le",
    "rgb24", "bgr24", "argb", "rgba", "abgr", "bgra",
}  # fmt: skip
SCALE_MODES = {"preserveAspectRatio", "pad", "stretch"}


def load(path: Path) -> Json:
    document: Json = json.loads(path.read_text(encoding="utf-8"))
    return document


def nodes(topology: Json) -> Iterator[tuple[str, Json]]:
    for kind in ("sources", "processors", "sinks"):
        for node in topology["properties"][kind]:
            yield kind, node


def strings(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, list):
        for item in node:
            yield from strings(item)
    elif isinstance(node, dict):
        for key, value in node.items():
            yield key
            yield from strings(value)


def parameters(topology: Json) -> dict[str, Json]:
    return {p["name"]: p for p in topology["properties"]["parameters"]}


def default(topology: Json, value: str) -> str:
    """The default of the parameter `value` refers to, or `value` itself."""
    match = PARAMETER.fullmatch(value)
    if not match:
        return value
    found: str = parameters(topology)[match.group(1)]["default"]
    return found


def grpc_nodes(topology: Json) -> list[Json]:
    return [node for _, node in nodes(topology) if node["@type"] == GRPC]


def by_name(topology: Json) -> dict[str, Json]:
    return {node["name"]: node for _, node in nodes(topology)}


def template_modules() -> Json:
    found: Json = load(TEMPLATE)["modulesContent"]["$edgeAgent"]["properties.desired"]["modules"]
    return found


def env_example() -> dict[str, str]:
    values = {}
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            values[name] = value
    return values


topology_files = pytest.mark.parametrize(
    "path", TOPOLOGY_FILES, ids=[path.parent.name for path in TOPOLOGY_FILES]
)


def test_the_promised_topologies_exist() -> None:
    assert {path.parent.name for path in TOPOLOGY_FILES} >= {
        "grpcExtension",
        "grpcExtension-embedded",
        "motion-with-grpcExtension",
        "cvr-with-grpcExtension",
        "evr-grpcExtension-assets",
        "evr-motion-grpcExtension",
        "ai-composition",
    }
    # The four the LVA how-to names, and AIComposition, by their LVA names.
    assert {load(path)["name"] for path in TOPOLOGY_FILES} >= {
        "InferencingWithGrpcExtension",
        "CVRWithGrpcExtension",
        "EVRtoAssetsByGrpcExtension",
        "EVROnMotionPlusGrpcExtension",
        "AIComposition",
    }


# Each LVA 2.0 sample's graph, as (node, input) edges: this solution's versions keep them.
LVA_GRAPHS = {
    "grpcExtension": {
        ("motionDetection", "rtspSource"),
        ("grpcExtension", "motionDetection"),
        ("signalGateProcessor", "motionDetection"),
        ("signalGateProcessor", "rtspSource"),
        ("assetSink", "signalGateProcessor"),
        ("hubSink", "grpcExtension"),
    },
    "cvr-with-grpcExtension": {
        ("grpcExtension", "rtspSource"),
        ("assetSink", "rtspSource"),
        ("hubSink", "grpcExtension"),
    },
    "evr-grpcExtension-assets": {
        ("grpcExtension", "rtspSource"),
        ("signalGateProcessor", "grpcExtension"),
        ("signalGateProcessor", "rtspSource"),
        ("assetSink", "signalGateProcessor"),
        ("hubSink", "grpcExtension"),
    },
    "evr-motion-grpcExtension": {
        ("motionDetection", "rtspSource"),
        ("signalGateProcessor", "motionDetection"),
        ("signalGateProcessor", "rtspSource"),
        ("assetSink", "signalGateProcessor"),
        ("grpcExtension", "rtspSource"),
        ("hubSink", "grpcExtension"),
    },
    "ai-composition": {
        ("motionDetection", "rtspSource"),
        ("grpcExtensionSource", "motionDetection"),
        ("grpcExtension", "grpcExtensionSource"),
        ("signalGateProcessor", "grpcExtension"),
        ("signalGateProcessor", "rtspSource"),
        ("assetSink", "signalGateProcessor"),
        ("hubSink", "grpcExtension"),
    },
}


@pytest.mark.parametrize("folder", sorted(LVA_GRAPHS))
def test_the_lva_samples_keep_their_graph(folder: str) -> None:
    topology = load(TOPOLOGIES_DIR / folder / "topology.json")
    edges = {
        (node["name"], entry["nodeName"])
        for _, node in nodes(topology)
        for entry in node.get("inputs", [])
    }
    assert edges == LVA_GRAPHS[folder]


@topology_files
def test_is_an_lva_2_topology_with_a_readme(path: Path) -> None:
    topology = load(path)

    assert topology["@apiVersion"] == "2.0"
    # Kept within 32 characters: a safe bound for LVA resource names.
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,32}", topology["name"])
    properties = topology["properties"]
    assert properties["description"]
    for kind in ("parameters", "sources", "processors", "sinks"):
        assert isinstance(properties[kind], list)
    readme = path.parent / "README.md"
    assert readme.is_file()
    assert topology["name"] in readme.read_text(encoding="utf-8")


def test_topology_names_are_unique() -> None:
    names = [load(path)["name"] for path in TOPOLOGY_FILES]

    assert len(names) == len(set(names))


@topology_files
def test_every_parameter_used_is_declared_and_every_declared_one_used(path: Path) -> None:
    topology = load(path)
    declared = [p["name"] for p in topology["properties"]["parameters"]]
    used = {
        name
        for text in strings({k: v for k, v in topology["properties"].items() if k != "parameters"})
        for name in PARAMETER.findall(text)
        if not name.startswith("System.")
    }

    assert len(declared) == len(set(declared)), "a parameter is declared twice"
    assert used - set(declared) == set(), "used but not declared"
    assert set(declared) - used == set(), "declared but never used"


@topology_files
def test_parameters_are_typed_and_secrets_are_secret(path: Path) -> None:
    for parameter in load(path)["properties"]["parameters"]:
        assert parameter["type"] in PARAMETER_TYPES, parameter["name"]
        assert parameter["description"], parameter["name"]
        assert isinstance(parameter.get("default", ""), str), parameter["name"]
        if "password" in parameter["name"].lower():
            assert parameter["type"] == "SecretString", parameter["name"]


@topology_files
def test_node_names_are_unique_and_types_known(path: Path) -> None:
    found = list(nodes(load(path)))
    names = [node["name"] for _, node in found]

    assert len(names) == len(set(names))
    for kind, node in found:
        assert node["@type"] in NODE_TYPES[kind], node["name"]


@topology_files
def test_inputs_name_existing_nodes_and_every_node_leads_somewhere(path: Path) -> None:
    topology = load(path)
    named = by_name(topology)
    fed: set[str] = set()
    for kind, node in nodes(topology):
        inputs = [entry["nodeName"] for entry in node.get("inputs", [])]
        if kind == "sources":
            assert inputs == [], node["name"]
        else:
            assert inputs, f"{node['name']} has no input"
        for name in inputs:
            assert name in named, f"{node['name']} reads from unknown node {name}"
            assert name != node["name"]
        fed.update(inputs)
    for kind, node in nodes(topology):
        if kind != "sinks":
            assert node["name"] in fed, f"nothing reads from {node['name']}"


@topology_files
def test_grpc_extension_node_reaches_the_deployed_extension(path: Path) -> None:
    topology = load(path)
    modules = template_modules()
    extension_name = next(
        name for name, m in modules.items() if m["settings"]["image"] == "${MODULES.grpcExtension}"
    )
    env = modules[extension_name]["env"]
    binding = urlsplit(env["grpcBinding"]["value"])
    values = env_example()

    for node in grpc_nodes(topology):
        endpoint = node["endpoint"]
        assert endpoint["@type"] == "#Microsoft.Media.MediaGraphUnsecuredEndpoint"
        assert default(topology, endpoint["url"]) == f"tcp://{extension_name}:{binding.port}"
        credentials = endpoint["credentials"]
        assert credentials["@type"] == "#Microsoft.Media.MediaGraphUsernamePasswordCredentials"
        for field, variable in (("username", "authUsername"), ("password", "authPassword")):
            # The template takes the extension's credentials from .env; the topology's
            # defaults are .env.example's values, so the sample works as deployed.
            template_value = env[variable]["value"]
            assert template_value.startswith("$")
            assert default(topology, credentials[field]) == values[template_value.lstrip("$")]


@topology_files
def test_grpc_extension_node_settings_are_valid(path: Path) -> None:
    topology = load(path)
    for node in grpc_nodes(topology):
        check_grpc_node(topology, node)


def check_grpc_node(topology: Json, node: Json) -> None:
    transfer = node["dataTransfer"]
    assert transfer["mode"] in ("sharedMemory", "embedded")
    if transfer["mode"] == "sharedMemory":
        assert int(transfer["SharedMemorySizeMiB"]) > 0
    image = node["image"]
    assert default(topology, image["scale"]["mode"]) in SCALE_MODES
    assert int(default(topology, image["scale"]["width"])) > 0
    assert int(default(topology, image["scale"]["height"])) > 0
    assert image["format"]["@type"] in IMAGE_FORMATS
    if image["format"]["@type"].endswith("Raw"):
        assert default(topology, image["format"]["pixelFormat"]) in PIXEL_FORMATS
    if image["format"]["@type"].endswith("Jpeg"):
        assert 0 <= int(default(topology, image["format"]["quality"])) <= 100
    sampling = node["samplingOptions"]
    assert default(topology, sampling["skipSamplesWithoutAnnotation"]) in ("true", "false")
    assert float(default(topology, sampling["maximumSamplesPerSecond"])) > 0
    assert default(topology, node["extensionConfiguration"])


@topology_files
def test_inferences_go_to_iot_hub(path: Path) -> None:
    topology = load(path)
    extensions = {node["name"] for node in grpc_nodes(topology)}

    hub_sinks = [node for _, node in nodes(topology) if node["@type"] == HUB_SINK]
    published = {entry["nodeName"] for sink in hub_sinks for entry in sink["inputs"]}
    assert extensions & published  # the last extension of a chain, at least
    # The template routes every output of the LVA module to IoT Hub.
    routes = load(TEMPLATE)["modulesContent"]["$edgeHub"]["properties.desired"]["routes"]
    assert "FROM /messages/modules/lvaEdge/outputs/* INTO $upstream" in routes.values()


@topology_files
def test_rtsp_source_defaults_to_the_simulator_module(path: Path) -> None:
    topology = load(path)
    [source] = topology["properties"]["sources"]

    url = urlsplit(default(topology, source["endpoint"]["url"]))
    assert url.scheme == "rtsp"
    assert url.hostname in template_modules()
    assert url.port == 554


def test_grpc_extension_topology_uses_every_feature() -> None:
    topology = load(TOPOLOGIES_DIR / "grpcExtension" / "topology.json")
    [node] = grpc_nodes(topology)
    named = by_name(topology)

    assert node["dataTransfer"]["mode"] == "sharedMemory"
    assert node["image"]["format"]["@type"] == "#Microsoft.Media.MediaGraphImageFormatRaw"
    assert set(node["image"]["scale"]) == {"mode", "width", "height"}
    assert set(node["samplingOptions"]) == {
        "skipSamplesWithoutAnnotation",
        "maximumSamplesPerSecond",
    }
    assert node["extensionConfiguration"] == "${extensionConfiguration}"
    # As in LVA's sample: the extension sees the frames in which something moves.
    [entry] = node["inputs"]
    assert (
        named[entry["nodeName"]]["@type"] == "#Microsoft.Media.MediaGraphMotionDetectionProcessor"
    )
    [gate] = [n for n in named.values() if n["@type"].endswith("SignalGateProcessor")]
    assert default(topology, gate["minimumActivationTime"]) == "PT15S"


def test_embedded_variant_embeds_frames() -> None:
    topology = load(TOPOLOGIES_DIR / "grpcExtension-embedded" / "topology.json")
    [node] = grpc_nodes(topology)

    assert node["dataTransfer"] == {"mode": "embedded"}


def test_motion_topology_sends_only_frames_with_motion() -> None:
    topology = load(TOPOLOGIES_DIR / "motion-with-grpcExtension" / "topology.json")
    [node] = grpc_nodes(topology)
    named = by_name(topology)

    [source] = [named[entry["nodeName"]] for entry in node["inputs"]]
    assert source["@type"] == "#Microsoft.Media.MediaGraphMotionDetectionProcessor"
    assert node["samplingOptions"]["skipSamplesWithoutAnnotation"] == "true"


def test_cvr_topology_records_beside_inference() -> None:
    topology = load(TOPOLOGIES_DIR / "cvr-with-grpcExtension" / "topology.json")
    named = by_name(topology)

    [asset_sink] = [
        n for n in named.values() if n["@type"] == "#Microsoft.Media.MediaGraphAssetSink"
    ]
    [extension] = grpc_nodes(topology)
    assert [entry["nodeName"] for entry in asset_sink["inputs"]] == ["rtspSource"]
    assert [entry["nodeName"] for entry in extension["inputs"]] == ["rtspSource"]
    assert re.fullmatch(r"PT\d+S", default(topology, asset_sink["segmentLength"]))


@topology_files
def test_the_simulator_sets_it_and_an_instance_of_it_with_the_defaults(path: Path) -> None:
    """LVA's checks (placement, names, properties) as the simulator makes them at set."""
    from lva_simulator.module.methods import LvaModule
    from lva_simulator.module.store import Store

    def no_runs(plan: Any) -> Any:
        raise AssertionError("nothing is activated here")

    module = LvaModule(Store(None), no_runs)
    topology = load(path)
    instance = {
        "@apiVersion": "2.0",
        "name": "defaults",
        "properties": {"topologyName": topology["name"]},
    }

    async def set_both() -> tuple[tuple[int, Any], tuple[int, Any]]:
        return (
            await module.invoke("GraphTopologySet", topology),
            await module.invoke("GraphInstanceSet", instance),
        )

    set_topology, set_instance = asyncio.run(set_both())
    assert set_topology[0] == 201, set_topology
    assert set_instance[0] == 201, set_instance
