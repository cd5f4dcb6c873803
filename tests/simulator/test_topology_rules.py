"""What LVA refuses when a topology or an instance is set, each refusal naming the node.

Placement rules at GraphTopologySet (GraphValidationError); properties the
simulator reads at GraphInstanceSet (ModuleValidationError); and what LVA let
through: property names and enum values in any case.
"""

from __future__ import annotations

import copy
import json

import pytest
from lva_simulator.module.methods import LvaModule
from lva_simulator.module.store import Store

from tests.support import graphs
from tests.support.loop_thread import LoopThread
from tests.support.paths import REPO


@pytest.fixture(scope="module")
def module():
    thread = LoopThread()
    lva = LvaModule(Store(None), lambda plan: None)

    def invoke(method: str, payload: dict) -> tuple[int, dict]:
        return thread.call(lva.invoke(method, {"@apiVersion": "2.0", **payload}))

    yield invoke
    thread.close()


def refusal(answer: tuple[int, dict]) -> tuple[int, str, list[tuple[str, str, str]]]:
    status, payload = answer
    error = payload["error"]
    return (
        status,
        error["code"],
        [(d["code"], d.get("target", ""), d["message"]) for d in error["details"]],
    )


SOURCE = graphs.rtsp_source("rtsp://camera/stream")
PLACEMENTS = [
    (
        "motion after an extension",
        [
            SOURCE,
            {**graphs.http_extension("http://model/score"), "name": "httpExtension"},
            {**graphs.motion(), "inputs": graphs.inputs("httpExtension")},
            graphs.hub_sink("motionDetection"),
        ],
        "$.properties.processors[1].inputs",
        "'motionDetection': motion detection must come right after the RTSP source",
    ),
    (
        "a file sink right after the camera",
        [SOURCE, graphs.file_sink("/var/media", "f-${System.DateTime}", source="rtspSource")],
        "$.properties.sinks[0].inputs",
        "'fileSink': a file sink must come right after a signal gate",
    ),
    (
        "an asset sink after motion detection",
        [
            SOURCE,
            graphs.motion(),
            graphs.asset_sink("a-${System.DateTime}", source="motionDetection"),
        ],
        "$.properties.sinks[0].inputs",
        "'assetSink': an asset sink must come right after the RTSP source or a signal gate",
    ),
    (
        "a gate with nothing to open it",
        [
            SOURCE,
            {**graphs.gate(), "inputs": graphs.inputs("rtspSource")},
            graphs.asset_sink("a-${System.DateTime}", "signalGate"),
        ],
        "$.properties.processors[0].inputs",
        "'signalGate': a signal gate needs an input that sends it events",
    ),
    (
        "an IoT Hub sink right after an IoT Hub source",
        [
            SOURCE,
            graphs.hub_source(),
            graphs.hub_sink("hubSource"),
            graphs.asset_sink("a-${System.DateTime}"),
        ],
        "$.properties.sinks[0].inputs",
        "'hubSink': an IoT Hub message sink publishes events, and 'hubSource' sends none",
    ),
    (
        "two RTSP sources",
        [
            SOURCE,
            {**SOURCE, "name": "second"},
            {
                **graphs.asset_sink("a-${System.DateTime}"),
                "inputs": graphs.inputs("rtspSource", "second"),
            },
        ],
        "$.properties.sources",
        "a topology has exactly one RTSP source (found: rtspSource, second)",
    ),
    (
        "an asset name without a system variable",
        [SOURCE, graphs.asset_sink("fixed-name")],
        "$.properties.sinks[0].assetNamePattern",
        "'assetSink': assetNamePattern needs a system variable",
    ),
]


@pytest.mark.parametrize(
    ("nodes", "target", "message"),
    [row[1:] for row in PLACEMENTS],
    ids=[row[0] for row in PLACEMENTS],
)
def test_placement_rules_are_checked_at_set(module, nodes, target, message):
    status, code, details = refusal(
        module("GraphTopologySet", graphs.topology("Placed", *nodes, parameters=()))
    )
    assert (status, code) == (400, "GraphValidationError")
    assert any(t == target and message in m for _, t, m in details), details


