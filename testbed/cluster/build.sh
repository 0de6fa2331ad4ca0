#!/usr/bin/env bash
# Builds the real-cluster test bed's programs from the pinned Go modules next to this
# script (one module per tool: go.mod + go.sum are authoritative), into a cache folder
# keyed by those pins, and prints that folder as the last line of stdout.
#
#   testbed/cluster/build.sh            # called by `make cluster-bins`
#
# Output folder: ${ACM_SYNC_CLUSTER_BINS:-${XDG_CACHE_HOME:-$HOME/.cache}/acm-sync/cluster-bins}/<key>
# where <key> hashes every */go.mod, */go.sum, */main.go here, this script and `go version`. It lives
# outside the repo so a fresh clone on the same machine (CI) reuses it; <repo>/.cluster-bins
# (git-ignored) is a symlink to it. A binary already in the folder is reused; `.complete`
# is written once everything is there.
#
# Exit status: 0 built or reused; 3 `go` is not installed (callers read 3 as "cannot build
# here"); anything else is a build failure.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)

log() { printf '%s\n' "$*" >&2; }

if ! command -v go >/dev/null 2>&1; then
    echo "build.sh: go is not installed (not on PATH); cannot build the cluster binaries here" >&2
    exit 3
fi

# Only the module proxy, never a VCS host ("direct"), and never rewrite go.mod/go.sum:
# the committed go.sum is the authority for every byte of source.
proxy=$(go env GOPROXY | tr ',|' '\n\n' | grep -vx -e direct -e '' | paste -sd, - || true)
export GOPROXY=${proxy:-https://proxy.golang.org}
# GOPRIVATE/GONOPROXY patterns would send matching modules "direct": match nothing.
export GOPRIVATE=none GONOPROXY=none GONOSUMDB=none GOWORK=off
# -buildvcs=false: the modules sit inside this git checkout; stamping its commit would
# make the binaries depend on more than the pins (and fail where git is unavailable).
export GOFLAGS='-mod=readonly -buildvcs=false'

# --- output folder keyed by the pins -------------------------------------------------
key=$(
    cd "$here"
    # build.sh itself too: it holds the ldflags and build flags.
    for f in */go.mod */go.sum */main.go build.sh; do
        [ -f "$f" ] || continue
        printf '%s\n' "$f"
        sha256sum < "$f"
    done
    go version
)
key=$(printf '%s' "$key" | sha256sum | cut -c1-16)
root=${ACM_SYNC_CLUSTER_BINS:-${XDG_CACHE_HOME:-$HOME/.cache}/acm-sync/cluster-bins}
out=$root/$key
mkdir -p "$out"

# One build at a time per folder (a developer and CI on the same machine).
if command -v flock >/dev/null 2>&1; then
    exec 9>"$out/.lock"
    flock 9
fi

# version of module $2 as pinned by module dir $1
modversion() { (cd "$here/$1" && go list -m -f '{{.Version}}' "$2"); }

# build NAME MODULE_DIR PACKAGE [LDFLAGS]: builds into a temporary name, then renames,
# so a binary present in $out is always a whole one.
build() {
    local name=$1 dir=$2 pkg=$3 ldflags=${4:-}
    if [ -x "$out/$name" ]; then
        log "reusing $name"
        return
    fi
    local t0=$SECONDS
    (cd "$here/$dir" && go build -mod=readonly -trimpath -ldflags="$ldflags" -o "$out/.$name.tmp" "$pkg")
    mv -f "$out/.$name.tmp" "$out/$name"
    log "built $name in $((SECONDS - t0)) s"
    built+=("$name $((SECONDS - t0)) s")
}

all=(etcd kube-apiserver kube-controller-manager cert-manager-controller cert-manager-crds helm promtool)
complete() {
    [ -f "$out/.complete" ] || return 1
    local n
    for n in "${all[@]}"; do [ -e "$out/$n" ] || return 1; done
}

t_start=$SECONDS
built=()
if complete; then
    for name in "${all[@]}"; do log "reusing $name"; done
else
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
    go version > "$out/.complete"
    # What this build cost, for bench/bench_real_cluster.py (cold only if the Go build cache
    # was empty: the line says which tools were built here and how long each took).
    {
        printf '%s: built %s in %d s total (%s)\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
            "${#built[@]} tools" "$((SECONDS - t_start))" "$(IFS=,; echo "${built[*]:-none}")"
    } >> "$out/build-times.txt"
fi

ln -sfn "$out" "$repo/.cluster-bins"
# Each change of the pins leaves a ~700 MB folder behind: keep this one and the two most
# recently used others (another checkout on the machine may still use them), drop the rest.
for old in $(ls -1dt "$root"/*/ 2>/dev/null | grep -vx "$out/" | tail -n +3); do
    log "removing the unused cluster-bins folder $old"
    rm -rf "$old"
done
log "total $((SECONDS - t_start)) s"
printf '%s\n' "$out"
