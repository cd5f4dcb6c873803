#!/usr/bin/env bash
# Create .venv and install the extension (with its video, onnx and opencv extras) and the
# development tools into it; then the container tooling the image and deployment tests
# use (scripts/containers/setup.sh; skipped where it cannot install, and so are those
# tests). Safe to run again: it only adds what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages, installed only when one is missing: the simulator's RTSP camera is
# GStreamer's RTSP server, run by the system Python (python3-gi); the web view's browser
# tests drive Debian's headless Chromium over the DevTools protocol
# (tests/support/browser.py): no driver, nothing downloaded by the tests.
system_packages=(python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-base
    gstreamer1.0-plugins-good gstreamer1.0-plugins-bad chromium)
missing=()
for package in "${system_packages[@]}"; do
    if [[ "$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null)" != "install ok installed" ]]; then
        missing+=("$package")
    fi
done
if ((${#missing[@]})); then
    sudo=()
    if ((EUID != 0)); then
        sudo=(sudo)
    fi
    echo "setup: installing ${missing[*]} (the simulator's RTSP camera, the browser tests)" >&2
    "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null
fi
python=${PYTHON:-python3}
if [[ ! -x .venv/bin/python ]]; then
    "$python" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -r requirements-dev.txt -e "modules/grpcExtension[video,onnx,opencv]" \
    -e simulator -r cloud-to-device-console-app/requirements.txt
# The mutation tool (scripts/mutation.sh), pinned apart: its mutant names are in equivalent.txt.
.venv/bin/python -m pip install --quiet -r scripts/mutation/requirements.txt
scripts/containers/setup.sh --optional
