#!/usr/bin/env bash
# Create .venv and install the extension (with the video extra) and the
# development tools into it. Safe to run again: it only adds what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python3}
if [[ ! -x .venv/bin/python ]]; then
    "$python" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -r requirements-dev.txt -e "modules/grpcExtension[video,onnx]" \
    -e simulator -r cloud-to-device-console-app/requirements.txt
