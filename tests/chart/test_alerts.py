"""The chart's alerts: they query only what the operator exports, and promtool proves they fire.

`promtool check rules` and `promtool test rules` (tests/chart/promtool/alerts_test.yaml) run on
the PrometheusRule as the real Helm renders it. The query checks also run without Helm, on the
template rendered by a small renderer that knows exactly the template's directives (any other
directive fails the test); a test compares it with Helm's rendering. promtool and helm are found
as the test bed finds them ($ACM_SYNC_CLUSTER_BIN_DIR, else the .cluster-bins link that
`make cluster-bins` leaves); in CI their absence fails.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.metrics import MetricWrapperBase

from acm_sync.controller.platform.metrics import NOT_AFTER, Metrics
from acm_sync_testbed.realcluster import bins

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "acm-sync"
RULE_TEMPLATE = CHART / "templates" / "prometheusrule.yaml"
PROMTOOL_TESTS = Path(__file__).resolve().parent / "promtool" / "alerts_test.yaml"


RELEASE = "r"  # the release name helm_rules renders with
NAMESPACE = "acm-sync"


def render_rule_template(text: str, values: dict[str, Any]) -> dict[str, Any]:
    """The PrometheusRule as Helm renders it with ``values`` (the template's directives only)."""
    rule = values["metrics"]["prometheusRule"]
    # The Service's name, <release>-acm-sync-metrics, unless the values name another job.
    job = rule["job"] or f"{RELEASE}-acm-sync-metrics"
    lines = [
        line
        for line in text.splitlines()
        # Control lines ({{- if/with/end/include ...}}): the body of `if enabled` is kept,
        # labels and metadata are not needed for the rules.
        if not line.strip().startswith("{{-") and "include " not in line
    ]
    body = "\n".join(lines)
    body = body.replace('{{ "{{" }}', "\x00OPEN\x00").replace('{{ "}}" }}', "\x00CLOSE\x00")
    body = body.replace(
        "{{ mul (int $rule.expiringDays) 86400 }}", str(int(rule["expiringDays"]) * 86400)
    )

    def value(match: re.Match[str]) -> str:
        node: Any = rule
        for part in match.group(1).split("."):
            node = node[part]
        return str(node)

    body = re.sub(r"\{\{ \$rule\.([A-Za-z.]+) \}\}", value, body)
    body = body.replace("{{ $job }}", job)
    body = body.replace("{{ .Release.Namespace }}", NAMESPACE)
    assert "{{" not in body, f"a directive the test renderer does not know: {body}"
    body = body.replace("\x00OPEN\x00", "{{").replace("\x00CLOSE\x00", "}}")
    rendered: dict[str, Any] = yaml.safe_load(body)
    return rendered


def default_rules() -> dict[str, Any]:
    """The rendered PrometheusRule's spec: a Prometheus rules file."""
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    spec: dict[str, Any] = render_rule_template(RULE_TEMPLATE.read_text(), values)["spec"]
    return spec


def alerts() -> list[dict[str, Any]]:
    """Every alerting rule of the chart."""
    return [r for g in default_rules()["groups"] for r in g["rules"] if "alert" in r]


def exported() -> dict[str, set[str]]:
    """Series name -> label names, for every series the operator exports."""
    suffixes = {
        "counter": ("_total", "_created"),
        "histogram": ("_bucket", "_sum", "_count", "_created"),
        "gauge": ("",),
    }
    names: dict[str, set[str]] = {}
    metrics = Metrics()
    for wrapper in vars(metrics).values():
        if not isinstance(wrapper, MetricWrapperBase):
            continue
        # prometheus_client keeps the declared name, type and label names private.
        labels = set(wrapper._labelnames)
        for suffix in suffixes[str(wrapper._type)]:
            names[wrapper._name + suffix] = labels | ({"le"} if suffix == "_bucket" else set())
    # The per-object gauges are rendered at scrape time from one table: read them off a scrape
    # of one exported object.
    metrics.objects.set("ns", "name", {("123456789012", "us-east-1"): (1.0, True, "Synced")})
    for family in metrics.objects.collect():
        for sample in family.samples:
            names.setdefault(sample.name, set()).update(sample.labels)
    for labels in names.values():
        labels |= TARGET_LABELS
    # Written by Prometheus itself for every scrape target: 1 when the scrape worked.
    names["up"] = set(TARGET_LABELS)
    return names


# Labels Prometheus puts on every series it scrapes: the target's job and instance, and its
# namespace (the operator's) where the series has none of its own (honorLabels keeps an
# AcmCertificate's); and the cluster label a multi-cluster store (Thanos, Mimir, a Prometheus
# external label) adds.
TARGET_LABELS = {"job", "instance", "namespace", "cluster"}


def metric_names(expr: str) -> set[str]:
    """The series names ``expr`` reads: the operator's, and Prometheus' own ``up``."""
    names = set(re.findall(r"\b(acmsync_[a-z_]+)\b", expr))
    return names | ({"up"} if re.search(r"\bup\s*\{", expr) else set())


def query_problems(expr: str, allowed: dict[str, set[str]]) -> list[str]:
    """Metric names and label names in ``expr`` that the operator does not export."""
    problems = []
    metrics = metric_names(expr)
    if not metrics:
        problems.append(f"no acm-sync metric in {expr!r}")
    labels: set[str] = set()
    for metric in metrics:
        if metric not in allowed:
            problems.append(f"{metric} is not exported")
        else:
            labels |= allowed[metric]
    used: set[str] = set()
    for group in re.findall(r"\b(?:by|without)\s*\(([^)]*)\)", expr):
        used |= {label.strip() for label in group.split(",") if label.strip()}
    for matchers in re.findall(r"\{([^}]*)\}", expr):
        used |= set(re.findall(r"([A-Za-z_][A-Za-z0-9_]*)\s*(?:=~|!~|!=|=)", matchers))
    used -= {"__name__"}
    problems.extend(f"label {label} is not on {sorted(metrics)}" for label in used - labels)
    return problems


def test_every_alert_queries_only_exported_metrics_and_labels() -> None:
    allowed = exported()
    found = alerts()
    assert {a["alert"] for a in found} >= {
        "AcmSyncCertificateExpiring",
        "AcmSyncSyncFailing",
        "AcmSyncQuotaExceeded",
        "AcmSyncOperatorAbsent",
        "AcmSyncNoLeader",
    }
    for alert in found:
        assert not query_problems(alert["expr"], allowed), alert["alert"]
        text = " ".join(str(v) for v in alert.get("annotations", {}).values())
        by = set(re.findall(r"\bby\s*\(([^)]*)\)", alert["expr"]))
        kept = {label.strip() for group in by for label in group.split(",")}
        for label in re.findall(r"\$labels\.([A-Za-z_]+)", text):
            assert label in kept, f"{alert['alert']} shows $labels.{label}, dropped by its query"


def test_the_query_check_does_catch_an_unknown_metric_or_label() -> None:
    allowed = exported()
    assert query_problems("acmsync_nope_total > 0", allowed)
    assert query_problems("sum by (pod) (acmsync_certificate_in_sync) == 0", allowed)
    assert not query_problems("sum by (region) (acmsync_imports_total) > 0", allowed)


def test_every_alert_grouping_keeps_the_account() -> None:
    # The same namespace/name/region in two accounts is two certificates: an alert grouping
    # them would show one account's problem under the other's (or hide it behind a healthy one).
    allowed = exported()
    checked = 0
    for alert in alerts():
        metrics = metric_names(alert["expr"])
        if not all("account" in allowed.get(m, set()) for m in metrics):
            continue
        checked += 1
        groups = re.findall(r"\bby\s*\(([^)]*)\)", alert["expr"])
        assert groups, alert["alert"]
        for group in groups:
            assert "account" in {label.strip() for label in group.split(",")}, alert["alert"]
    assert checked >= 3


def test_the_absent_alert_watches_the_job_the_service_monitor_scrapes(tmp_path: Path) -> None:
    # A ServiceMonitor's job label is the Service's name: were they to differ, the alert would
    # fire for ever (or, for a job that exists elsewhere, never).
    helm = require_binary("helm")
    env = {**os.environ, **{k: str(tmp_path / k) for k in
                            ("HELM_CACHE_HOME", "HELM_CONFIG_HOME", "HELM_DATA_HOME")}}  # fmt: skip
    result = subprocess.run(
        [str(helm), "template", RELEASE, str(CHART), "--namespace", NAMESPACE,
         "--set", "metrics.prometheusRule.enabled=true",
         "--set", "metrics.serviceMonitor.enabled=true"],
        capture_output=True, text=True, timeout=60, env=env, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    docs = [d for d in yaml.safe_load_all(result.stdout) if d]
    monitor = next(d for d in docs if d["kind"] == "ServiceMonitor")
    selector = monitor["spec"]["selector"]["matchLabels"]
    ports = {e["port"] for e in monitor["spec"]["endpoints"]}
    services = [
        d["metadata"]["name"]
        for d in docs
        if d["kind"] == "Service"
        and selector.items() <= d["metadata"]["labels"].items()
        and ports & {p["name"] for p in d["spec"]["ports"]}
    ]
    assert len(services) == 1, services
    rules = next(d for d in docs if d["kind"] == "PrometheusRule")["spec"]["groups"][0]["rules"]
    absent = next(r for r in rules if r.get("alert") == "AcmSyncOperatorAbsent")
    assert f'up{{job="{services[0]}", namespace="{NAMESPACE}"}}' in absent["expr"]
    no_leader = next(r for r in rules if r.get("alert") == "AcmSyncNoLeader")
    assert f'job="{services[0]}"' in no_leader["expr"]


def test_no_alert_fires_on_a_counter_rate_for_a_state() -> None:
    # "Stuck for 30 minutes" must be a state: a rate of failures drops to 0 between retries.
    failing = next(a for a in alerts() if a["alert"] == "AcmSyncSyncFailing")
    assert "acmsync_certificate_in_sync" in failing["expr"]
    assert "rate(" not in failing["expr"]


def test_every_alert_has_a_promtool_case_that_fires_and_one_that_stays_silent() -> None:
    cases = yaml.safe_load(PROMTOOL_TESTS.read_text())["tests"]
    fires: set[str] = set()
    silent: set[str] = set()
    for case in cases:
        for check in case.get("alert_rule_test", []):
            (fires if check.get("exp_alerts") else silent).add(check["alertname"])
    names = {a["alert"] for a in alerts()}
    assert names <= fires, f"no firing case for {names - fires}"
    assert names <= silent, f"no silent case for {names - silent}"


def require_binary(name: str) -> Path:
    """The built ``name``; a skip locally, a failure in CI (make test builds it there)."""
    binary = bins.find_program(name)
    if binary is None:
        reason = f"{name} not built (make cluster-bins, or set ACM_SYNC_CLUSTER_BIN_DIR)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason + ": CI must run this check")
        pytest.skip(reason)
    return binary


def helm_rules(helm: Path, tmp: Path) -> dict[str, Any]:
    """The PrometheusRule's spec as the real Helm renders it with the chart's defaults."""
    env = {**os.environ, **{k: str(tmp / k) for k in
                            ("HELM_CACHE_HOME", "HELM_CONFIG_HOME", "HELM_DATA_HOME")}}  # fmt: skip
    result = subprocess.run(
        [str(helm), "template", RELEASE, str(CHART), "--namespace", NAMESPACE,
         "--show-only", "templates/prometheusrule.yaml",
         "--set", "metrics.prometheusRule.enabled=true"],
        capture_output=True, text=True, timeout=60, env=env, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    spec: dict[str, Any] = yaml.safe_load(result.stdout)["spec"]
    return spec


def test_the_test_renderer_renders_what_helm_does(tmp_path: Path) -> None:
    # The checks above run without Helm; they are only as good as this renderer.
    assert default_rules() == helm_rules(require_binary("helm"), tmp_path)


@pytest.fixture(scope="module")
def promtool_dir(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    binary = require_binary("promtool")
    folder = tmp_path_factory.mktemp("promtool")
    # promtool checks the rules exactly as the real Helm renders the chart's template.
    rules = helm_rules(require_binary("helm"), folder)
    (folder / "rules.yaml").write_text(yaml.safe_dump(rules, sort_keys=False))
    shutil.copy(PROMTOOL_TESTS, folder / "alerts_test.yaml")
    return binary, folder


def test_promtool_accepts_the_rules(promtool_dir: tuple[Path, Path]) -> None:
    binary, folder = promtool_dir
    result = subprocess.run(
        [str(binary), "check", "rules", "rules.yaml"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_unit_tests_pass(promtool_dir: tuple[Path, Path]) -> None:
    binary, folder = promtool_dir
    result = subprocess.run(
        [str(binary), "test", "rules", "alerts_test.yaml"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_service_monitor_keeps_the_metrics_namespace_label() -> None:
    # Without honorLabels Prometheus renames the AcmCertificate's namespace label to
    # exported_namespace, and every alert grouped by namespace would show the operator's.
    monitor = (CHART / "templates" / "servicemonitor.yaml").read_text()
    assert re.search(r"^\s+honorLabels: true$", monitor, re.M)


DASHBOARD = CHART / "dashboards" / "acm-sync.json"


def dashboard_targets() -> list[dict[str, Any]]:
    """Every query of the shipped Grafana dashboard."""
    dashboard = json.loads(DASHBOARD.read_text())
    return [t for p in dashboard["panels"] for t in p.get("targets", [])]


def test_every_dashboard_query_uses_only_exported_metrics_and_labels() -> None:
    allowed = exported()
    targets = dashboard_targets()
    assert targets
    for target in targets:
        expr = target["expr"]
        assert not query_problems(expr, allowed), expr
        metrics = set(re.findall(r"\b(acmsync_[a-z_]+)\b", expr))
        labels = set().union(*(allowed[m] for m in metrics))
        for label in re.findall(r"\{\{(\w+)\}\}", target.get("legendFormat", "")):
            assert label in labels, f"legend {label} is not a label of {sorted(metrics)}"


def test_the_dashboard_shows_what_operators_need() -> None:
    exprs = " ".join(t["expr"] for t in dashboard_targets())
    for needed in (
        "acmsync_certificate_in_sync",  # certificates by state
        "acmsync_certificate_not_after_timestamp_seconds",  # soonest expiries per region
        "sum by (api, outcome) (rate(acmsync_aws_calls_total",  # calls by API and outcome
        'outcome="ThrottlingException"',  # throttling
        "acmsync_quota_exceeded_total",  # quota
        "acmsync_reconcile_duration_seconds_bucket",  # latency
    ):
        assert needed in exprs, needed


def test_the_dashboard_configmap_is_off_by_default_and_labelled_for_the_sidecar() -> None:
    values = yaml.safe_load((CHART / "values.yaml").read_text())["metrics"]["grafanaDashboard"]
    assert values["enabled"] is False
    assert values["labels"] == {"grafana_dashboard": "1"}
    template = (CHART / "templates" / "grafana-dashboard.yaml").read_text()
    assert template.startswith("{{- if .Values.metrics.grafanaDashboard.enabled }}")
    assert '.Files.Get "dashboards/acm-sync.json"' in template


def test_the_query_check_does_catch_a_wrong_legend_or_label() -> None:
    assert query_problems('sum by (pod) (rate(acmsync_aws_calls_total{api="x"}[5m]))', exported())


def test_every_dashboard_query_is_scoped_by_the_cluster_job_and_namespace_variables() -> None:
    # One Prometheus often holds several clusters and installations: a query without these
    # matchers would sum them all. The per-object gauges carry the AcmCertificate's namespace;
    # the operator-wide series only the operator's, so the namespace variable is not theirs.
    dashboard = json.loads(DASHBOARD.read_text())
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert {"cluster", "job", "namespace"} <= set(variables)
    allowed = exported()
    for target in dashboard_targets():
        expr = target["expr"]
        for metric in metric_names(expr):
            selectors = re.findall(rf"\b{metric}\{{([^}}]*)\}}", expr)
            assert selectors, f"{metric} unscoped in {expr}"
            for selector in selectors:
                assert 'cluster=~"$cluster"' in selector, expr
                assert 'job=~"$job"' in selector, expr
                if metric in ("acmsync_certificate_in_sync", NOT_AFTER):
                    assert 'namespace=~"$namespace"' in selector, expr
            assert metric in allowed
    for name in ("cluster", "job", "namespace"):
        # "All" must also match series without the label (a single-cluster Prometheus).
        assert variables[name]["includeAll"], name
        assert variables[name]["allValue"] == ".*", name
