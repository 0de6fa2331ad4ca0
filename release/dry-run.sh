#!/usr/bin/env bash
# `make release-dry-run`: every step of the tag release (.github/workflows/release.yml) that
# needs no registry credential, against a registry of its own on 127.0.0.1 instead of ghcr.io:
#   1. the version check (release/version.sh), as for a tag v<project version>;
#   2. the image, built from the Dockerfile (testbed/image/make-image.sh: this machine's
#      platform only; the workflow builds linux/amd64 and linux/arm64 with buildx);
#   3. the image pushed to the loopback registry (crane), its digest equal to the archive's;
#   4. the chart packaged with that digest pinned and linted (release/chart.sh, as the
#      workflow runs it), pushed as an OCI artifact (helm push --plain-http);
#   5. the chart pulled back and rendered: it installs ghcr.io/acm-sync/acm-sync@<digest>, and
#      the same digest under a mirror's name resolves to the image just pushed;
#   6. an SBOM of the image, where syft is at hand (SYFT=path; not built here, see below);
#   7. what a real release would push where, and what it would sign.
# Keyless signing (cosign and GitHub's OIDC token) and the multi-platform build with BuildKit's
# attestations have no stand-in here; step 7 names them.
#
# Outputs in build/release/: the packaged chart and, with syft, sbom.spdx.json. Everything it
# starts (the registry) is stopped, and its temporary files removed, at exit. Needs root (the
# image build), Go, debootstrap and libseccomp-dev, like `make image`.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
log() { printf 'release-dry-run: %s\n' "$*" >&2; }
t_start=$SECONDS

image_name=$(sed -n 's/^  repository: \(.*\)$/\1/p' "$repo/charts/acm-sync/values.yaml" | head -n 1)
chart_registry=oci://ghcr.io/acm-sync/charts
version=$("$here/version.sh")
"$here/version.sh" "$version"
log "1. version $version: tag v$version, pyproject.toml, Chart.yaml version and appVersion agree"

# --- 2. the image -----------------------------------------------------------------------
t0=$SECONDS
archive=$("$repo/testbed/image/make-image.sh" | tail -n 1)
log "2. image built in $((SECONDS - t0)) s: $archive"
bins=$("$repo/testbed/image/build.sh" 2>/dev/null | tail -n 1)
helm_dir=$("$repo/testbed/cluster/build.sh" 2>/dev/null | tail -n 1)
export HELM="$helm_dir/helm"

