#!/usr/bin/env bash
# Builds the real node of the test bed from pinned Go modules, into a cache folder keyed by
# those pins, and prints that folder as the last line of stdout (same scheme as
# testbed/cluster/build.sh; a folder of its own, so a change here never rebuilds the control
# plane, nor the reverse):
#   kubelet, kube-scheduler   kubernetes/ (the k8s.io/kubernetes version ../cluster/kubernetes
#                             pins for kube-apiserver; a test keeps the two equal)
#   runc                      ../image/runc (the pin `make image` uses; -tags seccomp, cgo)
#   containerd, containerd-shim-runc-v2, ctr    containerd/
#   cni/bridge, cni/host-local, cni/loopback, cni/portmap    cni-plugins/
#   pause                     the Pod sandbox's program, from the pinned Kubernetes module's
#                             build/pause/linux/pause.c (gcc -static, as upstream builds it)
#
#   testbed/node/build.sh           # called by `make node-bins`
#
# Output folder: ${ACM_SYNC_NODE_BINS:-${XDG_CACHE_HOME:-$HOME/.cache}/acm-sync/node-bins}/<key>
# (the key hashes the pins, this script, ../gobuild.sh and `go version`);
# build-times.txt in it records each build (seconds per tool).
#
# Exit status: 0 built or reused; 3 `go` (or libseccomp-dev) is missing; else a build failure.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
testbed=$(cd "$here/.." && pwd)
repo=$(cd "$testbed/.." && pwd)
gb_base=$testbed
# shellcheck source=../gobuild.sh
. "$testbed/gobuild.sh"

gb_need_go "the node"
gb_need_seccomp
gb_module_env
modules=(node/kubernetes node/containerd node/cni-plugins image/runc)
gb_open "${ACM_SYNC_NODE_BINS:-${XDG_CACHE_HOME:-$HOME/.cache}/acm-sync/node-bins}" \
    "${modules[@]/%//go.mod}" "${modules[@]/%//go.sum}" node/build.sh
mkdir -p "$out/cni"

all=(kubelet kube-scheduler runc containerd containerd-shim-runc-v2 ctr
     cni/bridge cni/host-local cni/loopback cni/portmap pause)
if ! gb_complete; then
    rm -f "$out/.complete"
    kv=$(modversion node/kubernetes k8s.io/kubernetes)
    kmm=${kv#v}; kmaj=${kmm%%.*}; kmin=${kmm#*.}; kmin=${kmin%%.*}
    # The kubelet reports this as the Node's kubeletVersion; the API server compares it.
    kflags="-X k8s.io/component-base/version.gitVersion=$kv -X k8s.io/component-base/version.gitMajor=$kmaj -X k8s.io/component-base/version.gitMinor=$kmin -X k8s.io/component-base/version.gitTreeState=clean"
    rv=$(modversion image/runc github.com/opencontainers/runc)
    cv=$(modversion node/containerd github.com/containerd/containerd/v2)
    cflags="-X github.com/containerd/containerd/v2/version.Version=$cv"
    pv=$(modversion node/cni-plugins github.com/containernetworking/plugins)
    pflags="-X github.com/containernetworking/plugins/pkg/utils/buildversion.BuildVersion=$pv"
    # Sequential on purpose: each `go build` already uses every core.
    # The kubelet and kube-scheduler share about 1,700 of their 1,800 packages with
    # kube-apiserver and kube-controller-manager (same module versions, a test keeps them
    # equal). Built with the same cgo setting and flags, those come from the Go build cache the
    # control plane's build filled (make test builds that first): on 2 cores the kubelet then
    # takes minutes, not the 17 a build of its own took.
    build kubelet        node/kubernetes k8s.io/kubernetes/cmd/kubelet        "$kflags" "" host
    build kube-scheduler node/kubernetes k8s.io/kubernetes/cmd/kube-scheduler "$kflags" "" host
    build runc           image/runc github.com/opencontainers/runc "-X main.version=${rv#v}" seccomp 1
    # Without cgo the btrfs snapshotter (which needs libbtrfs headers) drops out; overlayfs
    # and native remain, which is all the node uses.
    build containerd     node/containerd github.com/containerd/containerd/v2/cmd/containerd "$cflags"
    build containerd-shim-runc-v2 node/containerd github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2 "$cflags"
    build ctr            node/containerd github.com/containerd/containerd/v2/cmd/ctr "$cflags"
    build cni/bridge     node/cni-plugins github.com/containernetworking/plugins/plugins/main/bridge "$pflags"
    build cni/host-local node/cni-plugins github.com/containernetworking/plugins/plugins/ipam/host-local "$pflags"
    build cni/loopback   node/cni-plugins github.com/containernetworking/plugins/plugins/main/loopback "$pflags"
    build cni/portmap    node/cni-plugins github.com/containernetworking/plugins/plugins/meta/portmap "$pflags"
    if [ -x "$out/pause" ]; then
        log "reusing pause"
    else
        t0=$SECONDS
        kdir=$(cd "$testbed/node/kubernetes" && go mod download -json k8s.io/kubernetes |
            sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
        [ -n "$kdir" ] && [ -f "$kdir/build/pause/linux/pause.c" ] || { log "build.sh: pause.c not found"; exit 1; }
        ptag=$(sed -n 's/^TAG ?= //p' "$kdir/build/pause/Makefile")
        gcc -Os -Wall -Werror -static "-DVERSION=v$ptag-acm-sync" -o "$out/.pause.tmp" \
            "$kdir/build/pause/linux/pause.c"
        mv -f "$out/.pause.tmp" "$out/pause"
        log "built pause in $((SECONDS - t0)) s"
        built+=("pause $((SECONDS - t0)) s")
    fi
    gb_finish
fi

ln -sfn "$out" "$repo/.node-bins"
gb_done node-bins
