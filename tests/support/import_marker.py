"""A module whose import leaves a mark: proof that it was imported."""

import os
from pathlib import Path

marker = os.environ.get("LVA_TEST_IMPORT_MARKER")
if marker:
    Path(marker).write_text("imported")


class Anything:
    pass