run=$(mktemp -d /tmp/acm-sync-release.XXXXXX)
pids=()
cleanup() {
    local rc=$? p
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$run"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
# Helm's registry logins, cache and config stay in this run, never in the caller's $HOME.
export HELM_CACHE_HOME=$run/helm/cache HELM_CONFIG_HOME=$run/helm/config HELM_DATA_HOME=$run/helm/data

# --- 3. the image in a registry of our own ------------------------------------------------
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
reg=127.0.0.1:$port
mkdir -p "$run/storage"
cat > "$run/registry.yml" <<EOF
version: 0.1
log: {level: warn, accesslog: {disabled: true}}
storage:
  filesystem: {rootdirectory: $run/storage}
http: {addr: $reg}
EOF
OTEL_TRACES_EXPORTER=none "$bins/registry" serve "$run/registry.yml" > "$run/registry.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
    python3 -c "import urllib.request; urllib.request.urlopen('http://$reg/v2/')" 2>/dev/null && break
    sleep 0.1
done
python3 -c "import urllib.request; urllib.request.urlopen('http://$reg/v2/')" ||
    { log "the registry did not come up"; cat "$run/registry.log" >&2; exit 1; }

mkdir "$run/layout"
tar -xf "$archive" -C "$run/layout"
digest=$(python3 -c 'import json, sys; [m] = json.load(open(sys.argv[1]))["manifests"]; print(m["digest"])' \
    "$run/layout/index.json")
local_image=$reg/${image_name#*/}
pushed=$("$bins/crane" push --insecure "$run/layout" "$local_image:$version" 2>"$run/crane.log" | tail -n 1) ||
    { cat "$run/crane.log" >&2; exit 1; }
[ "$pushed" = "$local_image@$digest" ] ||
    { log "crane pushed $pushed, expected $local_image@$digest"; exit 1; }
log "3. image pushed: $local_image:$version = $digest"

# --- 4. the chart, pinned, packaged, linted, pushed --------------------------------------
out=$repo/build/release
rm -rf "$out"
tgz=$("$here/chart.sh" "$version" "$digest" "$out" 2>"$run/chart.log" | tail -n 1) ||
    { cat "$run/chart.log" >&2; exit 1; }
"$HELM" push --plain-http "$tgz" "oci://$reg/acm-sync/charts" > "$run/push.log" 2>&1 ||
    { cat "$run/push.log" >&2; exit 1; }
chart_digest=$(sed -n 's/^Digest: //p' "$run/push.log")
log "4. chart packaged (helm lint clean) and pushed: oci://$reg/acm-sync/charts/acm-sync:$version = $chart_digest"

# --- 5. pulled back as a user gets it ----------------------------------------------------
mkdir "$run/pulled"
"$HELM" pull --plain-http "oci://$reg/acm-sync/charts/acm-sync" --version "$version" \
    --destination "$run/pulled" > "$run/pull.log" 2>&1 || { cat "$run/pull.log" >&2; exit 1; }
cmp -s "$tgz" "$run/pulled/acm-sync-$version.tgz" || { log "the pulled chart differs from the pushed one"; exit 1; }
rendered() {
    "$HELM" template acm-sync "$run/pulled/acm-sync-$version.tgz" "$@" |
        sed -n 's/^ *image: "\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' | sort -u
}
got=$(rendered)
[ "$got" = "$image_name@$digest" ] || { log "the pulled chart renders '$got', not $image_name@$digest"; exit 1; }
mirror=$(rendered --set image.repository="$local_image")
"$bins/crane" manifest --insecure "$mirror" > /dev/null 2>"$run/crane.log" ||
    { log "$mirror does not resolve"; cat "$run/crane.log" >&2; exit 1; }
log "5. pulled chart renders $image_name@$digest; under a mirror's name, $mirror resolves"

# --- 6. SBOM -----------------------------------------------------------------------------
# syft from its Go module is ~600 dependencies (measured: 13 minutes to fetch and build cold on
# 2 busy cores), more than this dry run is worth: the release's SBOM is BuildKit's (sbom: true in
# the workflow).
if [ -n "${SYFT:-}" ]; then
    "$SYFT" scan "oci-archive:$archive" -o "spdx-json=$out/sbom.spdx.json" -q
    log "6. SBOM: $out/sbom.spdx.json ($(python3 -c 'import json, sys; print(len(json.load(open(sys.argv[1]))["packages"]))' "$out/sbom.spdx.json") packages)"
else
    log "6. SBOM: skipped (SYFT=/path/to/syft to make one); the release attaches BuildKit's"
fi

# --- 7. what a release pushes ------------------------------------------------------------
cat <<EOF

A release of v$version (git tag v$version, .github/workflows/release.yml) would:
  push   $image_name:$version      linux/amd64 + linux/arm64, with SBOM and provenance
         attestations (here: $(dpkg --print-architecture) only, $digest)
  sign   $image_name@<index digest>      cosign keyless (GitHub OIDC -> Fulcio, Rekor)
  push   ${chart_registry}/acm-sync:$version      $(basename "$tgz"), image.digest pinned
         (here: $chart_digest)
  sign   ${chart_registry#oci://}/acm-sync@<chart digest>      cosign keyless
Dry run passed in $((SECONDS - t_start)) s; the packaged chart: $tgz
EOF
