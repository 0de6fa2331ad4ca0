"""docs/install.md answers every condition reason a user can see, and the chart's values."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from acm_sync.core.findings import WARNING_CODES, Code

ROOT = Path(__file__).resolve().parents[2]
INSTALL = ROOT / "docs" / "install.md"

# Ready reasons decided outside the certificate core (the kopf layer and the ACM engine).
OPERATOR_REASONS = (
    "Synced",
    "PartiallySynced",
    "Pending",
    "SecretNotFound",
    "NotTLSSecret",
    "ForeignCertificate",
    "AdoptionDisabled",
    "ArnRegionMismatch",
    "RegionNotAllowed",
    "InvalidRegion",
    "InvalidTags",
    "InvalidSpec",
    "QuotaExceeded",
    "AccessDenied",
    "Throttled",
    "ResourceInUse",
    "AwsError",
    "DeletionBlocked",
    "TargetNotFound",
    "TargetNotAllowed",
    "AssumeRoleFailed",
)


def _troubleshooting_rows() -> dict[str, str]:
    text = INSTALL.read_text()
    section = text.split("## Troubleshooting by condition reason", 1)[1]
    rows = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("| `") and len(cells) == 3:
            for reason in re.findall(r"`([A-Za-z0-9]+)`", cells[0]):
                rows[reason] = cells[2]
    return rows


@pytest.mark.parametrize(
    "reason",
    [*OPERATOR_REASONS, *(c.value for c in Code if c not in WARNING_CODES)],
)
def test_every_reason_has_a_troubleshooting_row_saying_what_to_do(reason: str) -> None:
    rows = _troubleshooting_rows()
    assert reason in rows, f"docs/install.md has no troubleshooting row for {reason}"
    assert rows[reason], f"the {reason} row says nothing to do"


@pytest.mark.parametrize("code", sorted(c.value for c in WARNING_CODES))
def test_every_warning_is_explained(code: str) -> None:
    assert f"`{code}`" in INSTALL.read_text()


def test_every_top_level_value_is_documented() -> None:
    values = yaml.safe_load((ROOT / "charts" / "acm-sync" / "values.yaml").read_text())
    text = INSTALL.read_text()
    undocumented = [key for key in values if f"`{key}" not in text]
    # Naming overrides and pull secrets are standard Helm; everything else is ours to explain.
    assert set(undocumented) <= {
        "nameOverride",
        "fullnameOverride",
        "imagePullSecrets",
        "podSecurityContext",
        "securityContext",
    }, undocumented
