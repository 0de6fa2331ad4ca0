#!/usr/bin/env bash
# Builds the real-cluster test bed's programs from the pinned Go modules next to this
# script (one module per tool: go.mod + go.sum are authoritative), into a cache folder
# keyed by those pins, and prints that folder as the last line of stdout.
#
#   testbed/cluster/build.sh            # called by `make cluster-bins`
#
# Output folder: ${ACM_SYNC_CLUSTER_BINS:-${XDG_CACHE_HOME:-$HOME/.cache}/acm-sync/cluster-bins}/<key>
# where <key> hashes every */go.mod, */go.sum, */main.go here, this script, ../gobuild.sh (what
# the three build.sh share) and `go version`. It lives outside the repo so a fresh clone on
# the same machine (CI) reuses it; <repo>/.cluster-bins (git-ignored) is a symlink to it. A
# binary already in the folder is reused; `.complete` is written once everything is there.
#
# Exit status: 0 built or reused; 3 `go` is not installed (callers read 3 as "cannot build
# here"); anything else is a build failure.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
gb_base=$here
gb_cgo=host   # Go's default, as upstream builds these
# shellcheck source=../gobuild.sh
. "$here/../gobuild.sh"

gb_need_go "the cluster binaries"
gb_module_env
gb_open "${ACM_SYNC_CLUSTER_BINS:-${XDG_CACHE_HOME:-$HOME/.cache}/acm-sync/cluster-bins}" \
    */go.mod */go.sum */main.go build.sh

all=(etcd kube-apiserver kube-controller-manager cert-manager-controller cert-manager-crds helm promtool)
if ! gb_complete; then
    rm -f "$out/.complete"
    # Version stamps the upstream release builds set with -X (cosmetic for most tools,
    # but kube-apiserver reports it as its /version and kubectl compares against it).
    kv=$(modversion kubernetes k8s.io/kubernetes)          # v1.37.2
    kmm=${kv#v}; kmaj=${kmm%%.*}; kmin=${kmm#*.}; kmin=${kmin%%.*}
    kflags="-X k8s.io/component-base/version.gitVersion=$kv -X k8s.io/component-base/version.gitMajor=$kmaj -X k8s.io/component-base/version.gitMinor=$kmin -X k8s.io/component-base/version.gitTreeState=clean"
    cmv=$(modversion cert-manager github.com/cert-manager/cert-manager)
    hv=$(modversion helm helm.sh/helm/v3)
    # Helm's own Makefile stamps the Kubernetes version its client libraries speak (from its
    # k8s.io/client-go v0.N.x: Kubernetes 1.N); without it `helm template` assumes 1.20 and
    # refuses charts that require a newer kubeVersion.
    hk=$(modversion helm k8s.io/client-go); hk=${hk#v0.}; hkmin=${hk%%.*}
    hflags="-X helm.sh/helm/v3/internal/version.version=$hv"
    for pkg in pkg/lint/rules pkg/chartutil; do
        hflags="$hflags -X helm.sh/helm/v3/$pkg.k8sVersionMajor=1 -X helm.sh/helm/v3/$pkg.k8sVersionMinor=$hkmin"
    done
    pv=$(modversion prometheus github.com/prometheus/prometheus)

    # Sequential on purpose: each `go build` already uses every core.
    build etcd                    etcd         go.etcd.io/etcd/server/v3
    build kube-apiserver          kubernetes   k8s.io/kubernetes/cmd/kube-apiserver          "$kflags"
    build kube-controller-manager kubernetes   k8s.io/kubernetes/cmd/kube-controller-manager "$kflags"
    build cert-manager-controller cert-manager .  "-X github.com/cert-manager/cert-manager/pkg/util.AppVersion=$cmv"
    build helm                    helm         helm.sh/helm/v3/cmd/helm     "$hflags"
    build promtool                prometheus   github.com/prometheus/prometheus/cmd/promtool "-X github.com/prometheus/common/version.Version=${pv#v}"

    # cert-manager's CRDs from the very module version the controller was built from.
    if [ -d "$out/cert-manager-crds" ]; then
        log "reusing cert-manager-crds"
    else
        cmdir=$(cd "$here/cert-manager" && go mod download -json github.com/cert-manager/cert-manager |
            sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
        [ -n "$cmdir" ] && [ -d "$cmdir/deploy/crds" ] || { log "build.sh: cert-manager module dir not found"; exit 1; }
        rm -rf "$out/.cert-manager-crds.tmp"
        mkdir "$out/.cert-manager-crds.tmp"
        cp "$cmdir"/deploy/crds/*.yaml "$out/.cert-manager-crds.tmp/"
        chmod u+w "$out/.cert-manager-crds.tmp"/*.yaml   # the module cache is read-only
        mv "$out/.cert-manager-crds.tmp" "$out/cert-manager-crds"
        log "copied cert-manager-crds ($cmv)"
    fi
    gb_finish
fi

ln -sfn "$out" "$repo/.cluster-bins"
# Each change of the pins leaves a ~700 MB folder behind.
gb_done cluster-bins
