#!/usr/bin/env bash
# The main job on a fresh machine: set up, start the extension server, send a
# generated dark/light clip through it over shared memory, print the
# inference JSON, and stop the server again (also on Ctrl+C).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
port=${DEMO_PORT:-5001}
mkdir -p out
.venv/bin/lva-extension sample-clip out/sample-clip.mp4 --frames 90 --fps 15
.venv/bin/lva-extension serve --grpc-binding "tcp://127.0.0.1:${port}" &
server=$!
trap 'kill "$server" 2>/dev/null; wait "$server" 2>/dev/null || true' EXIT INT TERM
.venv/bin/lva-extension health --address "127.0.0.1:${port}" --wait 20 >/dev/null 2>&1 || sleep 2
.venv/bin/lva-extension send --address "127.0.0.1:${port}" --video out/sample-clip.mp4 --shm --fps 30
