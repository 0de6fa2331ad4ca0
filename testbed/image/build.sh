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
# where <key> hashes every */go.mod, */go.sum here, this script, ../gobuild.sh (what the three
# build.sh share) and `go version`. The folder
# is printed as the last line of stdout; build-times.txt in it records each cold build.
#
# runc is built with -tags seccomp (cgo, Debian's libseccomp-dev): buildkit hands every RUN
# step the default seccomp profile, and a runc without seccomp support would silently drop it.
#
# Exit status: 0 built or reused; 3 `go` (or libseccomp-dev) is missing; else a build failure.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
gb_base=$here
# shellcheck source=../gobuild.sh
. "$here/../gobuild.sh"

gb_need_go "the image tools"
gb_need_seccomp
gb_module_env
gb_open "${ACM_SYNC_IMAGE_BINS:-${XDG_CACHE_HOME:-$HOME/.cache}/acm-sync/image-bins}" \
    */go.mod */go.sum build.sh

all=(runc buildkitd buildctl registry crane actionlint)
if ! gb_complete; then
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
    gb_finish
fi

gb_done image-bins
