"""Which of a manifest's modules run here, which the simulator stands in for, which are skipped.

Images Microsoft hosts (``mcr.microsoft.com``) cannot be pulled here. The LVA
module's place is taken by the simulator; ``edgeAgent`` is played by the deploy
command itself and ``edgeHub`` by the simulator (direct methods, the message
sink); ``rtspsim`` is left out, and its videos are handed to the simulator,
which plays files itself. Every other module runs from its own image.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

from .manifest import ManifestError, Module

MICROSOFT_REGISTRY = "mcr.microsoft.com/"
LVA_IMAGES = (
    "mcr.microsoft.com/media/live-video-analytics",
    "mcr.microsoft.com/media/video-analyzer",
)
RTSPSIM_IMAGE = "mcr.microsoft.com/lva-utilities/rtspsim"


class Role(Enum):
    RUN = "run"  # from its own image, with its createOptions
    STAND_IN = "stand-in"  # the simulator, with the LVA module's createOptions
    SKIP = "skip"


@dataclass(frozen=True)
class Placement:
    module: Module
    role: Role
    why: str = ""  # for SKIP: what happens to it instead
    lends_binds: bool = False  # its Binds go to the stand-in, read-only (rtspsim's videos)


def is_lva(module: Module) -> bool:
    return module.image.startswith(LVA_IMAGES)


def place(modules: Sequence[Module], lva_module: str | None = None) -> list[Placement]:
    """One placement per module; ``lva_module`` names the LVA module when its image is not
    Microsoft's (else it is found by its image)."""
    names = {module.name for module in modules if not module.system}
    if lva_module is None:
        lva = [module.name for module in modules if is_lva(module) and not module.system]
        if len(lva) != 1:
            found = ", ".join(lva) or "none"
            raise ManifestError(
                f"expected one LVA module (image {LVA_IMAGES[0]}:...), found {found}:"
                " name it with --lva-module"
            )
        lva_module = lva[0]
    elif lva_module not in names:
        raise ManifestError(f"--lva-module {lva_module}: the manifest has no such module")
    return [_place(module, lva_module) for module in modules]


def _place(module: Module, lva_module: str) -> Placement:
    if module.system and module.name == "edgeAgent":
        return Placement(module, Role.SKIP, "played by lva-simulator deploy")
    if module.system and module.name == "edgeHub":
        return Placement(
            module,
            Role.SKIP,
            f"played by the simulator in {lva_module}: direct methods and the messages sink",
        )
    if module.name == lva_module:
        return Placement(module, Role.STAND_IN)
    if module.image.startswith(RTSPSIM_IMAGE):
        return Placement(
            module,
            Role.SKIP,
            f"{module.image} is hosted by Microsoft and cannot be pulled here; its video"
            f" folder is mounted into {lva_module} instead, which plays files itself",
            lends_binds=True,
        )
    if module.image.startswith(MICROSOFT_REGISTRY) or module.system:
        return Placement(
            module, Role.SKIP, f"{module.image} is hosted by Microsoft and cannot be pulled here"
        )
    return Placement(module, Role.RUN)
