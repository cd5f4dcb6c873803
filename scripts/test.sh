#!/usr/bin/env bash
# The test command: set up .venv, then lint, type-check, run every test and a subset of
# mutation testing.
# Extra arguments go to pytest (for example: scripts/test.sh -k shm -x).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
.venv/bin/pytest "$@"
if (($# == 0)); then
    # A time-boxed subset of mutation testing (about a minute): the pure core modules whose
    # mutants all die in seconds. The rest takes an hour: scripts/mutation.sh runs it.
    scripts/mutation.sh simulator.gate_timing processors.rules
fi
