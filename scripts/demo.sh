#!/usr/bin/env bash
# The whole solution on one machine, no Azure account, no Docker:
#   1. set up .venv (scripts/setup.sh) and make a sample clip of dark and light scenes;
#   2. start the gRPC extension (with credentials) and the LVA + IoT Hub simulator;
#   3. run the cloud-to-device console app on a demo operations.json: set the
#      topology of topologies/grpcExtension, create and activate a graph instance
#      on the clip, let it run, deactivate and delete everything;
#   4. show each inference message as it arrives, then the count and rate.
# Everything it started is stopped at the end, also on Ctrl+C.
# DEMO_SECONDS (default 10) sets how long the graph runs; files and logs go to out/demo/.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

scripts/setup.sh
bin=$root/.venv/bin
out=$root/out/demo
rm -rf "$out"
mkdir -p "$out"

pids=()
cleanup() {
    trap - EXIT INT TERM
    # Last started first: the event watcher prints its summary, then the servers stop.
    for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
        kill -TERM "${pids[i]}" 2>/dev/null || true
        wait "${pids[i]}" 2>/dev/null || true
    done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

wait_for() {  # wait_for SECONDS PID FILE PATTERN: until FILE has PATTERN, while PID lives
    local deadline=$((SECONDS + $1))
    until grep -q "$4" "$3" 2>/dev/null; do
        if ! kill -0 "$2" 2>/dev/null || ((SECONDS > deadline)); then
            echo "demo: it did not start; its log ($3):" >&2
            cat "$3" >&2 || true
            exit 1
        fi
        sleep 0.2
    done
}

echo "== a sample clip: dark and light scenes, 1 s each"
"$bin/lva-extension" sample-clip "$out/clip.mp4" --frames 150 --fps 15 --width 640 --height 360

echo "== the gRPC extension (colorIntensity), with credentials"
export EXTENSION_USERNAME=demo
EXTENSION_PASSWORD=$("$bin/python" -c 'import secrets; print(secrets.token_urlsafe(12))')
export EXTENSION_PASSWORD
authUsername=$EXTENSION_USERNAME authPassword=$EXTENSION_PASSWORD \
    "$bin/lva-extension" serve --grpc-binding tcp://127.0.0.1:0 >"$out/extension.log" 2>&1 &
pids+=($!)
wait_for 30 "${pids[-1]}" "$out/extension.log" "serving the LVA gRPC extension on"
EXTENSION_ADDRESS=$(sed -n 's/.*serving the LVA gRPC extension on \([^ ]*:[0-9]*\).*/\1/p' \
    "$out/extension.log" | head -1)
export EXTENSION_ADDRESS
echo "   listening on $EXTENSION_ADDRESS"

echo "== the LVA + IoT Hub simulator"
"$bin/lva-simulator" serve --port 0 --state-dir "$out/simulator" \
    --sink-output "$out/messages.jsonl" >"$out/simulator.log" 2>&1 &
pids+=($!)
wait_for 30 "${pids[-1]}" "$out/simulator.log" "IoT Hub connection string:"
touch "$out/messages.jsonl"
IoThubConnectionString=$(cat "$out/simulator/connection-string.txt")
echo "   ${IoThubConnectionString%%;*}"

echo "== inference messages, as they arrive (one line each)"
"$bin/lva-simulator" events --follow "$out/messages.jsonl" &
pids+=($!)

echo "== the console app runs the demo operations ($out/operations.json)"
export CLIP=$out/clip.mp4
export TOPOLOGY_FILE=$root/topologies/grpcExtension/topology.json
export SAMPLES_PER_SECOND=${SAMPLES_PER_SECOND:-15}
export DEMO_SECONDS=${DEMO_SECONDS:-10}
"$bin/python" -c 'import os, string, sys
sys.stdout.write(string.Template(sys.stdin.read()).substitute(os.environ))' \
    <scripts/demo/operations.template.json >"$out/operations.json"
IoThubConnectionString=$IoThubConnectionString deviceId=lva-sim-device moduleId=lvaEdge \
    REQUESTS_CA_BUNDLE=$out/simulator/hub-cert.pem \
    "$bin/python" cloud-to-device-console-app/main.py --operations "$out/operations.json" \
    --no-wait --brief --stop-on-error

sleep 0.5  # the last messages reach the watcher
cleanup
echo "== done; logs and files in $out"
