"""The IoT Hub connection string the simulator answers to, and its key.

The key is made once and kept in the state directory, so the connection
string stays the same across restarts (apps keep working).
"""

from __future__ import annotations

import base64
import binascii
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

DEFAULT_POLICY = "iothubowner"


class ConnectionStringError(ValueError):
    pass


@dataclass(frozen=True)
class HubConnectionString:
    """``HostName=...;SharedAccessKeyName=...;SharedAccessKey=...``"""

    host_name: str
    key_name: str
    key: str  # base64

    def __str__(self) -> str:
        return (
            f"HostName={self.host_name};SharedAccessKeyName={self.key_name};"
            f"SharedAccessKey={self.key}"
        )

    @property
    def key_bytes(self) -> bytes:
        return base64.b64decode(self.key, validate=True)

    @classmethod
    def parse(cls, text: str) -> HubConnectionString:
        fields: dict[str, str] = {}
        for part in text.strip().split(";"):
            name, sep, value = part.partition("=")
            if not sep or not name or name in fields:
                raise ConnectionStringError(
                    f"expected Name=value pairs separated by ';', got {part!r}"
                )
            fields[name] = value
        missing = [
            k for k in ("HostName", "SharedAccessKeyName", "SharedAccessKey") if k not in fields
        ]
        if missing:
            raise ConnectionStringError(
                "an IoT Hub connection string needs HostName, SharedAccessKeyName and"
                f" SharedAccessKey; missing {', '.join(missing)}"
            )
        parsed = cls(fields["HostName"], fields["SharedAccessKeyName"], fields["SharedAccessKey"])
        try:
            parsed.key_bytes  # noqa: B018 - validates the key
        except binascii.Error:
            raise ConnectionStringError("SharedAccessKey is not valid base64") from None
        return parsed


def new_key() -> str:
    return base64.b64encode(secrets.token_bytes(32)).decode()


def load_or_create_key(path: Path) -> str:
    """The hub's shared access key, kept in ``path`` (created private on first use)."""
    if path.is_file():
        key = path.read_text().strip()
        try:
            base64.b64decode(key, validate=True)
        except binascii.Error:
            raise ConnectionStringError(
                f"{path}: not a base64 key; delete it to make a new one"
            ) from None
        return key
    key = new_key()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(key + "\n")
    return key
