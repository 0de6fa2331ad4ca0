#!/usr/bin/env bash
# Builds the daemonless image tool chain from the pinned Go modules next to this script
# (one module per tool: go.mod + go.sum are authoritative): runc, buildkitd + buildctl,
# the distribution registry and crane; and actionlint, which `make test` runs on the release
# workflows (.github/workflows/). Same scheme as testbed/cluster/build.sh, with a cache
# folder of its own so a change of these pins never rebuilds the cluster, nor the reverse.
#
#   testbed/image/build.sh          # called by `make image`
#
# Output folder: ${ACM_SYNC_IMAGE_BINS:-${XDG_CACHE_HOME:-$HOME/.cache}/acm-sync/image-bins}/<key>
# where <key> hashes every */go.mod, */go.sum here, this script and `go version`. The folder
# is printed as the last line of stdout; build-times.txt in it records each cold build.
#
# runc is built with -tags seccomp (cgo, Debian's libseccomp-dev): buildkit hands every RUN
# step the default seccomp profile, and a runc without seccomp support would silently drop it.
#
# Exit status: 0 built or reused; 3 `go` (or libseccomp-dev) is missing; else a build failure.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

log() { printf '%s\n' "$*" >&2; }

if ! command -v go >/dev/null 2>&1; then
    log "build.sh: go is not installed (not on PATH); cannot build the image tools here"
    exit 3
fi
if ! [ -e /usr/include/seccomp.h ]; then
    log "build.sh: runc needs libseccomp's headers: apt-get install libseccomp-dev pkg-config"
    exit 3
fi

# Only the module proxy, never a VCS host, and never rewrite go.mod/go.sum (see
# testbed/cluster/build.sh for the reasons).
proxy=$(go env GOPROXY | tr ',|' '\n\n' | grep -vx -e direct -e '' | paste -sd, - || true)
export GOPROXY=${proxy:-https://proxy.golang.org}
export GOPRIVATE=none GONOPROXY=none GONOSUMDB=none GOWORK=off
export GOFLAGS='-mod=readonly -buildvcs=false'

key=$(
    cd "$here"
    for f in */go.mod */go.sum build.sh; do
        [ -f "$f" ] || continue
        printf '%s\n' "$f"
        sha256sum < "$f"
    done
    go version
)
key=$(printf '%s' "$key" | sha256sum | cut -c1-16)
root=${ACM_SYNC_IMAGE_BINS:-${XDG_CACHE_HOME:-$HOME/.cache}/acm-sync/image-bins}
out=$root/$key
mkdir -p "$out"

if command -v flock >/dev/null 2>&1; then
    exec 9>"$out/.lock"
    flock 9
fi

modversion() { (cd "$here/$1" && go list -m -f '{{.Version}}' "$2"); }

# build NAME MODULE_DIR PACKAGE [LDFLAGS [TAGS [CGO]]]: into a temporary name, then renamed,
# so a binary present in $out is always a whole one.
build() {
    local name=$1 dir=$2 pkg=$3 ldflags=${4:-} tags=${5:-} cgo=${6:-0}
    if [ -x "$out/$name" ]; then
        log "reusing $name"
        return
    fi
    local t0=$SECONDS
    (cd "$here/$dir" && CGO_ENABLED=$cgo go build -mod=readonly -trimpath -tags="$tags" \
        -ldflags="$ldflags" -o "$out/.$name.tmp" "$pkg")
    mv -f "$out/.$name.tmp" "$out/$name"
    log "built $name in $((SECONDS - t0)) s"
    built+=("$name $((SECONDS - t0)) s")
}

all=(runc buildkitd buildctl registry crane actionlint)
complete() {
    [ -f "$out/.complete" ] || return 1
    local n
    for n in "${all[@]}"; do [ -x "$out/$n" ] || return 1; done
}

t_start=$SECONDS
built=()
if complete; then
    for name in "${all[@]}"; do log "reusing $name"; done
else
    rm -f "$out/.complete"
    rv=$(modversion runc github.com/opencontainers/runc)
    bv=$(modversion buildkit github.com/moby/buildkit)
    dv=$(modversion distribution github.com/distribution/distribution/v3)
    cv=$(modversion crane github.com/google/go-containerregistry)
    av=$(modversion actionlint github.com/rhysd/actionlint)
    # Sequential on purpose: each `go build` already uses every core.
    build runc      runc         github.com/opencontainers/runc "-X main.version=${rv#v}" seccomp 1
    build buildkitd buildkit     github.com/moby/buildkit/cmd/buildkitd "-X github.com/moby/buildkit/version.Version=$bv"
    build buildctl  buildkit     github.com/moby/buildkit/cmd/buildctl "-X github.com/moby/buildkit/version.Version=$bv"
    build registry  distribution github.com/distribution/distribution/v3/cmd/registry "-X github.com/distribution/distribution/v3/version.version=$dv"
    build crane     crane        github.com/google/go-containerregistry/cmd/crane "-X github.com/google/go-containerregistry/cmd/crane/cmd.Version=$cv"
    build actionlint actionlint  github.com/rhysd/actionlint/cmd/actionlint "-X github.com/rhysd/actionlint.version=$av"
    go version > "$out/.complete"
    # For bench/bench_image.py: cold only if the Go build cache was empty.
    printf '%s: built %s in %d s total (%s)\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
        "${#built[@]} tools" "$((SECONDS - t_start))" "$(IFS=,; echo "${built[*]:-none}")" \
        >> "$out/build-times.txt"
fi

# Keep this folder and the two most recently used others (another checkout may use them).
for old in $(ls -1dt "$root"/*/ 2>/dev/null | grep -vx "$out/" | tail -n +3); do
    log "removing the unused image-bins folder $old"
    rm -rf "$old"
done
log "total $((SECONDS - t_start)) s"
printf '%s\n' "$out"
