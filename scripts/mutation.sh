#!/usr/bin/env bash
# Mutation testing of the core: break the code in small ways, one mutant at a time,
# and check that the tests notice (scripts/mutation/run.py). Prints a score per
# module and the mutants left alive; exits non-zero when a module is below its floor.
# CI runs two fast modules (scripts/test.sh); all of them take about an hour. Usage:
#   scripts/mutation.sh [module ...] [--jobs N] [--keep DIR] [--list]
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ ! -x .venv/bin/python ]]; then
    scripts/setup.sh
fi
pinned=$(grep -E '^mutmut==' scripts/mutation/requirements.txt)
if [[ "$(.venv/bin/python -m pip show mutmut 2>/dev/null | sed -n 's/^Version: //p')" != "${pinned#mutmut==}" ]]; then
    .venv/bin/python -m pip install --quiet -r scripts/mutation/requirements.txt
fi
exec .venv/bin/python scripts/mutation/run.py "$@"
