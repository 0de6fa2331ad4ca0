#!/usr/bin/env bash
# Builds the project's Dockerfile into an OCI image without a Docker engine (`make image`):
#   1. build.sh: runc, buildkitd, buildctl, the registry and crane from pinned Go modules;
#   2. base.sh:  a Debian bookworm + Python 3.11 root filesystem (debootstrap), as one layer;
#   3. a distribution registry on 127.0.0.1 serves that layer as the Python base image;
#   4. buildkitd (OCI worker: runc, no containerd) builds the Dockerfile unchanged, its
#      PYTHON_IMAGE build-arg pointing at that base, and pushes the result to the registry
#      and exports it as build/acm-sync-image.tar (an OCI archive, tag acm-sync:<version>).
# Everything it starts runs in a mount namespace of its own and is stopped at exit.
#
# Kept between runs (so a second `make image` takes seconds), under
# ${XDG_CACHE_HOME:-$HOME/.cache}/acm-sync/: image-bins/ (tools), image-base/ (base layer),
# buildkit/ (BuildKit's layer cache), image-registry/ (the registry's storage, which
# therefore still holds the image afterwards), image-build-times.txt.
#
# Environment: ACM_SYNC_BUILD_CA (CA bundle the build trusts for pip's HTTPS; default: the
# machine's), ACM_SYNC_IMAGE_OUT (default build/acm-sync-image.tar), ACM_SYNC_BUILDKIT_STATE
# (BuildKit's cache folder; bench/bench_image.py points it at an empty one for a cold build).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
log() { printf 'make-image: %s\n' "$*" >&2; }

if [ "$(id -u)" != 0 ]; then
    log "needs root: runc, overlay mounts and a private mount namespace"
    exit 1
fi
if [ -z "${_ACM_SYNC_IMAGE_NS:-}" ]; then
    bins=$("$here/build.sh" | tail -n 1)
    layer=$("$here/base.sh" | tail -n 1)
    # buildkitd's snapshots are overlay mounts: in a private mount namespace they, and any a
    # crash leaves behind, vanish with the last process in it instead of piling up on the host.
    export _ACM_SYNC_IMAGE_NS=1 _ACM_SYNC_BINS=$bins _ACM_SYNC_LAYER=$layer
    exec unshare --mount --propagation private -- "$0" "$@"
fi

bins=$_ACM_SYNC_BINS
layer=$_ACM_SYNC_LAYER
cache=${XDG_CACHE_HOME:-$HOME/.cache}/acm-sync
version=$(python3 -c 'import sys, tomllib; print(tomllib.load(open(sys.argv[1], "rb"))["project"]["version"])' "$repo/pyproject.toml")
out=${ACM_SYNC_IMAGE_OUT:-$repo/build/acm-sync-image.tar}
arch=$(dpkg --print-architecture)

ca=${ACM_SYNC_BUILD_CA:-${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}}
[ -f "$ca" ] || { log "no CA bundle at $ca (set ACM_SYNC_BUILD_CA)"; exit 1; }

