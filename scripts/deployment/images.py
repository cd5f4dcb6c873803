"""`${MODULES.<folder>}` and `${MODULES.<folder>.<platform>}`: the image tags of the solution's
own modules, read from `modules/<folder>/module.json`."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from .errors import DeploymentError
from .expand import expand_document
from .jsonfile import read_json

PLACEHOLDER_PREFIX = "MODULES."
MODULE_FOLDER = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_-]*$")


@dataclass(frozen=True)
class ModuleImage:
    folder: str
    repository: str
    version: str
    platforms: Mapping[str, str]

    def tag(self, platform: str, container_tag: str = "") -> str:
        # iotedgedev lower-cases the repository (Docker rejects upper case) and inserts
        # CONTAINER_TAG before the platform.
        suffix = f"-{container_tag}" if container_tag else ""
        return f"{self.repository.lower()}:{self.version}{suffix}-{platform}"


def load_module_image(module_json: Path, folder: str, variables: Mapping[str, str]) -> ModuleImage:
    raw = read_json(module_json, str(module_json))
    document, unresolved = expand_document(raw, variables.get)
    if unresolved:
        raise DeploymentError(
            f"{module_json} uses variables that are not set in the env file or the "
            f"environment: {', '.join(unresolved)}"
        )
    try:
        image = document["image"]
        platforms = image["tag"]["platforms"]
        return ModuleImage(folder, image["repository"], image["tag"]["version"], platforms)
    except (KeyError, TypeError) as error:
        raise DeploymentError(
            f"{module_json} lacks image.repository, image.tag.version or image.tag.platforms"
        ) from error


class ImageResolver:
    """Resolves the `MODULES.` placeholders of one template for one default platform."""

    def __init__(
        self,
        modules_dir: Path,
        variables: Mapping[str, str],
        default_platform: str,
    ) -> None:
        self._modules_dir = modules_dir
        self._variables = variables
        self._default_platform = default_platform
        self._loaded: dict[str, ModuleImage] = {}

    def resolve(self, placeholder: str) -> str:
        """`placeholder` is the text between `${` and `}`, e.g. `MODULES.grpcExtension`."""
        _, folder, *rest = placeholder.split(".", 2)
        module = self._module(placeholder, folder)
        platform = rest[0] if rest else self._default_platform
        if platform == "debug":
            platform = f"{self._default_platform}.debug"
        if platform not in module.platforms:
            known = ", ".join(module.platforms) or "none"
            raise DeploymentError(
                f"${{{placeholder}}}: platform {platform} is not in "
                f"{self._modules_dir.name}/{folder}/module.json (it has: {known})"
            )
        return module.tag(platform, self._variables.get("CONTAINER_TAG", ""))

    def _module(self, placeholder: str, folder: str) -> ModuleImage:
        if not MODULE_FOLDER.match(folder):
            # Only a folder of modules/: never an absolute path or one that climbs out.
            raise DeploymentError(
                f"${{{placeholder}}}: a module is named by its folder under"
                f" {self._modules_dir.name}/ (letters, digits, '_' and '-'), got {folder!r}"
            )
        if folder not in self._loaded:
            module_json = self._modules_dir / folder / "module.json"
            if not folder or not module_json.is_file():
                raise DeploymentError(
                    f"${{{placeholder}}}: there is no {self._modules_dir.name}/{folder}/module.json"
                )
            self._loaded[folder] = load_module_image(module_json, folder, self._variables)
        return self._loaded[folder]


def is_image_placeholder(name: str) -> bool:
    return name.startswith(PLACEHOLDER_PREFIX)
