"""The LVA module's direct methods: validation, parameters, states, errors, persistence.

Calls go straight into the running simulator's module (the HTTPS path is
tested with the real SDK in test_simulator_hub.py and test_console_app.py).
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
from lva_extension.client.clips import dark_light_frames, write_clip

from tests.support.simulator import TOPOLOGY_NAME, instance, running_simulator, topology

_M = "#Microsoft.Media."


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("clip") / "clip.mp4"
    write_clip(path, dark_light_frames(64, 48, 6, scene_frames=3), fps=15)
    return path


@pytest.fixture
def sim(tmp_path):
    with running_simulator(tmp_path / "state") as running:
        yield running


def error_of(result):
    status, payload = result
    return (
        status,
        payload["error"]["code"],
        [d["code"] for d in payload["error"].get("details", [])],
    )


def test_api_version_is_checked(sim):
    assert error_of(sim.invoke("GraphTopologyList", {"@apiVersion": "3.0"}))[:2] == (
        400,
        "ApiVersionNotSupported",
    )
    status, payload = sim.call(sim.simulator.module.invoke("GraphTopologyList", {}))
    assert (status, payload["error"]["code"]) == (400, "ApiVersionNotSupported")
    assert sim.invoke("GraphTopologyList", {"@apiVersion": "1.0"})[0] == 200
    status, payload = sim.invoke("GraphTopologyRemove", {})
    assert status == 400 and "GraphTopologyDelete" in payload["error"]["message"]


def _broken(change):
    body = topology()
    change(body["properties"])
    return body


def _node(properties, section, index=0):
    return properties[section][index]


@pytest.mark.parametrize(
    ("body", "code", "detail"),
    [
        ({"name": "x"}, "InvalidResource", "PropertyRequired"),
        ({**topology(), "name": "-bad name-"}, "InvalidResource", "PropertyValueInvalidPattern"),
        (
            _broken(lambda p: _node(p, "processors").update({"@type": f"{_M}MediaGraphNope"})),
            "InvalidResource",
            "UnknownType",
        ),
        (
            _broken(lambda p: _node(p, "sinks").update({"inputs": [{"nodeName": "ghost"}]})),
            "GraphValidationError",
            "NodeNotFound",
        ),
        (
            _broken(lambda p: _node(p, "processors").update({"extensionConfiguration": "${nope}"})),
            "InvalidResource",
            "ParameterNotDeclared",
        ),
        (
            _broken(lambda p: p["parameters"].append({"name": "n", "type": "Int", "default": "x"})),
            "InvalidResource",
            "PropertyValueInvalid",
        ),
        (
            _broken(lambda p: p["parameters"].append({"name": "n", "type": "Float"})),
            "InvalidResource",
            "PropertyValueInvalid",
        ),
        (
            _broken(lambda p: p["sinks"].append(copy.deepcopy(p["sinks"][0]))),
            "InvalidResource",
            "NodeNameDuplicated",
        ),
        (_broken(lambda p: p.update({"sinks": []})), "InvalidResource", "PropertyRequired"),
        (
            _broken(
                lambda p: p["processors"].append(
                    {
                        "@type": f"{_M}MediaGraphFrameRateFilterProcessor",
                        "name": "unused",
                        "maximumFps": "2",
                        "inputs": [{"nodeName": "rtspSource"}],
                    }
                )
            ),
            "GraphValidationError",
            "NodeOutputUnused",
        ),
        (
            _broken(
                lambda p: _node(p, "processors").update(
                    {"inputs": [{"nodeName": "rtspSource"}, {"nodeName": "grpcExtension"}]}
                )
            ),
            "GraphValidationError",
            "GraphCycle",
        ),
    ],
    ids=[
        "no-properties",
        "bad-name",
        "unknown-type",
        "missing-input",
        "undeclared-parameter",
        "bad-default",
        "bad-type",
        "duplicate-node",
        "no-sinks",
        "unused-output",
        "cycle",
    ],
)
def test_topology_validation(sim, body, code, detail):
    status, got_code, details = error_of(sim.invoke("GraphTopologySet", body))
    assert (status, got_code) == (400, code)
    assert detail in details


def test_topology_set_get_list_and_update(sim):
    status, created = sim.invoke("GraphTopologySet", topology())
    assert status == 201
    assert created["name"] == TOPOLOGY_NAME and "@apiVersion" not in created
    sim.invoke("GraphTopologySet", topology(name="Another"))
    status, updated = sim.invoke("GraphTopologySet", topology())
    assert status == 200
    assert updated["systemData"]["createdAt"] == created["systemData"]["createdAt"]
    assert sim.invoke("GraphTopologyGet", {"name": TOPOLOGY_NAME}) == (200, updated)
    status, listed = sim.invoke("GraphTopologyList", {})
    assert [t["name"] for t in listed["value"]] == ["Another", TOPOLOGY_NAME]
    assert error_of(sim.invoke("GraphTopologyGet", {"name": "Missing"}))[:2] == (404, "NotFound")


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (instance("g1", "NoSuchTopology", rtspUrl="/x.mp4"), "GraphTopologyNotFound"),
        (instance("g1"), "ParameterValueMissing"),
        (instance("g1", rtspUrl="/x.mp4", colour="red"), "ParameterNotDeclared"),
        (instance("g1", rtspUrl="/x.mp4", frameWidth="wide"), "ParameterValueInvalid"),
        (instance("g1", rtspUrl="/x.mp4", imageScaleMode="zoom"), "PropertyValueInvalid"),
        (
            instance("g1", rtspUrl="/x.mp4", grpcExtensionAddress="http://host:5001"),
            "PropertyValueInvalid",
        ),
        (instance("g1", rtspUrl="http://camera/stream"), "RtspEndpointUrlInvalidScheme"),
        ({"name": "g1", "properties": {}}, "PropertyRequired"),
    ],
    ids=[
        "no-topology",
        "missing-value",
        "undeclared",
        "not-an-int",
        "bad-scale",
        "bad-url",
        "http-source",
        "no-topology-name",
    ],
)
def test_instance_validation(sim, body, detail):
    sim.invoke("GraphTopologySet", topology())
    status, _, details = error_of(sim.invoke("GraphInstanceSet", body))
    assert status == 400
    assert detail in details


def test_nodes_the_simulator_does_not_run_are_refused_at_instance_set(sim):
    body = topology(name="Tracking")
    properties = body["properties"]
    properties["processors"].append(
        {
            "@type": f"{_M}MediaGraphObjectTrackingProcessor",
            "name": "objectTracker",
            "inputs": [{"nodeName": "grpcExtension"}],
        },
    )
    properties["sinks"][0]["inputs"] = [{"nodeName": "objectTracker"}]
    assert sim.invoke("GraphTopologySet", body)[0] == 201
    status, payload = sim.invoke("GraphInstanceSet", instance("t1", "Tracking", rtspUrl="/x.mp4"))
    assert (status, payload["error"]["code"]) == (400, "ModuleValidationError")
    [detail] = payload["error"]["details"]
    assert detail["code"] == "NotSupportedBySimulator"
    assert detail["target"] == "$.properties.processors[1].@type"
    assert "'objectTracker' (MediaGraphObjectTrackingProcessor)" in detail["message"]


def test_instance_states_and_conflicts(sim, clip):
    assert sim.invoke("GraphTopologySet", topology())[0] == 201
    status, created = sim.invoke("GraphInstanceSet", instance("g1", rtspUrl=str(clip)))
    assert status == 201 and created["properties"]["state"] == "Inactive"
    assert error_of(sim.invoke("GraphInstanceActivate", {"name": "nope"}))[:2] == (404, "NotFound")

    assert sim.invoke("GraphInstanceActivate", {"name": "g1"}) == (200, None)
    assert sim.invoke("GraphInstanceGet", {"name": "g1"})[1]["properties"]["state"] == "Active"
    assert sim.invoke("GraphInstanceActivate", {"name": "g1"}) == (200, None)  # idempotent
    in_state = (409, "OperationNotAllowedInState", [])
    assert error_of(sim.invoke("GraphInstanceSet", instance("g1", rtspUrl=str(clip)))) == in_state
    assert error_of(sim.invoke("GraphInstanceDelete", {"name": "g1"})) == in_state
    assert error_of(sim.invoke("GraphTopologySet", topology()))[:2] == (409, "GraphTopologyInUse")
    assert error_of(sim.invoke("GraphTopologyDelete", {"name": TOPOLOGY_NAME}))[:2] == (
        409,
        "GraphTopologyInUse",
    )

    assert sim.invoke("GraphInstanceDeactivate", {"name": "g1"}) == (200, None)
    assert sim.invoke("GraphInstanceDeactivate", {"name": "g1"}) == (200, None)
    assert "g1" not in sim.simulator.module.runs
    # Inactive: the topology may change, if the instance still fits it.
    assert sim.invoke("GraphTopologySet", topology())[0] == 200
    stricter = topology()
    stricter["properties"]["parameters"].append({"name": "site", "type": "String"})
    assert error_of(sim.invoke("GraphTopologySet", stricter))[:2] == (409, "GraphTopologyInUse")
    assert error_of(sim.invoke("GraphTopologyDelete", {"name": TOPOLOGY_NAME}))[:2] == (
        409,
        "GraphTopologyInUse",
    )
    assert sim.invoke("GraphInstanceDelete", {"name": "g1"}) == (200, None)
    assert sim.invoke("GraphInstanceDelete", {"name": "g1"}) == (204, None)
    assert sim.invoke("GraphTopologyDelete", {"name": TOPOLOGY_NAME}) == (200, None)
    assert sim.invoke("GraphTopologyDelete", {"name": TOPOLOGY_NAME}) == (204, None)


def test_activating_with_a_missing_video_file_says_which(sim, tmp_path):
    sim.invoke("GraphTopologySet", topology())
    missing = tmp_path / "no-such.mp4"
    assert sim.invoke("GraphInstanceSet", instance("g1", rtspUrl=f"file://{missing}"))[0] == 201
    status, payload = sim.invoke("GraphInstanceActivate", {"name": "g1"})
    assert status == 400
    assert str(missing) in payload["error"]["details"][0]["message"]
    assert sim.invoke("GraphInstanceGet", {"name": "g1"})[1]["properties"]["state"] == "Inactive"


def test_state_survives_a_restart_and_active_instances_start_again(tmp_path, clip):
    state = tmp_path / "state"
    with running_simulator(state) as first:
        first.invoke("GraphTopologySet", topology())
        first.invoke("GraphInstanceSet", instance("kept", rtspUrl=str(clip)))
        first.invoke("GraphInstanceSet", instance("active", rtspUrl=str(clip)))
        assert first.invoke("GraphInstanceActivate", {"name": "active"}) == (200, None)
        key = first.simulator.connection_string.key
    assert not (state / "connection-string.txt").exists()  # gone while the hub is down
    with running_simulator(state) as second:
        assert second.simulator.connection_string.key == key
        names = [i["name"] for i in second.invoke("GraphInstanceList", {})[1]["value"]]
        assert names == ["active", "kept"]
        assert sorted(second.simulator.module.runs) == ["active"]
        assert second.invoke("GraphInstanceGet", {"name": "active"})[1]["properties"]["state"] == (
            "Active"
        )
        assert second.invoke("GraphTopologyGet", {"name": TOPOLOGY_NAME})[0] == 200
