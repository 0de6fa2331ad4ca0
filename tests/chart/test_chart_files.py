"""Static checks on the Helm chart that need no Helm: CRD drift, values, alert metric names."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

from tests.test_flags_doc import readme_flags

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "acm-sync"

# The metric names the operator exposes (agreed with the controller's metrics module).
OPERATOR_METRICS = frozenset(
    {
        "acmsync_certificate_not_after_timestamp_seconds",
        "acmsync_certificate_in_sync",
        "acmsync_sync_total",
        "acmsync_sync_failures_total",
        "acmsync_aws_calls_total",
        "acmsync_imports_total",
        "acmsync_reconcile_duration_seconds",
        "acmsync_quota_exceeded_total",
        "acmsync_leader",
        "acmsync_wired_consumers",
    }
)


def test_chart_crds_are_byte_identical_to_the_source_crds() -> None:
    source = sorted(p.name for p in (ROOT / "crds").glob("*.yaml"))
    copied = sorted(p.name for p in (CHART / "files" / "crds").glob("*.yaml"))
    assert source, "crds/ holds no CRD"
    assert copied == source, "the chart's files/crds/ must hold exactly the files of crds/"
    for name in source:
        copy = CHART / "files" / "crds" / name
        assert copy.read_bytes() == (ROOT / "crds" / name).read_bytes(), (
            f"charts/acm-sync/files/crds/{name} drifted from crds/{name}: cp crds/*.yaml "
            "charts/acm-sync/files/crds/"
        )


def test_chart_app_version_is_the_project_version() -> None:
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert chart["appVersion"] == project["version"]


def test_every_top_level_value_is_described_by_the_schema() -> None:
    import json

    values = yaml.safe_load((CHART / "values.yaml").read_text())
    schema = json.loads((CHART / "values.schema.json").read_text())
    assert schema["additionalProperties"] is False
    undescribed = set(values) - set(schema["properties"])
    assert not undescribed, f"values without a schema entry (installs would fail): {undescribed}"


def _metric_names(expr: str) -> set[str]:
    return set(re.findall(r"\b(acmsync_[a-z_]+)\b", expr))


def test_alerts_use_only_metrics_the_operator_exposes() -> None:
    text = (CHART / "templates" / "prometheusrule.yaml").read_text()
    exprs = re.findall(r"^\s+expr: (.+)$", text, flags=re.MULTILINE)
    alerts = re.findall(r"^\s+- alert: (\w+)$", text, flags=re.MULTILINE)
    assert set(alerts) == {
        "AcmSyncCertificateExpiring",
        "AcmSyncSyncFailing",
        "AcmSyncQuotaExceeded",
        "AcmSyncOperatorAbsent",
        "AcmSyncNoLeader",
    }
    assert len(exprs) == len(alerts)
    used = set().union(*(_metric_names(e) for e in exprs))
    assert used, "no alert expression names an acm-sync metric"
    assert used <= OPERATOR_METRICS, f"unknown metrics in alerts: {used - OPERATOR_METRICS}"


def test_the_operator_exposes_every_metric_the_alerts_use() -> None:
    from prometheus_client import generate_latest

    from acm_sync.controller.platform.metrics import Metrics

    exposition = generate_latest(Metrics().registry).decode()
    exposed = set(re.findall(r"^# TYPE (\S+) ", exposition, flags=re.MULTILINE))
    text = (CHART / "templates" / "prometheusrule.yaml").read_text()
    used = set().union(*(_metric_names(e) for e in re.findall(r"expr: (.+)$", text, re.MULTILINE)))
    assert used
    assert used <= exposed, f"alerts use metrics the operator does not expose: {used - exposed}"


def test_the_deployment_passes_only_flags_acm_sync_run_documents() -> None:
    documented = readme_flags()  # held to the parser by tests/test_flags_doc.py
    template = (CHART / "templates" / "deployment.yaml").read_text()
    # A flag may be quoted in the template (`- {{ printf "--flag=%s" . | toJson }}`).
    passed = set(re.findall(r"^\s+- (?:\{\{ printf \")?(--[a-z-]+)", template, re.MULTILINE))
    assert "--annotation-namespace-selector" in passed
    assert passed, "the Deployment passes no flag"
    assert passed <= documented, f"flags acm-sync run does not take: {passed - documented}"


def test_date_printer_columns_show_only_past_times() -> None:
    # The API server renders a `date` column as the time elapsed since it; a future time such
    # as a certificate's notAfter prints `<invalid>` on a real cluster.
    crd = yaml.safe_load((ROOT / "crds" / "acmcertificate.yaml").read_text())
    columns = [c for v in crd["spec"]["versions"] for c in v["additionalPrinterColumns"]]
    dated = {c["name"]: c["jsonPath"] for c in columns if c["type"] == "date"}
    assert dated == {"Age": ".metadata.creationTimestamp"}
    not_after = next(c for c in columns if c["jsonPath"] == ".status.notAfter")
    assert not_after["type"] == "string"
