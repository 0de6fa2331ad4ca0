#!/usr/bin/env bash
# A release's version is one number: the tag (v0.1.0 -> 0.1.0) must equal the project's version
# (pyproject.toml, which the image is labelled with), the chart's version and its appVersion
# (the image tag the chart installs by default). Exits non-zero naming any that differ, so a
# tag pushed before the files were bumped publishes nothing.
#
#   release/version.sh 0.1.0      # checks
#   release/version.sh            # prints the project's version
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
project=$(sed -n 's/^version = "\(.*\)"$/\1/p' "$repo/pyproject.toml" | head -n 1)
chart=$(sed -n 's/^version: "\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' "$repo/charts/acm-sync/Chart.yaml")
app=$(sed -n 's/^appVersion: "\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' "$repo/charts/acm-sync/Chart.yaml")

if [ $# = 0 ]; then
    printf '%s\n' "$project"
    exit 0
fi
want=$1
bad=0
for pair in "pyproject.toml version:$project" "Chart.yaml version:$chart" "Chart.yaml appVersion:$app"; do
    if [ "${pair##*:}" != "$want" ]; then
        printf 'release/version.sh: %s is "%s", not %s\n' "${pair%:*}" "${pair##*:}" "$want" >&2
        bad=1
    fi
done
exit "$bad"