PROPERTIES = [
    (
        "minimumActivationTime above maximumActivationTime",
        "gate",
        {"minimumActivationTime": "PT40S", "maximumActivationTime": "PT30S"},
        "processors[1].minimumActivationTime",
        "must not exceed",
    ),
    (
        "a duration that is not ISO 8601",
        "gate",
        {"activationSignalOffset": "5 seconds"},
        "processors[1].activationSignalOffset",
        "ISO 8601",
    ),
    (
        "an evaluation window above 10 s",
        "gate",
        {"activationEvaluationWindow": "PT11S"},
        "processors[1].activationEvaluationWindow",
        "0 s to 10 s",
    ),
    (
        "a segment length that is not a multiple of 30 s",
        "asset",
        {"segmentLength": "PT45S"},
        "sinks[0].segmentLength",
        "multiple of 30 s",
    ),
    (
        "an unknown sensitivity",
        "motion",
        {"sensitivity": "extreme"},
        "processors[0].sensitivity",
        "Low, Medium, High",
    ),
]


@pytest.mark.parametrize(
    ("node", "change", "target", "message"),
    [row[1:] for row in PROPERTIES],
    ids=[row[0] for row in PROPERTIES],
)
def test_properties_are_checked_at_instance_set_with_the_node_named(
    module, node, change, target, message
):
    motion, gate, asset = (
        graphs.motion(),
        graphs.gate("motionDetection"),
        graphs.asset_sink("a-${System.DateTime}", "signalGate"),
    )
    {"gate": gate, "asset": asset, "motion": motion}[node].update(change)
    name = f"P{abs(hash(target)) % 10_000}"
    assert (
        module(
            "GraphTopologySet", graphs.topology(name, SOURCE, motion, gate, asset, parameters=())
        )[0]
        == 201
    )
    status, code, details = refusal(module("GraphInstanceSet", graphs.instance(name.lower(), name)))
    assert (status, code) == (400, "ModuleValidationError")
    [(_, found_target, found)] = details
    assert found_target == f"$.properties.{target}" and message in found
    assert found.startswith(
        f"{ {'gate': 'signalGate', 'asset': 'assetSink', 'motion': 'motionDetection'}[node] }:"
    )


def shout(value):
    """Keys and string values in other cases, as the samples that ran on LVA wrote them."""
    if isinstance(value, dict):
        return {
            (
                key[0].upper() + key[1:]
                if key not in ("name", "nodeName", "@type", "inputs")
                else key
            ): shout(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [shout(item) for item in value]
    return value


def test_names_and_enum_values_match_in_any_case(module):
    topology = json.loads((REPO / "topologies" / "ai-composition" / "topology.json").read_text())
    properties = topology["properties"]
    mixed = copy.deepcopy(topology)
    mixed["name"] = "MixedCase"
    mixed["properties"]["sources"] = shout(properties["sources"])
    mixed["properties"]["processors"] = shout(properties["processors"])
    mixed["properties"]["sinks"] = shout(properties["sinks"])
    grpc = mixed["properties"]["processors"][1]
    grpc["DataTransfer"] = {"Mode": "SharedMemory", "sharedMemorySizeMiB": "5"}
    grpc["@type"] = grpc["@type"].lower()
    mixed["properties"]["sources"][0]["Transport"] = "TCP"
    parameters = [
        {"name": "imageScaleMode", "value": "Pad"},
        {"name": "motionSensitivity", "value": "MEDIUM"},
        {"name": "imagePixelFormat", "value": "Rgb24"},
    ]
    assert mixed["properties"]["processors"][0]["Sensitivity"] == "${motionSensitivity}"
    assert module("GraphTopologySet", mixed)[0] == 201
    answer = module(
        "GraphInstanceSet",
        {"name": "mixed", "properties": {"topologyName": "MixedCase", "parameters": parameters}},
    )
    assert answer[0] == 201, answer
