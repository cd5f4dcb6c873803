#!/usr/bin/env bash
# The test command: set up .venv, then lint, type-check and run every test.
# Extra arguments go to pytest (for example: scripts/test.sh -k shm -x).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
.venv/bin/pytest "$@"
