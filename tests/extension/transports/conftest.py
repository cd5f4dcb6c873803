"""What the transport tests share: a shared memory buffer file of known bytes."""

from __future__ import annotations

import pytest


@pytest.fixture
def buffer_file(tmp_path):
    """A 1024-byte buffer whose byte i is i % 256."""
    path = tmp_path / "frames"
    path.write_bytes(bytes(range(256)) * 4)
    return path
