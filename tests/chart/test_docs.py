"""docs/install.md answers every condition reason a user can see (core/reasons.py and the
finding codes, no more, no less), and the chart's values."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from acm_sync.core.findings import WARNING_CODES, Code
from acm_sync.core.reasons import EventReason, QuietReason, Reason, WriteReason

ROOT = Path(__file__).resolve().parents[2]
INSTALL = ROOT / "docs" / "install.md"
IAM = ROOT / "docs" / "iam.md"
TROUBLESHOOTING = "## Troubleshooting by condition reason"

# Every reason Ready or a status.regions[] entry can show when something is not right.
PROBLEM_REASONS = sorted({*Reason, *(c for c in Code if c not in WARNING_CODES)})


def _section() -> str:
    return INSTALL.read_text().split(TROUBLESHOOTING, 1)[1].split("\n## ", 1)[0]


def _tables() -> dict[str, dict[str, str]]:
    """The section's tables by their first header cell: first-column names -> last cell."""
    tables: dict[str, dict[str, str]] = {}
    rows: dict[str, str] | None = None
    for line in _section().splitlines():
        if not line.startswith("|"):
            rows = None
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if rows is None:
            rows = tables.setdefault(cells[0], {})
        elif not set(cells[0]) <= {"-", ":"}:
            for name in re.findall(r"`([A-Za-z0-9]+)`", cells[0]):
                rows[name] = cells[-1]
    return tables


@pytest.mark.parametrize("reason", PROBLEM_REASONS)
def test_every_reason_has_a_troubleshooting_row_saying_what_to_do(reason: str) -> None:
    rows = _tables()["reason"]
    assert reason in rows, f"docs/install.md has no troubleshooting row for {reason}"
    assert rows[reason], f"the {reason} row says nothing to do"


def test_the_troubleshooting_table_explains_only_reasons_the_operator_has() -> None:
    unknown = set(_tables()["reason"]) - set(PROBLEM_REASONS)
    assert not unknown, f"docs/install.md explains reasons no code produces: {sorted(unknown)}"


def test_the_warnings_table_lists_exactly_the_warning_codes() -> None:
    rows = _tables()["warning"]
    assert set(rows) == {c.value for c in WARNING_CODES}
    assert all(rows.values()), "a warning row says nothing to do"


def test_the_events_table_lists_exactly_the_event_reasons() -> None:
    rows = _tables()["event"]
    assert set(rows) == {r.value for r in EventReason}
    assert all(rows.values()), "an Event row says nothing to do"


@pytest.mark.parametrize("reason", sorted({*WriteReason, Reason.SYNCED, Reason.NOT_FOUND}))
def test_every_synced_region_reason_is_explained(reason: str) -> None:
    paragraph = _section().split("A region whose `state` is `Synced`", 1)[1].split("\n\n", 1)[0]
    assert f"`{reason}`" in paragraph


@pytest.mark.parametrize("reason", sorted(QuietReason))
def test_every_reason_of_a_condition_that_is_fine_is_named(reason: str) -> None:
    assert f"`{reason}`" in INSTALL.read_text() + IAM.read_text()


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


SECURITY = ROOT / "docs" / "security.md"


def _schema_enum(*path: str) -> list[str]:
    import json

    node = json.loads((ROOT / "charts" / "acm-sync" / "values.schema.json").read_text())
    for key in path:
        node = node["properties"][key]
    values: list[str] = node["enum"]
    return values


@pytest.mark.parametrize(
    ("value", "mode"),
    [
        *((f"adoption.mode: {m}", m) for m in _schema_enum("adoption", "mode")),
        *((f"annotationMode: {m}", m) for m in _schema_enum("annotationMode")),
    ],
)
def test_the_security_model_explains_every_adoption_and_annotation_mode(
    value: str, mode: str
) -> None:
    text = SECURITY.read_text()
    setting = value.split(":", 1)[0]
    assert f"`{value}`" in text or (f"`{setting}`" in text and f"`{mode}`" in text), value


def test_the_threat_model_names_every_actor_and_every_safeguard() -> None:
    text = SECURITY.read_text()
    table = text.split("## Threat model", 1)[1].split("\n### ", 1)[0]
    actors = re.findall(r"^\| \*\*(.+?)\*\*", table, flags=re.MULTILINE)
    assert actors == [
        "Namespace users who may create AcmCertificates",
        "Secret writers",
        "Cluster admins",
        "AWS account admins",
    ]
    for safeguard in (
        "RBAC",
        "Owner tags",
        "IAM conditions",
        "namespaceSelector",
        "Role allowlist",
        "Adoption mode",
        "Annotation mode",
        "Deleted Secret retention",
        "Input limits",
        "DNS-1123",
    ):
        assert safeguard in table, safeguard


def test_the_security_docs_are_linked_and_reports_go_to_a_private_advisory() -> None:
    assert "docs/security.md" in (ROOT / "README.md").read_text()
    assert "(security.md)" in INSTALL.read_text()
    policy = (ROOT / "SECURITY.md").read_text()
    assert "security advisory" in policy
    assert "docs/security.md" in policy
    # No mailbox to go stale or to be guessed: the advisory is the one channel.
    assert not re.search(r"[\w.+-]+@[\w-]+\.[\w.]+", policy)
