# shellcheck shell=bash disable=SC2154  # gb_base and all are the caller's
# What the test bed's three builds share (testbed/cluster, testbed/node and testbed/image
# build.sh): programs built from pinned Go modules into a cache folder keyed by those pins,
# outside the repo, so a fresh clone on the same machine (CI) reuses it.
#
# Sourced, not run. The caller sets `all` (the programs the folder must hold) and calls, in
# order: gb_need_go, gb_module_env, gb_open, then build/gb_finish inside `if ! gb_complete`,
# and gb_done last. Every path handed to these is relative to the folder named by gb_base.

log() { printf '%s\n' "$*" >&2; }

# gb_need_go WHAT: exit 3 ("cannot build here", as callers read it) without Go.
gb_need_go() {
    if ! command -v go >/dev/null 2>&1; then
        log "build.sh: go is not installed (not on PATH); cannot build $1 here"
        exit 3
    fi
}

# runc is built with -tags seccomp (cgo): without the headers it cannot be.
gb_need_seccomp() {
    if ! [ -e /usr/include/seccomp.h ]; then
        log "build.sh: runc needs libseccomp's headers: apt-get install libseccomp-dev pkg-config"
        exit 3
    fi
}

# Only the module proxy, never a VCS host ("direct"), and never rewrite go.mod/go.sum: the
# committed go.sum is the authority for every byte of source. GOPRIVATE/GONOPROXY patterns
# would send matching modules "direct": they match nothing. -buildvcs=false: the modules sit
# inside this git checkout; stamping its commit would make the binaries depend on more than
# the pins (and fail where git is unavailable).
gb_module_env() {
    local proxy
    proxy=$(go env GOPROXY | tr ',|' '\n\n' | grep -vx -e direct -e '' | paste -sd, - || true)
    export GOPROXY=${proxy:-https://proxy.golang.org}
    export GOPRIVATE=none GONOPROXY=none GONOSUMDB=none GOWORK=off
    export GOFLAGS='-mod=readonly -buildvcs=false'
}

# gb_open ROOT FILE...: the folder ROOT/<key>, where <key> hashes the FILEs that exist (the
# pins, the caller's build.sh: it holds the flags), this library and `go version`. Sets `out`
# and `root`, and holds the folder's lock (one build at a time: a developer and CI on the
# same machine) until the caller exits.
gb_open() {
    root=$1
    shift
    local key f
    key=$(
        cd "$gb_base" || exit
        for f in "$@"; do
            [ -f "$f" ] || continue
            printf '%s\n' "$f"
            sha256sum < "$f"
        done
        printf 'gobuild.sh\n'
        sha256sum < "${BASH_SOURCE[0]}"
        go version
    )
    out=$root/$(printf '%s' "$key" | sha256sum | cut -c1-16)
    mkdir -p "$out"
    if command -v flock >/dev/null 2>&1; then
        exec 9>"$out/.lock"
        flock 9
    fi
    t_start=$SECONDS
    built=()
}

# modversion DIR MODULE: the version of MODULE that module folder DIR pins.
modversion() { (cd "$gb_base/$1" && go list -m -f '{{.Version}}' "$2"); }

# build NAME DIR PACKAGE [LDFLAGS [TAGS [CGO]]]: into a temporary name, then renamed, so a
# program present in $out is always a whole one. CGO is 0, 1 or "host" (Go's own default:
# what kube-apiserver is built with, so that the kubelet shares its build cache); without
# it, the caller's gb_cgo, else 0.
build() {
    local name=$1 dir=$2 pkg=$3 ldflags=${4:-} tags=${5:-} cgo=${6:-${gb_cgo:-0}}
    [ "$cgo" = host ] && cgo=$(go env CGO_ENABLED)
    if [ -x "$out/$name" ]; then
        log "reusing $name"
        return
    fi
    local t0=$SECONDS tmp="$out/.${name//\//_}.tmp"
    (cd "$gb_base/$dir" && CGO_ENABLED=$cgo go build -mod=readonly -trimpath -tags="$tags" \
        -ldflags="$ldflags" -o "$tmp" "$pkg")
    mv -f "$tmp" "$out/$name"
    log "built $name in $((SECONDS - t0)) s"
    built+=("$name $((SECONDS - t0)) s")
}

# Whether every program of `all` is in the folder and a build finished there; if so, says so.
gb_complete() {
    [ -f "$out/.complete" ] || return 1
    local n
    for n in "${all[@]}"; do [ -e "$out/$n" ] || return 1; done
    for n in "${all[@]}"; do log "reusing $n"; done
}

# After the builds: mark the folder whole, and record what the builds cost in
# build-times.txt for bench/ (cold only if the Go build cache was empty).
gb_finish() {
    go version > "$out/.complete"
    printf '%s: built %s in %d s total (%s)\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
        "${#built[@]} tools" "$((SECONDS - t_start))" "$(IFS=,; echo "${built[*]:-none}")" \
        >> "$out/build-times.txt"
}

# gb_done LABEL: each change of the pins leaves a folder behind; keep this one and the two
# most recently used others (another checkout on the machine may still use them), drop the
# rest; then print the folder, the last line of stdout, which callers read.
gb_done() {
    local old
    for old in $(ls -1dt "$root"/*/ 2>/dev/null | grep -vx "$out/" | tail -n +3); do
        log "removing the unused $1 folder $old"
        rm -rf "$old"
    done
    log "total $((SECONDS - t_start)) s"
    printf '%s\n' "$out"
}
