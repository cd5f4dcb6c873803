"""Topologies and graph instances, kept in a small JSON file.

The file holds what was set and whether each instance is meant to be active,
so a restarted simulator has the same topologies and instances, and starts
the active ones again (as the LVA module does after a restart). It is written
atomically after every change.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

Json = dict[str, Any]
FORMAT_VERSION = 1


class Store:
    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.topologies: dict[str, Json] = {}
        self.instances: dict[str, Json] = {}
        if path is not None and path.is_file():
            data = json.loads(path.read_text())
            if data.get("version") != FORMAT_VERSION:
                raise ValueError(f"{path}: unknown state format {data.get('version')!r}")
            self.topologies = data["topologies"]
            self.instances = data["instances"]

    def save(self) -> None:
        if self.path is None:
            return
        data = {
            "version": FORMAT_VERSION,
            "topologies": self.topologies,
            "instances": self.instances,
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(prefix=".state-", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w") as out:
                json.dump(data, out, indent=2)
            os.replace(temporary, self.path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    def instances_of(self, topology: str) -> list[str]:
        return sorted(
            name
            for name, i in self.instances.items()
            if i["properties"]["topologyName"] == topology
        )
