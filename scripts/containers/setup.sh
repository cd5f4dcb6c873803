#!/usr/bin/env bash
# Container tooling for scripts/build-images.sh and the container tests: podman, buildah and
# runc, netavark and aardvark-dns (container names resolve on a network), mmdebstrap (the
# stand-in base image), and /etc/containers/containers.conf so that podman runs here.
# With --arm64 also qemu-user-static and binfmt-support, to build and run arm64 images.
# Safe to run again: it installs only what is missing and rewrites the settings only when
# they differ. --optional: where it cannot install (not root, no apt-get), say so and exit 0,
# so that the container tests skip instead of the whole set-up failing.
set -euo pipefail

arm64=false optional=false
for arg in "$@"; do
    case $arg in
        --arm64) arm64=true ;;
        --optional) optional=true ;;
        *) echo "containers/setup.sh: unknown option '$arg' (--arm64, --optional)" >&2; exit 2 ;;
    esac
done

give_up() {
    if $optional; then
        echo "containers/setup.sh: $1; the container tests will be skipped" >&2
        exit 0
    fi
    echo "containers/setup.sh: $1" >&2
    exit 1
}

packages=(podman buildah runc conmon netavark aardvark-dns iptables mmdebstrap)
$arm64 && packages+=(qemu-user-static binfmt-support)
missing=()
for package in "${packages[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null || true)
    [[ $status == "install ok installed" ]] || missing+=("$package")
done

if ((${#missing[@]})); then
    [[ $(id -u) == 0 ]] || give_up "needs root to install ${missing[*]}"
    command -v apt-get >/dev/null || give_up "needs apt-get to install ${missing[*]}"
    echo "containers/setup.sh: installing ${missing[*]}"
    # Other sessions may hold the dpkg lock for a while: wait for it instead of failing.
    install=(apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout=600)
    if ! DEBIAN_FRONTEND=noninteractive "${install[@]}" "${missing[@]}" >/tmp/containers-apt.log 2>&1
    then  # a fresh machine may have no package lists yet
        apt-get update -q -o DPkg::Lock::Timeout=600 >>/tmp/containers-apt.log 2>&1 || true
        DEBIAN_FRONTEND=noninteractive "${install[@]}" "${missing[@]}" >>/tmp/containers-apt.log 2>&1 ||
            { tail -5 /tmp/containers-apt.log >&2; give_up "apt-get could not install ${missing[*]}"; }
    fi
fi

# podman as it comes fails here in two ways (seen on this machine, Debian 12, podman 4.3):
# - crun, the runtime it prefers, refuses the hybrid cgroup v1/v2 layout ("cgroups in hybrid
#   mode not supported"): use runc;
# - it asks for nofile 1048576 and nproc 4194304, above the hard limits, and without
#   CAP_SYS_RESOURCE runc cannot raise them ("error setting rlimit ... operation not
#   permitted"): ask for the hard limits instead. podman lowers its own nproc limit to 32768
#   before it starts conmon, so containers can get no more than that.
# netavark is named as the network backend: left to choose, podman also reads the CNI
# configuration Debian's podman ships and warns that its plugins are missing. Nothing else
# is needed: with no systemd running, podman itself picks cgroupfs and a file for its events.
limit() {  # limit HARD_LIMIT CAP: the hard limit, at most CAP ("unlimited" counts as CAP)
    if [[ $1 == unlimited ]] || (($1 > $2)); then echo "$2"; else echo "$1"; fi
}
nofile=$(limit "$(ulimit -Hn)" 1048576)
nproc=$(limit "$(ulimit -Hu)" 32768)
conf=/etc/containers/containers.conf
marker="# Written by scripts/containers/setup.sh"
wanted="$marker: the runtime and limits that work on this machine.
[containers]
default_ulimits = [\"nofile=$nofile:$nofile\", \"nproc=$nproc:$nproc\"]

[engine]
runtime = \"runc\"

[network]
network_backend = \"netavark\""
if [[ ! -f $conf || $(<"$conf") != "$wanted" ]]; then
    if [[ -f $conf ]] && ! grep -qF "$marker" "$conf"; then
        give_up "$conf exists and is not ours: set runtime = \"runc\" and default_ulimits at the hard limits (nofile=$nofile, nproc=$nproc) there yourself"
    fi
    [[ $(id -u) == 0 ]] || give_up "needs root to write $conf"
    mkdir -p "$(dirname "$conf")"
    printf '%s\n' "$wanted" >"$conf"
    echo "containers/setup.sh: wrote $conf (runc; nofile $nofile, nproc $nproc)"
fi

if $arm64; then
    # arm64 programs run under qemu through binfmt_misc: the kernel's table must be mounted
    # and the qemu-aarch64 entry enabled (binfmt-support registers it, but where no init
    # system runs, nothing mounts the table).
    binfmt=/proc/sys/fs/binfmt_misc
    if [[ ! -f $binfmt/status ]]; then
        mount -t binfmt_misc binfmt_misc "$binfmt" || give_up "cannot mount $binfmt"
    fi
    if [[ ! -f $binfmt/qemu-aarch64 ]] || ! grep -q '^enabled' "$binfmt/qemu-aarch64"; then
        update-binfmts --enable qemu-aarch64 || give_up "cannot enable qemu-aarch64 in binfmt_misc"
    fi
fi
