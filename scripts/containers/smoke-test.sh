#!/usr/bin/env bash
# smoke-test.sh IMAGE: run the extension's image as a device would and check what a user would:
#   - the HEALTHCHECK passes (podman healthcheck run);
#   - PID 1 is the server (lva-extension serve), running as the non-root uid 1010;
#   - frames are answered, embedded and through shared memory: the client runs in a second
#     container from the same image that joins the server's IPC namespace, as the extension
#     joins lvaEdge's on a device; without that namespace shared memory must fail;
#   - SIGTERM drains: a stream in flight is answered to its last frame, then exit code 0;
#   - the image size.
# One line per check; the first failure ends it with one line and the server's log.
# Every container it starts is removed, also on failure or Ctrl+C.
set -euo pipefail

image=${1:?usage: smoke-test.sh IMAGE}
uid=1010
name=lva-smoke-$$-$RANDOM
server=$name-server
client=$name-client
log=$(mktemp)

cleanup() {
    # One at a time, the client (which joined the server's namespaces) first: podman 4.3
    # silently keeps the server when both are named in one `podman rm`.
    local container
    for container in "$client" "$server"; do
        podman rm --force --time 0 "$container" >/dev/null 2>&1 || true
    done
    rm -f "$log"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fail() {
    echo "smoke-test $image: FAILED: $1" >&2
    if podman container exists "$server"; then
        echo "--- the server's log (last 20 lines):" >&2
        podman logs "$server" 2>&1 | tail -20 >&2
    fi
    exit 1
}

# A client next to the server: its network namespace (127.0.0.1:5001) and, with "shared",
# its IPC namespace and so its /dev/shm.
send() {  # send shared|private ARGS...: run `lva-extension send` in a second container
    local ipc=()
    [[ $1 == shared ]] && ipc=(--ipc "container:$server")
    shift
    podman run --rm --network "container:$server" "${ipc[@]}" "$image" \
        send --address 127.0.0.1:5001 --width 320 --height 240 "$@"
}

[[ $(podman image inspect --format '{{.HealthCheck}}' "$image") == *lva-extension* ]] ||
    fail "the image has no HEALTHCHECK (an OCI image drops it: build with --format docker)"
podman run --detach --name "$server" "$image" >/dev/null 2>"$log" ||
    fail "the container did not start: $(tail -1 "$log")"

# The image's HEALTHCHECK, run by hand: podman runs it on a timer only where systemd runs.
deadline=$((SECONDS + 180))  # under qemu an arm64 server takes a while to start
until podman healthcheck run "$server" >/dev/null 2>&1; do
    [[ $(podman inspect --format '{{.State.Running}}' "$server") == true ]] ||
        fail "the server exited with code $(podman inspect --format '{{.State.ExitCode}}' "$server")"
    ((SECONDS < deadline)) || fail "the healthcheck did not pass within 180 s"
    sleep 1
done
echo "  healthcheck: healthy ($(podman inspect --format '{{.State.Health.Status}}' "$server"))"

pid1=$(podman exec "$server" cat /proc/1/cmdline | tr '\0' ' ')
[[ $pid1 == *"lva-extension serve"* ]] || fail "PID 1 is '$pid1', not lva-extension serve"
pid1_uid=$(podman exec "$server" awk '/^Uid:/ {print $2}' /proc/1/status)
((pid1_uid == uid)) || fail "PID 1 runs as uid $pid1_uid, not $uid"
echo "  PID 1: ${pid1% } as uid $pid1_uid"

frames=30
for transfer in embedded "shared memory"; do
    args=(--frames "$frames")
    [[ $transfer == embedded ]] || args+=(--shm)
    answers=$(send shared "${args[@]}" 2>"$log") ||
        fail "$transfer: the client failed: $(tail -1 "$log")"
    lines=$(grep -c '"inferences"' <<<"$answers" || true)
    ((lines == frames)) || fail "$transfer: $lines of $frames frames answered with inferences"
    echo "  $transfer: $(tail -1 "$log")"
done

# Shared memory really goes through the shared IPC namespace: without it the server cannot
# find the client's /dev/shm file.
if send private --frames 1 --shm >/dev/null 2>"$log"; then
    fail "shared memory worked without a shared IPC namespace: it cannot have used /dev/shm"
fi
grep -q NOT_FOUND "$log" || fail "without a shared IPC namespace: $(tail -1 "$log")"
echo "  shared memory without the IPC namespace: refused (NOT_FOUND), as it must be"

# SIGTERM while a 3-second stream is in flight: every frame is still answered, exit code 0.
podman run --detach --name "$client" --network "container:$server" --ipc "container:$server" \
    "$image" send --address 127.0.0.1:5001 --width 320 --height 240 --shm --frames 90 --fps 30 \
    >/dev/null 2>"$log" || fail "the draining client did not start: $(tail -1 "$log")"
# The stream is in flight once its first answer is out (an emulated client starts slowly).
deadline=$((SECONDS + 60))
until podman logs "$client" 2>/dev/null | grep -q '"inferences"'; do
    ((SECONDS < deadline)) || fail "the draining client got no answer within 60 s"
    sleep 0.2
done
podman kill --signal TERM "$server" >/dev/null
code=$(podman wait "$server")
((code == 0)) || fail "after SIGTERM the server exited with code $code"
client_code=$(podman wait "$client")
summary=$(podman logs "$client" 2>&1 >/dev/null | tail -1)
((client_code == 0)) || fail "the stream in flight at SIGTERM failed: $summary"
[[ $summary == "90/90 frames acknowledged"* ]] || fail "SIGTERM cut the stream: $summary"
echo "  SIGTERM: the stream in flight drained ($summary), then exit code 0"

size=$(podman image inspect --format '{{.Size}}' "$image")
echo "  size: $((size / 1000000)) MB"
