#!/usr/bin/env bash
# Packages charts/acm-sync for a release with the operator image pinned by digest, the one step
# of the release that both the tag workflow (.github/workflows/release.yml) and
# `make release-dry-run` run, so the dry run checks the very chart a release publishes.
#
#   release/chart.sh VERSION DIGEST OUTDIR    # prints the packaged .tgz as its last line
#
# The pin goes into the packaged chart's values.yaml as image.digest (the template renders
# repository@digest, and a digest wins over a tag): `helm install` of the published chart then
# runs exactly the bytes that were built, signed and attested, and a mirror that keeps the
# digest (image.repository=my.mirror/acm-sync) still gets them. The chart in git keeps an
# empty digest, so a checkout installs the image by its appVersion tag.
#
# Then checks the package as a user gets it: helm lint, and helm template renders the pinned
# image and nothing else. Needs helm (HELM, default: helm on PATH).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
log() { printf 'release/chart.sh: %s\n' "$*" >&2; }

[ $# = 3 ] || { log "usage: release/chart.sh VERSION DIGEST OUTDIR"; exit 2; }
version=$1 digest=$2 outdir=$3
helm=${HELM:-helm}

[[ $digest =~ ^sha256:[0-9a-f]{64}$ ]] || { log "not an image digest: $digest"; exit 2; }
"$here/version.sh" "$version"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r "$repo/charts/acm-sync" "$work/acm-sync"
values=$work/acm-sync/values.yaml
# The one `digest: ""` line under `image:`; anything else means the values file changed shape
# and the pin must be looked at again rather than written to the wrong key.
n=$(grep -c '^  digest: ""$' "$values" || true)
[ "$n" = 1 ] || { log "expected one '  digest: \"\"' line in values.yaml, found $n"; exit 1; }
sed -i "s|^  digest: \"\"\$|  digest: \"$digest\"|" "$values"

mkdir -p "$outdir"
"$helm" package "$work/acm-sync" --version "$version" --app-version "$version" \
    --destination "$outdir" >&2
tgz=$outdir/acm-sync-$version.tgz
[ -f "$tgz" ] || { log "helm package wrote no $tgz"; exit 1; }

"$helm" lint "$tgz" >&2
repository=$(sed -n 's/^  repository: \(.*\)$/\1/p' "$values" | head -n 1)
want="$repository@$digest"
images=$("$helm" template acm-sync "$tgz" |
    sed -n 's/^ *image: "\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' | sort -u)
[ "$images" = "$want" ] || { log "the packaged chart renders image(s) '$images', not $want"; exit 1; }
log "packaged $tgz: image $want"
printf '%s\n' "$tgz"
