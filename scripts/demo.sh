#!/usr/bin/env bash
# The whole solution on one machine, no Azure account, no Docker:
#   1. set up .venv (scripts/setup.sh) and make a sample clip in which boxes move;
#   2. start the gRPC extension (with credentials) and the LVA + IoT Hub simulator,
#      whose camera serves the clip as rtsp://rtspsim:554/media/moving.mkv;
#   3. run the cloud-to-device console app on a demo operations.json: set
#      InferencingWithGrpcExtension (topologies/grpcExtension: motion -> extension,
#      motion -> signal gate -> asset), create and activate a graph instance on the
#      camera, let it run, deactivate and delete everything;
#   4. show each message as it arrives (the camera's session, inferences, recordings),
#      then the count and rate, and where the recordings landed.
#   The simulator's web view shows it live: the link (with its access token) is printed
#   before the graph starts; open it while the graph runs.
# Everything it started is stopped at the end, also on Ctrl+C.
# DEMO_SECONDS (default 12) sets how long the graph runs; DEMO_WAIT=enter runs it until you
# press Enter instead (time to look around the web view); files and logs go to out/demo/.
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

echo "== a sample clip: a box crosses the frame at 2-4.5 s, another at 6.5-8.5 s"
mkdir -p "$out/media"
"$bin/lva-extension" sample-clip "$out/media/moving.mkv" --scene moving --frames 100 --fps 10 \
    --width 640 --height 360

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

echo "== the LVA + IoT Hub simulator; its camera is rtspsim, the extension is grpcExtension"
export CAMERA_USERNAME=viewer
CAMERA_PASSWORD=$("$bin/python" -c 'import secrets; print(secrets.token_urlsafe(12))')
export CAMERA_PASSWORD
LVA_SIMULATOR_CAMERA_PASSWORD=$CAMERA_PASSWORD "$bin/lva-simulator" serve --port 0 --web-port 0 \
    --state-dir "$out/simulator" --sink-output "$out/messages.jsonl" \
    --camera-media "$out/media" --camera-port 0 --camera-username "$CAMERA_USERNAME" \
    --module-address "grpcExtension=$EXTENSION_ADDRESS" --assets-dir "$out/assets" \
    >"$out/simulator.log" 2>&1 &
pids+=($!)
wait_for 30 "${pids[-1]}" "$out/simulator.log" "IoT Hub connection string:"
touch "$out/messages.jsonl"
IoThubConnectionString=$(cat "$out/simulator/connection-string.txt")
echo "   ${IoThubConnectionString%%;*}"
web_url=$(cat "$out/simulator/web-url.txt")
echo "== the web view: open the link while the graph runs (frames with their inferences, node"
echo "   stats, events, recordings), or the graph instance's page once it is active:"
echo "   $web_url"
echo "   ${web_url%%/\?*}/instances/Demo-1?${web_url#*\?}"

echo "== messages, as they arrive (one line each)"
"$bin/lva-simulator" events --follow "$out/messages.jsonl" &
pids+=($!)

echo "== the console app runs the demo operations ($out/operations.json)"
export CLIP_NAME=moving.mkv
export TOPOLOGY_FILE=$root/topologies/grpcExtension/topology.json
export SAMPLES_PER_SECOND=${SAMPLES_PER_SECOND:-5}
export GATE_TIME=${GATE_TIME:-PT3S}
export DEMO_SECONDS=${DEMO_SECONDS:-12}
waiting=(--no-wait)
if [[ ${DEMO_WAIT:-} == enter ]]; then
    waiting=()  # WaitForInput waits for Enter
fi
"$bin/python" -c 'import os, string, sys
sys.stdout.write(string.Template(sys.stdin.read()).substitute(os.environ))' \
    <scripts/demo/operations.template.json >"$out/operations.json"
IoThubConnectionString=$IoThubConnectionString deviceId=lva-sim-device moduleId=lvaEdge \
    REQUESTS_CA_BUNDLE=$out/simulator/hub-cert.pem \
    "$bin/python" cloud-to-device-console-app/main.py --operations "$out/operations.json" \
    "${waiting[@]}" --brief --stop-on-error

sleep 0.5  # the last messages reach the watcher
cleanup
echo "== motion and the signal gate, from the simulator's log (this topology publishes no motion"
echo "   events: motion feeds the extension and the gate, as in LVA's sample)"
grep -E "motion (starts|ends)|signalGateProcessor: (opens|closes)" "$out/simulator.log" |
    sed -E 's/^[0-9-]+ [0-9:,]+ INFO [^ ]+: /   /'
echo "== the recordings (an asset per burst of motion), as a player reads them"
"$bin/python" scripts/demo/recordings.py "$out/assets"
echo "== done; logs and files in $out"
