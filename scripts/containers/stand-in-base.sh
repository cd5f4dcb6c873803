#!/usr/bin/env bash
# stand-in-base.sh PLATFORM IMAGE: make sure IMAGE (a Dockerfile's FROM) is in local storage.
#
# The official python:3.12.8-slim-bookworm image is used when it is there or can be pulled.
# Where no container registry is reachable, a stand-in is built from Debian's own packages
# (mmdebstrap, then podman import) and tagged with IMAGE's exact name, so the Dockerfile
# builds unchanged with --pull=never. It is kept in podman's storage: later runs reuse it.
# Differences from the official image: docs/container-images.md.
#   PLATFORM: amd64 or arm64v8 (an arm64 rootfs is made under qemu-user-static: minutes).
#   LVA_BASE_IMAGE=official|stand-in|auto (default auto): pull only, build only, or pull and
#   fall back to the stand-in.
set -euo pipefail

platform=${1:?usage: stand-in-base.sh amd64|arm64v8 IMAGE}
image=${2:?usage: stand-in-base.sh amd64|arm64v8 IMAGE}
mode=${LVA_BASE_IMAGE:-auto}
label=org.lva-extension.stand-in-base

case $platform in
    amd64) arch=amd64 variant=() os_platform=linux/amd64 ;;
    arm64v8) arch=arm64 variant=(--variant v8) os_platform=linux/arm64/v8 ;;
    *) echo "stand-in-base: unknown platform '$platform' (amd64 or arm64v8)" >&2; exit 2 ;;
esac
case $mode in
    auto | official | stand-in) ;;
    *) echo "stand-in-base: LVA_BASE_IMAGE must be auto, official or stand-in, not '$mode'" >&2
       exit 2 ;;
esac

if podman image exists "$image"; then
    kind=official
    [[ -n $(podman image inspect --format "{{index .Labels \"$label\"}}" "$image") ]] &&
        kind=stand-in
    if [[ $mode == auto || $mode == "$kind" ]]; then
        echo "base $image: $kind, already in local storage"
        exit 0
    fi
    podman rmi "$image" >/dev/null
fi

if [[ $mode != stand-in ]]; then
    echo "base $image: pulling"
    if problem=$(timeout 600 podman pull --quiet --platform "$os_platform" "$image" 2>&1 >/dev/null)
    then
        echo "base $image: official, pulled"
        exit 0
    fi
    problem=$(tail -1 <<<"$problem")
    if [[ $mode == official ]]; then
        echo "stand-in-base: cannot pull $image: $problem" >&2
        exit 1
    fi
    echo "base $image: cannot be pulled (${problem#Error: })"
    echo "base $image: building a stand-in from Debian bookworm packages (a minute; arm64: several)"
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
started=$SECONDS
# What the Dockerfiles use: python (python-is-python3) with venv and its bundled pip
# (python3-venv), groupadd/useradd (passwd, in every Debian base); and what the slim image
# also carries: CA certificates, netbase, tzdata. Docs, man pages and locales are left out
# as the official slim images leave them out.
mmdebstrap --quiet --variant=minbase --architectures="$arch" --format=tar \
    --include=python3,python3-venv,python-is-python3,ca-certificates,netbase,tzdata \
    --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/info/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' \
    --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    bookworm "$work/rootfs.tar" \
    "deb http://deb.debian.org/debian bookworm main" \
    "deb http://deb.debian.org/debian bookworm-updates main" \
    "deb http://deb.debian.org/debian-security bookworm-security main"
python_version=$(tar -xOf "$work/rootfs.tar" ./var/lib/dpkg/status |
    sed -n '/^Package: python3$/,/^$/s/^Version: //p')
# The official image's PATH, LANG and CMD; PATH matters: the Dockerfiles prepend to it.
podman import --quiet --arch "$arch" "${variant[@]}" \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change "LABEL $label=\"Debian bookworm python3 $python_version (stand-in for $image)\"" \
    --change 'CMD ["python3"]' \
    "$work/rootfs.tar" "$image" >/dev/null
echo "base $image: stand-in built in $((SECONDS - started)) s (Debian python3 $python_version)"