run=$(mktemp -d /tmp/acm-sync-image.XXXXXX)
pids=()
cgroups_before=$(ls -d /sys/fs/cgroup/*/buildkit 2>/dev/null || true)
cleanup() {
    local rc=$? p
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    # runc removes each step's cgroup; the empty parent it made under each controller is ours.
    local d
    for d in /sys/fs/cgroup/*/buildkit; do
        [ -d "$d" ] || continue
        grep -qxF "$d" <<<"$cgroups_before" || rmdir "$d" 2>/dev/null || true
    done
    rm -rf "$run"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

wait_for() { # wait_for WHAT SECONDS COMMAND...
    local what=$1 n=$(($2 * 10)); shift 2
    until "$@" >/dev/null 2>&1; do
        n=$((n - 1))
        [ "$n" -gt 0 ] || { log "$what did not come up"; tail -20 "$run"/*.log >&2; exit 1; }
        sleep 0.1
    done
}

# --- the registry on loopback ----------------------------------------------------------
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
reg=127.0.0.1:$port
mkdir -p "$cache/image-registry"
cat > "$run/registry.yml" <<EOF
version: 0.1
log: {level: warn, accesslog: {disabled: true}}
storage:
  filesystem: {rootdirectory: $cache/image-registry}
http: {addr: $reg}
EOF
OTEL_TRACES_EXPORTER=none "$bins/registry" serve "$run/registry.yml" > "$run/registry.log" 2>&1 &
pids+=($!)
wait_for registry 20 python3 -c "import urllib.request; urllib.request.urlopen('http://$reg/v2/')"

# --- the base image: the cached layer on an empty image --------------------------------
base=$reg/python:3.11-bookworm-debian
t0=$SECONDS
crane() { "$bins/crane" "$@" >> "$run/crane.log" 2>&1 || { tail -20 "$run/crane.log" >&2; exit 1; }; }
crane append --insecure --oci-empty-base -f "$layer" -t "$base"
# The same settings as the python images; BuildKit wants the platform to pick the image.
crane mutate --insecure "$base" --set-platform "linux/$arch" \
    --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --env LANG=C.UTF-8 \
    --cmd python3 -t "$base"
log "base image $base pushed in $((SECONDS - t0)) s"

# --- buildkitd, OCI worker -------------------------------------------------------------
state=${ACM_SYNC_BUILDKIT_STATE:-$cache/buildkit}
# One buildkitd per state folder (it holds a lock on it): a second checkout's build waits.
mkdir -p "$(dirname "$state")"
exec 8>"$state.lock"
flock 8
cold=warm
[ -d "$state" ] || cold=cold
cat > "$run/buildkitd.toml" <<EOF
root = "$state"
# RUN steps share the host's network: there is no CNI here, and pip must reach PyPI.
insecure-entitlements = ["network.host"]
[grpc]
  address = ["unix://$run/buildkitd.sock"]
[worker.oci]
  enabled = true
  binary = "$here/runc-build-ca"
  snapshotter = "auto"
  gc = true
  gckeepstorage = "10GB"
[worker.containerd]
  enabled = false
[registry."$reg"]
  http = true
  insecure = true
EOF
ACM_SYNC_RUNC=$bins/runc ACM_SYNC_BUILD_CA=$ca PATH=$bins:$PATH \
    "$bins/buildkitd" --config "$run/buildkitd.toml" > "$run/buildkitd.log" 2>&1 &
pids+=($!)
buildctl() { "$bins/buildctl" --addr "unix://$run/buildkitd.sock" "$@"; }
wait_for buildkitd 30 buildctl debug workers

# --- the build -------------------------------------------------------------------------
mkdir -p "$(dirname "$out")"
t0=$SECONDS
# cmdline=...: the built-in Dockerfile frontend only forwards to the image named by the
# Dockerfile's `# syntax=` line when no cmdline option is set; that image is not reachable here.
buildctl build --progress=plain --frontend dockerfile.v0 \
    --local context="$repo" --local dockerfile="$repo" \
    --opt cmdline=dockerfile.v0 \
    --opt build-arg:PYTHON_IMAGE="$base" --opt build-arg:VERSION="$version" \
    --opt force-network-mode=host --allow network.host \
    --output "type=image,name=$reg/acm-sync:$version,push=true,registry.insecure=true" \
    --output "type=oci,dest=$out.tmp,name=acm-sync:$version" \
    > "$run/build.log" 2>&1 || { tail -40 "$run/build.log" >&2; exit 1; }
chmod 644 "$out.tmp"  # buildkit writes it 0666
mv -f "$out.tmp" "$out"
took=$((SECONDS - t0))
[ -n "${ACM_SYNC_BUILDKIT_STATE:-}" ] ||
    printf '%s: image build in %d s (buildkit cache %s)\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
        "$took" "$cold" >> "$cache/image-build-times.txt"
log "built acm-sync:$version in $took s ($cold buildkit cache); pushed to the registry's storage"
log "as acm-sync:$version; OCI archive: $out"
printf '%s\n' "$out"
