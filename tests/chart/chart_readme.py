"""Generate charts/acm-sync/README.md (what `helm show readme` prints) from values.yaml.

values.yaml's comments are the single description of each value: the README's table has one
row per key of values.yaml, with its default and the comment block right above it, so a value
added, renamed or removed changes the README the next time this runs, and
tests/chart/test_chart_readme.py fails until it has::

    .venv/bin/python tests/chart/chart_readme.py
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "acm-sync"
README = CHART / "README.md"
_KEY = re.compile(r"^(?P<indent> *)(?P<key>[A-Za-z][A-Za-z0-9_]*):(?:\s|$)")
_COMMENT = re.compile(r"^ *# ?(?P<text>.*)$")

HEADER = """\
# acm-sync Helm chart

Keeps TLS Secrets (often from cert-manager) imported into AWS Certificate Manager (ACM), in
every region where load balancers, CloudFront distributions or API Gateways need them, under
the same ARN across renewals.

```sh
helm install acm-sync ./charts/acm-sync --namespace acm-sync --create-namespace \\
  --set clusterId=prod-eu-1 --set aws.region=eu-west-1 \\
  --set serviceAccount.annotations."eks\\.amazonaws\\.com/role-arn"=$ROLE_ARN
```

The chart installs two CRDs (`AcmCertificate` and `AcmTarget`, copies of the repository's
`crds/`, rendered as templates so that `helm upgrade` upgrades them and kept on uninstall:
`crds.install`, `crds.keep`), the operator's Deployment, its ServiceAccount and RBAC, a metrics
Service, a PodDisruptionBudget and, when asked, a ServiceMonitor, a PrometheusRule, a Grafana
dashboard and a NetworkPolicy. A second release in the same cluster sets `crds.install=false`.

The AWS permissions, IRSA or EKS Pod Identity, upgrades, uninstalling and troubleshooting:
[docs/install.md](../../docs/install.md) and [docs/iam.md](../../docs/iam.md) in the
repository. `values.schema.json` refuses unknown or mistyped values.

## Values

Generated from `values.yaml` (its comments) by `tests/chart/chart_readme.py`; do not edit the
table by hand.

| key | default | description |
|---|---|---|
"""


def value_rows(text: str) -> list[tuple[str, str, str]]:
    """(dotted key, default as JSON, the comment above it) for every key line of values.yaml."""
    values = yaml.safe_load(text)
    rows: list[tuple[str, str, str]] = []
    path: list[tuple[int, str]] = []
    comment: list[str] = []
    for line in text.splitlines():
        found = _COMMENT.match(line)
        if found:
            comment.append(found.group("text").strip())
            continue
        key = _KEY.match(line)
        if not key:
            comment = []  # a blank line or a list item: the comment was not about a key
            continue
        indent = len(key.group("indent"))
        path = [(i, k) for i, k in path if i < indent] + [(indent, key.group("key"))]
        keys = [k for _, k in path]
        default: Any = values
        for k in keys:
            default = default[k]
        shown = "" if isinstance(default, dict) and default else json.dumps(default)
        rows.append((".".join(keys), shown, " ".join(" ".join(comment).split())))
        comment = []
    return rows


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def render(values_text: str) -> str:
    """The whole README for ``values_text``."""
    body = HEADER
    for key, default, description in value_rows(values_text):
        shown = f"`{_cell(default)}`" if default else ""
        body += f"| `{key}` | {shown} | {_cell(description)} |\n"
    return body


def main() -> int:
    README.write_text(render((CHART / "values.yaml").read_text()))
    print(f"wrote {README.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
