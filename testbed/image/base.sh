#!/usr/bin/env bash
# Makes the Python base image's root filesystem from Debian's packages: debootstrap's minbase
# bookworm plus Python 3.11 (the Dockerfile's pinned minor) with venv support, packed as one
# gzipped layer. Cached under a key of its inputs (this script, the package list, the mirror,
# debootstrap's version), so a second `make image` skips the ~2 minutes of debootstrap.
#
#   testbed/image/base.sh           # prints the cached layer's path as the last line
#
# Debian's mirror is not pinned to a snapshot: delete the cache folder to pick up security
# updates (${ACM_SYNC_IMAGE_BASE:-${XDG_CACHE_HOME:-$HOME/.cache}/acm-sync/image-base}).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
log() { printf '%s\n' "$*" >&2; }

suite=bookworm
mirror=${ACM_SYNC_DEBIAN_MIRROR:-http://deb.debian.org/debian}
# python3-venv brings ensurepip's pip wheel (the Dockerfile runs `python -m venv`);
# python-is-python3 is Debian's own `python` -> python3 link, as the python images have;
# ca-certificates, because the operator talks TLS to AWS and the Kubernetes API.
packages=python3,python3-venv,python-is-python3,ca-certificates

command -v debootstrap >/dev/null || { log "base.sh: apt-get install debootstrap"; exit 3; }

key=$(
    sha256sum < "$here/base.sh"
    printf '%s\n' "$suite" "$mirror" "$packages"
    dpkg-query -W -f '${Version}\n' debootstrap
)
key=$(printf '%s' "$key" | sha256sum | cut -c1-16)
root=${ACM_SYNC_IMAGE_BASE:-${XDG_CACHE_HOME:-$HOME/.cache}/acm-sync/image-base}
out=$root/$key
mkdir -p "$out"
exec 9>"$out/.lock"
flock 9

if [ -f "$out/rootfs.tar.gz" ]; then
    log "reusing the base layer $out/rootfs.tar.gz"
else
    t0=$SECONDS
    tmp=$(mktemp -d "$out/.work.XXXXXX")
    trap 'rm -rf "$tmp"' EXIT
    # debootstrap mounts /proc and /sys inside the target: a private mount namespace keeps
    # those mounts (and any it leaves behind on failure) away from the machine's.
    unshare --mount --propagation private \
        debootstrap --variant=minbase --include="$packages" "$suite" "$tmp/rootfs" "$mirror" \
        > "$tmp/debootstrap.log" 2>&1 || { tail -20 "$tmp/debootstrap.log" >&2; exit 1; }
    r=$tmp/rootfs
    # What an image does not need: package caches and lists, documentation, logs, and the
    # host name and resolver the build machine left behind (the runtime provides those).
    rm -rf "$r"/var/cache/apt/* "$r"/var/lib/apt/lists/* "$r"/usr/share/doc/* \
        "$r"/usr/share/man/* "$r"/usr/share/info/* "$r"/var/log/* "$r"/var/cache/debconf/*-old \
        "$r"/tmp/* "$r"/etc/hostname "$r"/etc/resolv.conf
    : > "$r"/etc/resolv.conf
    [ -x "$r/usr/bin/python" ] || { log "base.sh: no python in the root filesystem"; exit 1; }
    # The Dockerfile's pinned base is Python 3.11: the venv it builds must match that ABI.
    chroot "$r" python -c 'import sys; assert sys.version_info[:2] == (3, 11), sys.version'
    # Numeric owners and a fixed order, so the same packages give the same layer.
    (cd "$r" && tar --numeric-owner --sort=name --xattrs -cf - .) | gzip -n > "$tmp/rootfs.tar.gz"
    mv "$tmp/rootfs.tar.gz" "$out/rootfs.tar.gz"
    chroot "$r" dpkg-query -W -f '${Package} ${Version}\n' > "$out/packages.txt"
    log "built the base layer in $((SECONDS - t0)) s"
    printf '%s: base layer (debootstrap %s) in %d s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
        "$suite" "$((SECONDS - t0))" >> "$out/build-times.txt"
fi
# Keep this layer and the two most recently used others (another checkout may use them).
for old in $(ls -1dt "$root"/*/ 2>/dev/null | grep -vx "$out/" | tail -n +3); do
    log "removing the unused base layer folder $old"
    rm -rf "$old"
done
printf '%s\n' "$out/rootfs.tar.gz"
