"""GraphTopologySet and GraphInstanceSet bodies, checked as LVA checks them: every
refusal's code, target and words (the details a user reads to fix the body)."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from lva_simulator.module.errors import MethodError
from lva_simulator.module.topology import (
    check_instance,
    check_instance_against,
    check_topology,
    resolve,
)

M = "#Microsoft.Media."
Json = dict[str, Any]


def node(kind: str, name: str, *inputs: str, **extra: Any) -> Json:
    built: Json = {"@type": M + kind, "name": name, **extra}
    if inputs:
        built["inputs"] = [{"nodeName": i} for i in inputs]
    return built


def source(name: str = "rtspSource") -> Json:
    return node("MediaGraphRtspSource", name, endpoint={"url": "${rtspUrl}"})


def motion(name: str, *inputs: str) -> Json:
    return node("MediaGraphMotionDetectionProcessor", name, *inputs)


def hub(name: str, *inputs: str) -> Json:
    return node("MediaGraphIoTHubMessageSink", name, *inputs, hubOutputName="o")


def topology(**properties: Any) -> Json:
    """A topology LVA accepts (camera -> motion -> hub), with ``properties`` replaced."""
    body: Json = {
        "@apiVersion": "2.0",
        "name": "t",
        "properties": {
            "parameters": [{"name": "rtspUrl", "type": "String"}],
            "sources": [source()],
            "processors": [motion("motion", "rtspSource")],
            "sinks": [hub("hub", "motion")],
        },
    }
    body["properties"].update(properties)
    return body


def outcome(check: Any, *args: Any) -> Any:
    try:
        check(*args)
    except MethodError as error:
        return (error.status, error.code, [(d.code, d.target, d.message) for d in error.details])
    return "accepted"


INVALID = (400, "InvalidResource")
GRAPH = (400, "GraphValidationError")
NAME_RULE = "use at most 32 letters, digits and dashes, not starting or ending with a dash"
TYPES = "String, SecretString, Int, Double, Bool"

TOPOLOGIES = [
    ("a valid topology", topology(), "accepted"),
    ("a 32-character name", {**topology(), "name": "a" * 32}, "accepted"),
    ("a one-character name", {**topology(), "name": "a"}, "accepted"),
    ("a name with dashes inside", {**topology(), "name": "a-b-c"}, "accepted"),
    (
        "no parameters",
        topology(
            parameters=None,
            sources=[node("MediaGraphRtspSource", "rtspSource", endpoint={"url": "rtsp://cam"})],
        ),
        "accepted",
    ),
    ("no processors", topology(processors=None, sinks=[hub("hub", "rtspSource")]), GRAPH),
    ("not an object", [], (*INVALID, [("PropertyRequired", "$", "expected a topology object")])),
    (
        "no properties",
        {"name": "t"},
        (*INVALID, [("PropertyRequired", "$.properties", "properties is required")]),
    ),
    (
        "properties not an object",
        {"name": "t", "properties": []},
        (*INVALID, [("PropertyRequired", "$.properties", "properties must be an object")]),
    ),
    (
        "no name",
        {"properties": topology()["properties"]},
        (*INVALID, [("PropertyRequired", "$.name", "a graph topology needs a name")]),
    ),
    (
        "an empty name",
        {**topology(), "name": ""},
        (*INVALID, [("PropertyRequired", "$.name", "a graph topology needs a name")]),
    ),
    (
        "no processors and no sinks",
        {"name": "t", "properties": {"sources": [source()]}},
        (
            *INVALID,
            [("PropertyRequired", "$.properties.sinks", "a topology needs a list of sinks")],
        ),
    ),
    (
        "nodes that are not objects, in every section",
        topology(processors=[motion("motion", "rtspSource"), 5], sinks=[hub("hub", "motion"), []]),
        (
            *INVALID,
            [
                ("PropertyInvalid", "$.properties.processors[1]", "a node must be an object"),
                ("PropertyInvalid", "$.properties.sinks[1]", "a node must be an object"),
            ],
        ),
    ),
    (
        "a name with a leading dash",
        {**topology(), "name": "-t"},
        (
            *INVALID,
            [
                (
                    "PropertyValueInvalidPattern",
                    "$.name",
                    f"a graph topology name '-t': {NAME_RULE}",
                )
            ],
        ),
    ),
    (
        "a 33-character name",
        {**topology(), "name": "a" * 33},
        (
            *INVALID,
            [
                (
                    "PropertyValueInvalidPattern",
                    "$.name",
                    f"a graph topology name '{'a' * 33}': {NAME_RULE}",
                )
            ],
        ),
    ),
    (
        "parameters not a list",
        topology(parameters={"rtspUrl": "String"}),
        (*INVALID, [("PropertyInvalid", "$.properties.parameters", "must be a list")]),
    ),
    (
        "parameter declarations",
        topology(
            parameters=[
                {"name": "rtspUrl", "type": "String"},
                "x",
                {"type": "String"},
                {"name": "rtspUrl", "type": "String"},
                {"name": "n", "type": "Integer"},
                {"name": "i", "type": "Int", "default": "1.5"},
                {"name": "d", "type": "Double", "default": "fast"},
                {"name": "b", "type": "Bool", "default": "yes"},
                {"name": "s", "type": "String", "default": 5},
                {"name": "u", "type": "Unknown", "default": "x"},
                {"name": "ok", "type": "Int", "default": " -15 "},
                {"name": "ok2", "type": "Double", "default": "1e3"},
                {"name": "ok3", "type": "Bool", "default": " FALSE "},
                {"name": "ok4", "type": "Bool", "default": "true"},
                {"name": "ok5", "type": "SecretString", "default": ""},
            ]
        ),
        (
            *INVALID,
            [
                ("PropertyRequired", "$.properties.parameters[1]", "a parameter needs a name"),
                ("PropertyRequired", "$.properties.parameters[2]", "a parameter needs a name"),
                (
                    "ParameterDuplicated",
                    "$.properties.parameters[3]",
                    "'rtspUrl' is declared twice",
                ),
                (
                    "PropertyValueInvalid",
                    "$.properties.parameters[4].type",
                    f"parameter 'n': type must be one of {TYPES}, got 'Integer'",
                ),
                (
                    "PropertyValueInvalid",
                    "$.properties.parameters[5].default",
                    "default of 'i': expected an integer, got '1.5'",
                ),
                (
                    "PropertyValueInvalid",
                    "$.properties.parameters[6].default",
                    "default of 'd': expected a number, got 'fast'",
                ),
                (
                    "PropertyValueInvalid",
                    "$.properties.parameters[7].default",
                    "default of 'b': expected true or false, got 'yes'",
                ),
                (
                    "PropertyValueInvalid",
                    "$.properties.parameters[8].default",
                    "default of 's': must be a string",
                ),
                (
                    "PropertyValueInvalid",
                    "$.properties.parameters[9].type",
                    f"parameter 'u': type must be one of {TYPES}, got 'Unknown'",
                ),
            ],
        ),
    ),
    (
        "no sources, empty sinks, processors not a list",
        {"name": "t", "properties": {"processors": {}, "sinks": []}},
        (
            *INVALID,
            [
                ("PropertyRequired", "$.properties.sources", "a topology needs a list of sources"),
                (
                    "PropertyRequired",
                    "$.properties.processors",
                    "a topology needs a list of processors",
                ),
                ("PropertyRequired", "$.properties.sinks", "a topology needs a list of sinks"),
            ],
        ),
    ),
    (
        "nodes",
        topology(
            sources=[source(), "not a node", source(), node("MediaGraphFileSink", "bad name!")],
            processors=[
                motion("m"),
                {
                    **motion("m2", "rtspSource"),
                    "@type": (M + "MediaGraphMotionDetectionProcessor").lower(),
                },
                {**motion("g"), "inputs": []},
                {**motion("g2"), "inputs": [{"nodeName": 5}]},
                {**motion("g3"), "inputs": ["rtspSource"]},
                {**motion("g4"), "inputs": {"nodeName": "rtspSource"}},
            ],
            sinks=[
                hub("hub", "rtspSource"),
                node(
                    "MediaGraphAssetSink",
                    "asset",
                    "rtspSource",
                    assetNamePattern="a-${System.DateTime}-${System.GraphInstanceName}-${camera}",
                    more={
                        "deep": [
                            "${System.GraphTopologyName}",
                            "${System.PreciseDateTime}",
                            "${lens}",
                        ]
                    },
                ),
            ],
        ),
        (
            *INVALID,
            [
                ("PropertyInvalid", "$.properties.sources[1]", "a node must be an object"),
                (
                    "NodeNameDuplicated",
                    "$.properties.sources[2]",
                    "node name 'rtspSource' is used twice",
                ),
                (
                    "PropertyValueInvalidPattern",
                    "$.properties.sources[3].name",
                    "node name 'bad name!' is not valid",
                ),
                (
                    "UnknownType",
                    "$.properties.sources[3].@type",
                    "sources can be MediaGraphRtspSource, MediaGraphIoTHubMessageSource;"
                    " got '#Microsoft.Media.MediaGraphFileSink'",
                ),
                *(
                    (
                        "PropertyRequired",
                        f"$.properties.processors[{i}].inputs",
                        "inputs must list at least one {nodeName}",
                    )
                    for i in (0, 2, 3, 4, 5)
                ),
                (
                    "ParameterNotDeclared",
                    "$.properties.sinks[1].assetNamePattern",
                    "${camera} is used but not declared in properties.parameters",
                ),
                (
                    "ParameterNotDeclared",
                    "$.properties.sinks[1].more.deep[2]",
                    "${lens} is used but not declared in properties.parameters",
                ),
            ],
        ),
    ),
    (
        "a node without a name",
        topology(sources=[{**source(), "name": None}]),
        (
            *INVALID,
            [
                (
                    "PropertyValueInvalidPattern",
                    "$.properties.sources[0].name",
                    "node name None is not valid",
                )
            ],
        ),
    ),
    (
        "inputs that name no node, the node itself, a sink",
        topology(
            processors=[
                motion("motion", "rtspSource"),
                motion("m", "nowhere"),
                motion("m2", "m2"),
                motion("m3", "motion", "hub"),
            ],
        ),
        (
            *GRAPH,
            [
                (
                    "NodeNotFound",
                    "$.properties.processors[1].inputs[0]",
                    "no node is called 'nowhere'",
                ),
                ("GraphCycle", "$.properties.processors[2].inputs[0]", "'m2' is its own input"),
                (
                    "InvalidInput",
                    "$.properties.processors[3].inputs[1]",
                    "sink 'hub' has no output",
                ),
            ],
        ),
    ),
    (
        "a cycle",
        topology(
            processors=[motion("a", "rtspSource", "c"), motion("b", "a"), motion("c", "b")],
            sinks=[hub("hub", "c")],
        ),
        (*GRAPH, [("GraphCycle", "$.properties", "the graph has a cycle: a <- c <- b <- a")]),
    ),
    (
        "a cycle away from the first node",
        topology(
            processors=[motion("motion", "rtspSource"), motion("b", "c"), motion("c", "b")],
            sinks=[hub("hub", "motion", "c")],
        ),
        (*GRAPH, [("GraphCycle", "$.properties", "the graph has a cycle: b <- c <- b")]),
    ),
    (
        "outputs nobody takes",
        topology(
            sources=[source(), {**source("second")}],
            processors=[motion("motion", "rtspSource"), motion("m2", "rtspSource")],
        ),
        (
            *GRAPH,
            [
                (
                    "NodeOutputUnused",
                    "$.properties.sources[1]",
                    "nothing takes the output of 'second': every source and processor must lead"
                    " to a sink",
                ),
                (
                    "NodeOutputUnused",
                    "$.properties.processors[1]",
                    "nothing takes the output of 'm2': every source and processor must lead"
                    " to a sink",
                ),
            ],
        ),
    ),
]


@pytest.mark.parametrize(
    ("body", "expected"), [row[1:] for row in TOPOLOGIES], ids=[row[0] for row in TOPOLOGIES]
)
def test_topology_set(body, expected):
    found = outcome(check_topology, copy.deepcopy(body))
    if expected == GRAPH:  # refused by the placement rules (test_topology_rules.py)
        assert found[:2] == GRAPH
    else:
        assert found == expected


def test_a_topology_is_kept_as_given_without_the_api_version():
    body = topology()
    kept = check_topology(body)
    assert kept == {"name": "t", "properties": body["properties"]}
    kept["properties"]["sources"].clear()  # a copy: the caller's body is not shared
    assert body["properties"]["sources"]


def instance(**properties: Any) -> Json:
    body: Json = {
        "@apiVersion": "2.0",
        "name": "cam-1",
        "properties": {
            "topologyName": "t",
            "parameters": [{"name": "rtspUrl", "value": "rtsp://cam"}],
        },
    }
    body["properties"].update(properties)
    return body


INSTANCES = [
    (
        "not an object",
        "cam",
        (*INVALID, [("PropertyRequired", "$", "expected a graph instance object")]),
    ),
    (
        "a bad name and no properties",
        {"name": "cam_1"},
        (*INVALID, [("PropertyRequired", "$.properties", "properties is required")]),
    ),
    (
        "every field wrong",
        {
            "name": "cam_1",
            "properties": {
                "topologyName": "",
                "description": 5,
                "parameters": [
                    {"name": "a", "value": "1"},
                    {"name": "a", "value": "2"},
                    {"name": "b", "value": 3},
                    {"value": "x"},
                    "c",
                ],
            },
        },
        (
            *INVALID,
            [
                (
                    "PropertyValueInvalidPattern",
                    "$.name",
                    f"a graph instance name 'cam_1': {NAME_RULE}",
                ),
                ("PropertyRequired", "$.properties.topologyName", "topologyName is required"),
                ("PropertyInvalid", "$.properties.description", "must be a string"),
                ("ParameterDuplicated", "$.properties.parameters[1]", "'a' is given twice"),
                *(
                    (
                        "PropertyInvalid",
                        f"$.properties.parameters[{i}]",
                        "expected {name, value} strings",
                    )
                    for i in (2, 3, 4)
                ),
            ],
        ),
    ),
    (
        "no topology name, parameters not a list",
        {"name": "cam", "properties": {"parameters": {"a": "1"}}},
        (
            *INVALID,
            [
                ("PropertyRequired", "$.properties.topologyName", "topologyName is required"),
                ("PropertyInvalid", "$.properties.parameters", "must be a list"),
            ],
        ),
    ),
]


@pytest.mark.parametrize(
    ("body", "expected"), [row[1:] for row in INSTANCES], ids=[row[0] for row in INSTANCES]
)
def test_instance_set(body, expected):
    assert outcome(check_instance, body) == expected


def test_an_instance_is_kept_with_only_what_lva_keeps():
    body = instance(description="lobby", extra="dropped")
    body["properties"]["parameters"][0]["extra"] = "dropped too"
    assert check_instance(body) == {
        "name": "cam-1",
        "properties": {
            "topologyName": "t",
            "description": "lobby",
            "parameters": [{"name": "rtspUrl", "value": "rtsp://cam"}],
        },
    }
    bare = check_instance({"name": "cam-2", "properties": {"topologyName": "t"}})
    assert bare["properties"] == {"topologyName": "t", "description": "", "parameters": []}


TYPED = topology(
    parameters=[
        {"name": "rtspUrl", "type": "String"},
        {"name": "fps", "type": "Int", "default": "5"},
        {"name": "scale", "type": "Double"},
        {"name": "debug", "type": "Bool", "default": "false"},
    ]
)


def given(**values: str) -> Json:
    return check_instance(instance(parameters=[{"name": k, "value": v} for k, v in values.items()]))


def test_an_instance_that_fits_its_topology():
    assert outcome(check_instance_against, given(rtspUrl="x", scale="0.5"), TYPED) == "accepted"
    fits = given(rtspUrl="x", scale="2", fps="-3", debug="TRUE")
    assert outcome(check_instance_against, fits, TYPED) == "accepted"


def test_an_instance_that_does_not_fit_its_topology():
    wrong = given(rtspUrl="x", fps="five", debug="maybe", lens="wide")
    with pytest.raises(MethodError) as raised:
        check_instance_against(wrong, TYPED)
    assert raised.value.message == "The graph instance does not fit its topology."
    assert outcome(check_instance_against, wrong, TYPED) == (
        400,
        "InvalidResource",
        [
            (
                "ParameterValueInvalid",
                "$.properties.parameters[1].value",
                "fps: expected an integer, got 'five'",
            ),
            (
                "ParameterValueInvalid",
                "$.properties.parameters[2].value",
                "debug: expected true or false, got 'maybe'",
            ),
            (
                "ParameterNotDeclared",
                "$.properties.parameters[3]",
                "topology 't' declares no parameter 'lens' (it has: debug, fps, rtspUrl, scale)",
            ),
            (
                "ParameterValueMissing",
                "$.properties.parameters",
                "parameter 'scale' has no default: the graph instance must give a value",
            ),
        ],
    )
    bare = topology(parameters=[])
    assert outcome(check_instance_against, given(lens="wide", zoom="2.5x"), bare)[2] == [
        (
            "ParameterNotDeclared",
            "$.properties.parameters[0]",
            "topology 't' declares no parameter 'lens' (it has: none)",
        ),
        (
            "ParameterNotDeclared",
            "$.properties.parameters[1]",
            "topology 't' declares no parameter 'zoom' (it has: none)",
        ),
    ]


def test_resolve_puts_values_defaults_and_names_in_and_leaves_recording_times():
    kept = check_topology(
        topology(
            parameters=[
                {"name": "rtspUrl", "type": "String"},
                {"name": "fps", "type": "Int", "default": "5"},
                {"name": "out", "type": "String", "default": "inferences"},
            ],
            sinks=[
                {
                    **hub("hub", "motion"),
                    "hubOutputName": "${out}-${System.GraphInstanceName}",
                    "notes": [
                        "${System.GraphTopologyName}/${fps}",
                        7,
                        None,
                        {"t": "${System.DateTime}"},
                    ],
                    "pattern": "${System.PreciseDateTime}",
                }
            ],
        )
    )
    before = copy.deepcopy(kept)
    resolved = resolve(kept, given(rtspUrl="rtsp://cam", fps="10"))
    assert resolved["sources"][0]["endpoint"]["url"] == "rtsp://cam"
    sink = resolved["sinks"][0]
    assert sink["hubOutputName"] == "inferences-cam-1"
    assert sink["notes"] == ["t/10", 7, None, {"t": "${System.DateTime}"}]
    assert sink["pattern"] == "${System.PreciseDateTime}"
    assert kept == before  # the topology as kept is not changed
