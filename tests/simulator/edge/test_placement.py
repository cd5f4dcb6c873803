"""Which modules run, which the simulator stands in for, which are skipped."""

from __future__ import annotations

import pytest
from lva_simulator.edge.manifest import ManifestError, Module
from lva_simulator.edge.placement import Role, place

TEMPLATE_MODULES = [
    Module("edgeAgent", "mcr.microsoft.com/azureiotedge-agent:1.4", system=True),
    Module("edgeHub", "mcr.microsoft.com/azureiotedge-hub:1.4", system=True),
    Module("lvaEdge", "mcr.microsoft.com/media/live-video-analytics:2"),
    Module("grpcExtension", "localhost/grpcextension:1.0.0-amd64"),
    Module("rtspsim", "mcr.microsoft.com/lva-utilities/rtspsim-live555:1.2"),
]


def test_template_modules() -> None:
    placements = {p.module.name: p for p in place(TEMPLATE_MODULES)}

    assert {name: p.role for name, p in placements.items()} == {
        "edgeAgent": Role.SKIP,
        "edgeHub": Role.SKIP,
        "lvaEdge": Role.STAND_IN,
        "grpcExtension": Role.RUN,
        "rtspsim": Role.SKIP,
    }
    assert placements["edgeAgent"].why == "played by lva-simulator deploy"
    assert "played by the simulator in lvaEdge" in placements["edgeHub"].why
    assert placements["rtspsim"].lends_binds
    assert "cannot be pulled here" in placements["rtspsim"].why


def test_other_microsoft_images_are_skipped_and_own_images_run() -> None:
    modules = [
        *TEMPLATE_MODULES,
        Module("objectCounter", "mcr.microsoft.com/lva-utilities/objectcounter:1.0"),
        Module("yolo", "myregistry.azurecr.io/yolo:1-amd64"),
    ]
    roles = {p.module.name: p.role for p in place(modules)}

    assert roles["objectCounter"] is Role.SKIP
    assert roles["yolo"] is Role.RUN


def test_lva_module_by_name_when_its_image_is_not_microsofts() -> None:
    modules = [Module("avaEdge", "myregistry.azurecr.io/my-lva:2"), TEMPLATE_MODULES[3]]

    with pytest.raises(ManifestError, match=r"expected one LVA module .* found none"):
        place(modules)
    roles = {p.module.name: p.role for p in place(modules, lva_module="avaEdge")}
    assert roles == {"avaEdge": Role.STAND_IN, "grpcExtension": Role.RUN}
    with pytest.raises(ManifestError, match="--lva-module nope: the manifest has no such module"):
        place(modules, lva_module="nope")
