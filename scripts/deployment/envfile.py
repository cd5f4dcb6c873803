"""The variables a template may use: a `.env` file merged with the process environment."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from dotenv import dotenv_values

from .errors import DeploymentError

# VS Code reads `.env` and lets it override the environment; iotedgedev lets the environment win.
Precedence = Literal["file", "environment"]


def load_variables(
    env_file: Path, environment: Mapping[str, str], precedence: Precedence = "file"
) -> dict[str, str]:
    if not env_file.is_file():
        raise DeploymentError(
            f"env file {env_file} not found: copy .env.example to it and fill in the values"
        )
    # python-dotenv parses the file the way iotedgedev does (quotes, `export`, ${VAR} inside
    # values); a line without "=" leaves the variable unset rather than empty.
    from_file = {k: v for k, v in dotenv_values(env_file).items() if v is not None}
    if precedence == "file":
        return {**environment, **from_file}
    return {**from_file, **environment}
