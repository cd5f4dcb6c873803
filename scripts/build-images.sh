#!/usr/bin/env bash
# Build the grpcExtension module's images from its Dockerfiles, unchanged, with podman (no
# Docker engine needed), then smoke-test each one (scripts/containers/smoke-test.sh).
#
#   scripts/build-images.sh [amd64|arm64v8|all] [--with-simulator]
#
# The image is <CONTAINER_REGISTRY_SERVER>/grpcextension:<version>[-<CONTAINER_TAG>]-<platform>,
# as the deployment manifest names it: both variables come from the environment, else from
# .env, and the server defaults to "localhost". --with-simulator also builds
# localhost/lva-simulator:<version> on the amd64 image, for `lva-simulator deploy`.
# Where the Dockerfile's base image cannot be pulled (no registry here), a stand-in is built
# from Debian packages and kept for later runs: see docs/container-images.md for what differs.
# arm64v8 builds and runs under qemu-user-static: expect minutes, not seconds.
# Build logs: out/images/.
set -euo pipefail
cd "$(dirname "$0")/.."

platforms=() with_simulator=false
for arg in "$@"; do
    case $arg in
        amd64 | arm64v8) platforms+=("$arg") ;;
        all) platforms+=(amd64 arm64v8) ;;
        --with-simulator) with_simulator=true ;;
        -h | --help) sed -n '2,14s/^# \{0,1\}//p' "$0"; exit 0 ;;
        *) echo "build-images: unknown argument '$arg' (amd64, arm64v8, all, --with-simulator)" >&2
           exit 2 ;;
    esac
done
((${#platforms[@]})) || platforms=(amd64)
if $with_simulator && [[ " ${platforms[*]} " != *" amd64 "* ]]; then
    echo "build-images: --with-simulator builds on the amd64 image: add amd64" >&2
    exit 2
fi

setup=(scripts/containers/setup.sh)
[[ " ${platforms[*]} " == *" arm64v8 "* ]] && setup+=(--arm64)
"${setup[@]}"

from_env_file() {  # from_env_file NAME: NAME's value in the environment, else in .env
    if [[ -n ${!1+set} ]]; then
        echo "${!1}"
    elif [[ -f .env ]]; then
        sed -n "s/^$1=//p" .env | tail -1 | tr -d '"'"'"
    fi
}
registry=$(from_env_file CONTAINER_REGISTRY_SERVER)
registry=${registry:-localhost}
registry=${registry,,}  # registries want lower case; iotedgedev lower-cases it too
container_tag=$(from_env_file CONTAINER_TAG)
module=modules/grpcExtension
version=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["image"]["tag"]["version"])' \
    "$module/module.json")
logs=out/images
mkdir -p "$logs"

# The machine's CA bundle, read-only, for pip inside the build (RUN steps only; it does not
# end up in the image). Debian's pip, which the stand-in base has, reads this file.
ca_bundle=/etc/ssl/certs/ca-certificates.crt
mounts=()
[[ -f $ca_bundle ]] && mounts=(--volume "$ca_bundle:$ca_bundle:ro")

qualified() {  # the name Docker resolves a FROM to: docker.io/ for names without a registry
    local first=${1%%/*}
    if [[ $1 != */* ]]; then
        echo "docker.io/library/$1"
    elif [[ $first == *.* || $first == *:* || $first == localhost ]]; then
        echo "$1"
    else
        echo "docker.io/$1"
    fi
}

build() {  # build LOG ARGS...: podman build, its steps shown, its whole output in LOG
    local log=$1
    shift
    local started=$SECONDS
    if ! podman build --pull=never --format docker "${mounts[@]}" "$@" 2>&1 |
        tee "$log" | grep --line-buffered -E '^(\[[0-9]+/[0-9]+\] )?STEP ' | sed -u 's/^/    /'
    then
        tail -15 "$log" | sed 's/^/    | /' >&2
        echo "build-images: the build failed; its log: $log" >&2
        exit 1
    fi
    echo "  built in $((SECONDS - started)) s"
}

declare -A built
for platform in "${platforms[@]}"; do
    dockerfile=$module/Dockerfile.$platform
    image=$registry/grpcextension:$version${container_tag:+-$container_tag}-$platform
    echo "== $platform: $image"
    mapfile -t bases < <(sed -n 's/^FROM[[:space:]]\{1,\}\([^[:space:]]*\).*/\1/p' "$dockerfile" | sort -u)
    ((${#bases[@]} == 1)) ||
        { echo "build-images: $dockerfile: expected one base image, got: ${bases[*]}" >&2; exit 1; }
    scripts/containers/stand-in-base.sh "$platform" "$(qualified "${bases[0]}")" | sed -u 's/^/  /'
    case $platform in
        amd64) os_platform=linux/amd64 ;;
        arm64v8) os_platform=linux/arm64/v8 ;;
    esac
    build "$logs/$platform.log" --platform "$os_platform" -f "$dockerfile" -t "$image" "$module"
    echo "  smoke test:"
    scripts/containers/smoke-test.sh "$image"
    built[$platform]=$image
done

if $with_simulator; then
    simulator_version=$(sed -n 's/^version = "\(.*\)"/\1/p' simulator/pyproject.toml)
    image=localhost/lva-simulator:$simulator_version
    echo "== the simulator, for lva-simulator deploy: $image"
    build "$logs/simulator.log" --build-arg "EXTENSION_IMAGE=${built[amd64]}" \
        -f simulator/Dockerfile -t "$image" simulator
    size=$(podman image inspect --format '{{.Size}}' "$image")
    echo "  size: $((size / 1000000)) MB"
fi
