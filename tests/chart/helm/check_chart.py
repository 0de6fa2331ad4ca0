"""Real Helm against charts/acm-sync: lint, install into the Kubernetes API emulator with default
and non-default values, read back what was installed and check it.

helm lint and helm template run the real Helm binary where `make cluster-bins` built it
(.ci/chart-check passes it in ACM_SYNC_HELM_BIN); elsewhere helm-sdkpy lints and the template
checks are skipped. The installs into the emulator are helm-sdkpy's either way.

Run by .ci/chart-check in .venv-chart (Python >= 3.12); the main test run does not collect
this file (its name does not match test_*.py).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import helm_sdkpy
import jsonschema
import kubernetes_validate
import pytest

from tests.chart.helm.helm_cluster import (
    CHART,
    Api,
    Emulator,
    Helm,
    crd_objects,
    helm_binary,
    helm_lint,
    helm_template,
    manifest_objects,
    operator_config,
)
from tests.chart.helm.policy import (
    MONITORING_SPEC_SCHEMAS,
    monitoring_crd,
    restricted_violations,
    secret_write_grants,
    wildcard_rules,
)

# The oldest Kubernetes the chart supports (Chart.yaml kubeVersion) and the newest with schemas.
KUBERNETES_VERSIONS = ("1.25.0", kubernetes_validate.latest_version())
ROLE_ARN = "arn:aws:iam::111122223333:role/acm-sync"
CUSTOM_VALUES: dict[str, Any] = {
    "aggregateToDefaultRoles": False,
    "replicaCount": 2,
    "watch": {"scope": "namespaces", "namespaces": ["team-a", "team-b"]},
    "clusterId": "prod-eu-1",
    "aws": {"region": "eu-west-1", "allowedRegions": ["eu-west-1", "us-east-1"]},
    "adoption": {"enabled": False},
    "targets": {"allowedRoleArns": ["arn:aws:iam::*:role/acm-sync-importer", ROLE_ARN]},
    "expiryWarningDays": 21,
    "logging": {"format": "text", "level": "DEBUG"},
    "serviceAccount": {"annotations": {"eks.amazonaws.com/role-arn": ROLE_ARN}},
    "metrics": {
        "serviceMonitor": {"enabled": True, "labels": {"release": "kube-prometheus-stack"}},
        "prometheusRule": {"enabled": True, "expiringDays": 10},
        "grafanaDashboard": {"enabled": True},
    },
    "podAnnotations": {"example.com/team": "platform"},
    "nodeSelector": {"kubernetes.io/os": "linux"},
    "extraEnv": [{"name": "AWS_STS_REGIONAL_ENDPOINTS", "value": "regional"}],
    "image": {"digest": "sha256:" + "a" * 64},
}
NARROW_VALUES: dict[str, Any] = {
    "watch": {"scope": "namespaces", "namespaces": ["team-a"]},
    "targets": {"enabled": False},
}
# A cluster shared by several teams: the issue-19 settings, cluster-wide.
SELECTOR = "acmsync.io/annotations in (allowed, yes),team!=legacy"
API_SERVER_CIDRS = ["10.0.1.15/32", "10.0.2.27/32"]
SELF_MANAGED_ROLE_ARN = "arn:aws:iam::111122223333:role/acm-sync-shared"
SHARED_VALUES: dict[str, Any] = {
    "clusterId": "shared-1",
    # A self-managed cluster: IRSA without EKS's webhook, rendered by the chart.
    "aws": {"webIdentity": {"roleArn": SELF_MANAGED_ROLE_ARN}},
    "adoption": {"mode": "any"},
    "annotationMode": "selector",
    "annotationNamespaceSelector": SELECTOR,
    "metrics": {"serviceMonitor": {"enabled": True}},
    "networkPolicy": {
        "enabled": True,
        "apiServer": {"cidrs": API_SERVER_CIDRS, "ports": [6443]},
        "aws": {"cidrs": ["10.0.128.0/20"], "podIdentityAgent": True},
        "metricsNamespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}},
        "extraEgress": [
            {
                "to": [{"ipBlock": {"cidr": "10.0.200.10/32"}}],
                "ports": [{"port": 3128, "protocol": "TCP"}],
            }
        ],
    },
}
UPGRADED_VALUES: dict[str, Any] = {
    "replicaCount": 2,
    "clusterId": "c1",
    "watch": CUSTOM_VALUES["watch"],
}
# Every value set the checks install: each must lint and template cleanly too.
VALUE_SETS: dict[str, dict[str, Any]] = {
    "default": {},
    "custom": CUSTOM_VALUES,
    "narrow": NARROW_VALUES,
    "upgraded": UPGRADED_VALUES,
    "shared": SHARED_VALUES,
}


def _targets_rbac(obj: Mapping[str, Any]) -> bool:
    """The ClusterRole (and binding) for AcmTargets, present in either watch scope."""
    kind, name = str(obj["kind"]), str(obj["metadata"]["name"])
    return kind.startswith("ClusterRole") and name.endswith("-targets")


def _user_roles(obj: Mapping[str, Any]) -> bool:
    """The ClusterRoles aggregated into edit/admin/view: people's access, not the operator's."""
    labels = obj["metadata"].get("labels") or {}
    return obj["kind"] == "ClusterRole" and any(
        k.startswith("rbac.authorization.k8s.io/aggregate-to-") for k in labels
    )


@dataclass
class Release:
    """One installed release: what Helm rendered and what the API server holds."""

    name: str
    namespace: str
    rendered: list[dict[str, Any]]
    installed: list[dict[str, Any]]
    values: Mapping[str, Any]

    def one(self, kind: str, name: str | None = None) -> dict[str, Any]:
        found = [o for o in self.installed if o["kind"] == kind]
        if name is not None:
            found = [o for o in found if o["metadata"]["name"] == name]
        else:
            found = [o for o in found if not _targets_rbac(o) and not _user_roles(o)]
        assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
        return found[0]

    def all(
        self, *kinds: str, targets_rbac: bool = False, user_roles: bool = False
    ) -> list[dict[str, Any]]:
        """Objects of ``kinds``; the AcmTarget ClusterRole/-Binding only with targets_rbac, the
        ClusterRoles aggregated into edit/view only with user_roles."""
        return [
            o
            for o in self.installed
            if o["kind"] in kinds
            and (targets_rbac or not _targets_rbac(o))
            and (user_roles or not _user_roles(o))
        ]

    @property
    def pod_spec(self) -> dict[str, Any]:
        spec: dict[str, Any] = self.one("Deployment")["spec"]["template"]["spec"]
        return spec

    @property
    def args(self) -> list[str]:
        args: list[str] = self.pod_spec["containers"][0]["args"]
        return args


@dataclass
class Cluster:
    emulator: Emulator
    helm: Helm

    @property
    def api(self) -> Api:
        return self.emulator.api

    def install(self, release: str, namespace: str, values: Mapping[str, Any]) -> Release:
        if "crds" not in values and any(self.api.exists(crd) for crd in crd_objects()):
            # A second release in one cluster leaves the CRDs to the first, as users do: Helm
            # refuses to adopt objects another release owns.
            values = {**values, "crds": {"install": False}}
        result = self.helm.install(release, namespace, values)
        rendered = manifest_objects(result)
        installed = [self.api.get(obj, namespace) for obj in rendered]
        return Release(release, namespace, rendered, installed, values)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    emulator = Emulator(tmp_path_factory.mktemp("emulator"))
    try:
        for kind, plural in (
            ("ServiceMonitor", "servicemonitors"),
            ("PrometheusRule", "prometheusrules"),
        ):
            emulator.api.create(monitoring_crd(kind, plural))
        for ns in CUSTOM_VALUES["watch"]["namespaces"]:
            emulator.api.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
        yield Cluster(emulator, Helm(emulator.kubeconfig))
    except BaseException:
        print(emulator.logs())
        raise
    finally:
        emulator.stop()


@pytest.fixture(scope="module")
def default_release(cluster: Cluster) -> Release:
    return cluster.install("acm-sync", "acm-sync", {})


@pytest.fixture(scope="module")
def custom_release(cluster: Cluster) -> Release:
    return cluster.install("edge", "platform", CUSTOM_VALUES)


@pytest.fixture(scope="module")
def shared_release(cluster: Cluster) -> Release:
    return cluster.install("shared", "shared", SHARED_VALUES)


@pytest.fixture(params=["default", "custom", "shared"])
def release(request: pytest.FixtureRequest) -> Release:
    found: Release = request.getfixturevalue(f"{request.param}_release")
    return found


@pytest.mark.parametrize("values", list(VALUE_SETS))
def test_helm_lint_finds_no_warning_or_error(values: str, tmp_path: Path) -> None:
    report = helm_lint(CHART, VALUE_SETS[values], tmp_path, KUBERNETES_VERSIONS[-1])
    assert report.charts_linted == 1, report
    assert not report.problems, report


def test_helm_lint_does_catch_a_value_the_schema_refuses(tmp_path: Path) -> None:
    report = helm_lint(CHART, {"watch": {"scope": "everywhere"}}, tmp_path, KUBERNETES_VERSIONS[-1])
    assert report.problems, report
    if helm_binary() is not None:
        # helm-sdkpy's report drops the error text (its Err serialises as {}); the CLI says.
        assert any("/watch/scope" in p for p in report.problems), report


# -- helm template (the real binary only) ----------------------------------------------------------

needs_helm_binary = pytest.mark.skipif(
    helm_binary() is None, reason="no real Helm binary: `make cluster-bins` builds it"
)


@needs_helm_binary
def test_helm_template_renders_what_helm_sdkpy_installed(release: Release, tmp_path: Path) -> None:
    # Two Helm builds (the CLI from the pinned module, helm-sdkpy's library) must render the
    # same manifests: a difference would mean the checks test something users never install.
    result = helm_template(
        release.name, release.namespace, release.values, tmp_path, KUBERNETES_VERSIONS[-1]
    )
    assert result.returncode == 0, result.stderr
    assert manifest_objects({"manifest": result.stdout}) == release.rendered


@needs_helm_binary
@pytest.mark.parametrize("values", list(VALUE_SETS))
@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_helm_template_output_validates_for_each_supported_kubernetes(
    values: str, version: str, tmp_path: Path
) -> None:
    result = helm_template("t", "t", VALUE_SETS[values], tmp_path, version)
    assert result.returncode == 0, result.stderr
    for obj in manifest_objects({"manifest": result.stdout}):
        if obj["apiVersion"].startswith("monitoring.coreos.com/"):
            jsonschema.validate(obj["spec"], MONITORING_SPEC_SCHEMAS[obj["kind"]])
        else:
            kubernetes_validate.validate(obj, version, strict=True)


@needs_helm_binary
def test_helm_template_refuses_a_kubernetes_older_than_the_charts_kube_version(
    tmp_path: Path,
) -> None:
    result = helm_template("t", "t", {}, tmp_path, "1.24.0")
    assert result.returncode != 0
    assert "incompatible with Kubernetes v1.24.0" in result.stderr, result.stderr


# -- what was installed ----------------------------------------------------------------------------


def test_helm_records_the_release_as_a_secret_in_its_namespace(
    cluster: Cluster, release: Release
) -> None:
    record = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": f"sh.helm.release.v1.{release.name}.v1"},
    }
    secret = cluster.api.get(record, release.namespace)
    assert secret["type"] == "helm.sh/release.v1"
    assert secret["metadata"]["labels"]["status"] == "deployed"


def test_every_rendered_object_was_installed(release: Release) -> None:
    rendered = {
        (o["kind"], o["metadata"]["name"], o["metadata"].get("namespace")) for o in release.rendered
    }
    installed = {
        (o["kind"], o["metadata"]["name"], o["metadata"].get("namespace"))
        for o in release.installed
    }
    assert rendered == installed
    for obj in release.installed:
        assert obj["metadata"]["labels"]["app.kubernetes.io/instance"] == release.name


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_installed_objects_validate_against_the_kubernetes_schemas(
    release: Release, version: str
) -> None:
    for obj in release.installed:
        if obj["apiVersion"].startswith("monitoring.coreos.com/"):
            jsonschema.validate(obj["spec"], MONITORING_SPEC_SCHEMAS[obj["kind"]])
        else:
            kubernetes_validate.validate(_without_server_fields(obj), version, strict=True)


def _without_server_fields(obj: Mapping[str, Any]) -> dict[str, Any]:
    # Server-populated metadata validates too, but status is not part of what the chart sets.
    return {k: v for k, v in obj.items() if k != "status"}


def _render(values: Mapping[str, Any], tmp_path: Path) -> list[dict[str, Any]]:
    result = helm_template("r", "acm-sync", values, tmp_path, KUBERNETES_VERSIONS[-1])
    assert result.returncode == 0, result.stderr
    return manifest_objects({"manifest": result.stdout})


@needs_helm_binary
def test_the_crds_render_as_the_source_crds_with_labels_and_keep(tmp_path: Path) -> None:
    rendered = _render({}, tmp_path)
    crds = {o["metadata"]["name"]: o for o in rendered if o["kind"] == "CustomResourceDefinition"}
    source = {c["metadata"]["name"]: c for c in crd_objects()}
    assert crds.keys() == source.keys()
    for name, crd in crds.items():
        meta = crd["metadata"]
        assert meta["annotations"] == {"helm.sh/resource-policy": "keep"}
        assert meta["labels"]["app.kubernetes.io/managed-by"] == "Helm"
        assert source[name]["metadata"]["labels"].items() <= meta["labels"].items()
        content = {k: v for k, v in crd.items() if k != "metadata"}
        expected = {k: v for k, v in source[name].items() if k != "metadata"}
        assert content == expected, f"{name}: the template changed the CRD's content"
    unkept = _render({"crds": {"keep": False}}, tmp_path)
    assert all(
        "annotations" not in o["metadata"]
        for o in unkept
        if o["kind"] == "CustomResourceDefinition"
    )
    assert not [
        o
        for o in _render({"crds": {"install": False}}, tmp_path)
        if o["kind"] == "CustomResourceDefinition"
    ]


def test_the_chart_installs_the_acmcertificate_crd_from_crds(
    cluster: Cluster, default_release: Release
) -> None:
    for crd in crd_objects():
        installed = cluster.api.get(crd)
        assert installed["spec"]["names"] == {**installed["spec"]["names"], **crd["spec"]["names"]}
        assert [v["name"] for v in installed["spec"]["versions"]] == [
            v["name"] for v in crd["spec"]["versions"]
        ]
        assert installed["spec"]["versions"][0]["schema"] == crd["spec"]["versions"][0]["schema"]
        kubernetes_validate.validate(
            _without_server_fields(installed), KUBERNETES_VERSIONS[-1], strict=True
        )


# -- security --------------------------------------------------------------------------------------


def test_the_pod_satisfies_the_restricted_pod_security_standard(release: Release) -> None:
    assert restricted_violations(release.pod_spec) == []


def test_the_restricted_check_does_catch_a_privileged_pod(default_release: Release) -> None:
    pod = copy.deepcopy(default_release.pod_spec)
    pod["hostNetwork"] = True
    container = pod["containers"][0]
    container["securityContext"] = {"privileged": True, "capabilities": {"add": ["SYS_ADMIN"]}}
    pod["volumes"].append({"name": "host", "hostPath": {"path": "/"}})
    problems = restricted_violations(pod)
    for expected in ("hostNetwork", "privileged", "SYS_ADMIN", "hostPath", "writable", "ALL"):
        assert any(expected in p for p in problems), (expected, problems)


def test_no_installed_role_grants_more_than_read_on_secrets(release: Release) -> None:
    roles = release.all("ClusterRole", "Role", targets_rbac=True)
    assert roles
    assert secret_write_grants(roles) == []
    assert wildcard_rules(roles) == []


def test_the_secret_check_does_catch_a_write_grant() -> None:
    role = {
        "kind": "ClusterRole",
        "metadata": {"name": "bad"},
        "rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "patch"]}],
    }
    assert secret_write_grants([role]) == ["ClusterRole bad: ['patch']"]


def _rules_for(role: Mapping[str, Any], group: str, resource: str) -> set[str]:
    return {
        verb
        for rule in role.get("rules") or []
        if group in rule.get("apiGroups", []) and resource in rule.get("resources", [])
        for verb in rule["verbs"]
    }


def test_cluster_scope_grants_one_cluster_role_for_everything(default_release: Release) -> None:
    role = default_release.one("ClusterRole")
    assert _rules_for(role, "", "secrets") == {"get", "list", "watch"}
    # create/delete: annotation mode generates AcmCertificates for annotated Secrets.
    assert _rules_for(role, "acmsync.io", "acmcertificates") == {
        "get",
        "list",
        "watch",
        "patch",
        "update",
        "create",
        "delete",
    }
    assert "patch" in _rules_for(role, "acmsync.io", "acmcertificates/status")
    assert _rules_for(role, "", "events") == {"create", "patch"}
    # No clusterId value: the operator reads kube-system's uid, and only that namespace.
    kube_system = [r for r in role["rules"] if "namespaces" in r.get("resources", [])]
    assert kube_system == [
        {
            "apiGroups": [""],
            "resources": ["namespaces"],
            "resourceNames": ["kube-system"],
            "verbs": ["get"],
        }
    ]
    binding = default_release.one("ClusterRoleBinding")
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
    assert binding["subjects"] == [
        {
            "kind": "ServiceAccount",
            "name": default_release.one("ServiceAccount")["metadata"]["name"],
            "namespace": "acm-sync",
        }
    ]
    assert not default_release.all("Role") or all(
        r["metadata"]["name"].endswith("-leader-election") for r in default_release.all("Role")
    )


def test_namespaces_scope_grants_roles_only_in_the_watched_namespaces(
    custom_release: Release,
) -> None:
    watched = CUSTOM_VALUES["watch"]["namespaces"]
    roles = [
        r
        for r in custom_release.all("Role")
        if not r["metadata"]["name"].endswith("-leader-election")
    ]
    assert sorted(r["metadata"]["namespace"] for r in roles) == sorted(watched)
    for role in roles:
        assert _rules_for(role, "", "secrets") == {"get", "list", "watch"}
        assert "patch" in _rules_for(role, "acmsync.io", "acmcertificates")
    bindings = [
        b
        for b in custom_release.all("RoleBinding")
        if not b["metadata"]["name"].endswith("-leader-election")
    ]
    assert sorted(b["metadata"]["namespace"] for b in bindings) == sorted(watched)
    # With clusterId set, namespaced mode creates nothing cluster-scoped at all.
    assert custom_release.all("ClusterRole", "ClusterRoleBinding") == []


def test_acmtargets_get_a_cluster_role_in_either_scope(
    default_release: Release, custom_release: Release
) -> None:
    for release in (default_release, custom_release):
        (role,) = [r for r in release.all("ClusterRole", targets_rbac=True) if _targets_rbac(r)]
        assert _rules_for(role, "acmsync.io", "acmtargets") == {"get", "list", "watch"}
        assert _rules_for(role, "acmsync.io", "acmtargets/status") == {"get", "patch"}
        # A namespace's labels are read with a GET when needed: no list, no watch.
        assert _rules_for(role, "", "namespaces") == {"get"}
        assert _rules_for(role, "", "secrets") == set()


def test_no_role_may_list_or_watch_namespaces(release: Release) -> None:
    for role in release.all("ClusterRole", "Role", targets_rbac=True):
        assert _rules_for(role, "", "namespaces") <= {"get"}, role["metadata"]["name"]


def test_annotation_selector_mode_may_read_every_namespaces_labels(
    shared_release: Release,
) -> None:
    rules = [
        r for r in shared_release.one("ClusterRole")["rules"] if "namespaces" in r["resources"]
    ]
    assert rules == [{"apiGroups": [""], "resources": ["namespaces"], "verbs": ["get"]}]


def test_namespaces_scope_with_annotation_selector_gets_namespace_reads_only(
    cluster: Cluster,
) -> None:
    values = {
        "watch": {"scope": "namespaces", "namespaces": ["team-a"]},
        "clusterId": "c1",
        "targets": {"enabled": False},
        "annotationMode": "selector",
        "annotationNamespaceSelector": "acmsync.io/annotations=allowed",
    }
    release = cluster.install("labels", "labels", values)
    (role,) = release.all("ClusterRole")
    assert role["rules"] == [{"apiGroups": [""], "resources": ["namespaces"], "verbs": ["get"]}]
    assert release.one("ClusterRoleBinding")["roleRef"]["name"] == role["metadata"]["name"]
    cluster.helm.uninstall("labels", "labels")


def test_namespaces_scope_without_cluster_id_may_read_kube_system_only(cluster: Cluster) -> None:
    # targets.enabled: false also leaves out the AcmTarget ClusterRole (and passes the flag).
    release = cluster.install("narrow", "narrow", NARROW_VALUES)
    assert [r for r in release.all("ClusterRole", targets_rbac=True) if _targets_rbac(r)] == []
    assert "--disable-targets" in release.args
    (role,) = release.all("ClusterRole")
    assert role["rules"] == [
        {
            "apiGroups": [""],
            "resources": ["namespaces"],
            "resourceNames": ["kube-system"],
            "verbs": ["get"],
        }
    ]
    assert release.one("ClusterRoleBinding")["roleRef"]["name"] == role["metadata"]["name"]
    cluster.helm.uninstall("narrow", "narrow")


def test_leader_election_has_a_lease_role_in_the_release_namespace(release: Release) -> None:
    role = release.one("Role", f"{release.one('Deployment')['metadata']['name']}-leader-election")
    assert role["metadata"]["namespace"] == release.namespace
    assert {"get", "create", "update"} <= _rules_for(role, "coordination.k8s.io", "leases")
    assert "--leader-election" in release.args
    assert f"--leader-election-namespace={release.namespace}" in release.args


# -- the operator's configuration ------------------------------------------------------------------


def test_default_values_run_cluster_wide_with_json_logs(default_release: Release) -> None:
    args = default_release.args
    assert "--all-namespaces" in args
    assert not any(
        a.startswith(("--namespace=", "--cluster-id", "--allowed-regions")) for a in args
    )
    assert "--disable-adoption" not in args
    assert "--adoption=tagged" in args
    assert "--annotation-mode=all" in args
    assert not any(a.startswith("--annotation-namespace-selector") for a in args)
    assert not any(a.startswith(("--disable-targets", "--allowed-role-arns")) for a in args)
    assert "--log-format=json" in args
    assert default_release.one("Deployment")["spec"]["replicas"] == 1


def test_custom_values_reach_the_operator_flags(custom_release: Release) -> None:
    args = custom_release.args
    assert "--all-namespaces" not in args
    assert [a for a in args if a.startswith("--namespace=")] == [
        "--namespace=team-a",
        "--namespace=team-b",
    ]
    for flag in (
        "--cluster-id=prod-eu-1",
        "--allowed-regions=eu-west-1,us-east-1",
        # adoption.enabled: false, the older value, still turns adoption off.
        "--adoption=off",
        f"--allowed-role-arns=arn:aws:iam::*:role/acm-sync-importer,{ROLE_ARN}",
        "--expiry-warning-days=21",
        "--log-format=text",
        "--log-level=DEBUG",
    ):
        assert flag in args
    container = custom_release.pod_spec["containers"][0]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["AWS_REGION"] == "eu-west-1"
    assert env["AWS_STS_REGIONAL_ENDPOINTS"] == "regional"
    assert container["image"].endswith("@sha256:" + "a" * 64)
    template = custom_release.one("Deployment")["spec"]["template"]
    assert template["metadata"]["annotations"] == {"example.com/team": "platform"}
    assert custom_release.pod_spec["nodeSelector"] == {"kubernetes.io/os": "linux"}


def _plain_env(release: Release) -> dict[str, str]:
    container = release.pod_spec["containers"][0]
    return {e["name"]: e["value"] for e in container["env"] if "value" in e}


def test_the_operator_accepts_the_default_args(default_release: Release) -> None:
    config = operator_config(default_release.args, _plain_env(default_release))
    assert config["namespaces"] == []
    assert config["cluster_id"] is None
    assert config["adoption_enabled"] is True
    assert config["adoption"] == "tagged"
    assert config["annotation_mode"] == "all"
    assert config["leader_election"] is True
    assert config["leader_election_namespace"] == "acm-sync"
    assert config["log_format"] == "json"
    assert (
        config["metrics_port"]
        == default_release.pod_spec["containers"][0]["ports"][0]["containerPort"]
    )


def test_the_operator_reads_the_custom_values_from_its_args(custom_release: Release) -> None:
    config = operator_config(custom_release.args, _plain_env(custom_release))
    assert config["namespaces"] == ["team-a", "team-b"]
    assert config["cluster_id"] == "prod-eu-1"
    assert config["allowed_regions"] == ["eu-west-1", "us-east-1"]
    assert config["adoption_enabled"] is False
    assert config["adoption"] == "off"
    assert config["expiry_warning_days"] == 21
    assert config["log_level"] == "DEBUG"
    assert config["leader_election_namespace"] == "platform"


def test_the_operator_reads_the_shared_cluster_settings_from_its_args(
    shared_release: Release,
) -> None:
    config = operator_config(shared_release.args, _plain_env(shared_release))
    assert config["adoption"] == "any"
    assert config["annotation_mode"] == "selector"
    # Spaces, commas and parentheses reach the operator as one argument, unchanged.
    assert config["annotation_namespace_selector"] == SELECTOR


def test_irsa_role_annotation_is_on_the_service_account(custom_release: Release) -> None:
    account = custom_release.one("ServiceAccount")
    assert account["metadata"]["annotations"]["eks.amazonaws.com/role-arn"] == ROLE_ARN
    assert custom_release.pod_spec["serviceAccountName"] == account["metadata"]["name"]


IRSA_TOKEN_DIR = "/var/run/secrets/eks.amazonaws.com/serviceaccount"


def test_self_managed_irsa_renders_what_the_eks_webhook_injects(
    shared_release: Release, default_release: Release, custom_release: Release
) -> None:
    pod = shared_release.pod_spec
    container = pod["containers"][0]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["AWS_ROLE_ARN"] == SELF_MANAGED_ROLE_ARN
    assert env["AWS_WEB_IDENTITY_TOKEN_FILE"] == f"{IRSA_TOKEN_DIR}/token"
    (mount,) = [m for m in container["volumeMounts"] if m["mountPath"] == IRSA_TOKEN_DIR]
    assert mount["readOnly"] is True
    (volume,) = [v for v in pod["volumes"] if v["name"] == mount["name"]]
    assert volume["projected"]["sources"] == [
        {
            "serviceAccountToken": {
                "audience": "sts.amazonaws.com",
                "expirationSeconds": 86400,
                "path": "token",
            }
        }
    ]
    assert "eks.amazonaws.com/role-arn" not in (
        shared_release.one("ServiceAccount")["metadata"].get("annotations") or {}
    )
    # Off by default, and off with the annotation: there EKS's webhook injects it.
    for other in (default_release, custom_release):
        container = other.pod_spec["containers"][0]
        assert not {"AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE"} & {
            e["name"] for e in container["env"]
        }
        assert all(m["mountPath"] != IRSA_TOKEN_DIR for m in container["volumeMounts"])


def test_two_replicas_come_with_a_disruption_budget_keeping_one(custom_release: Release) -> None:
    deployment = custom_release.one("Deployment")
    assert deployment["spec"]["replicas"] == 2
    pdb = custom_release.one("PodDisruptionBudget")
    assert pdb["spec"]["maxUnavailable"] == 1
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert pdb["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()


def test_the_metrics_service_and_probes_reach_the_metrics_port(release: Release) -> None:
    container = release.pod_spec["containers"][0]
    (port,) = container["ports"]
    service = release.one("Service")
    (service_port,) = service["spec"]["ports"]
    assert service_port["targetPort"] == port["name"]
    pod_labels = release.one("Deployment")["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()
    for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        assert container[probe]["httpGet"]["path"] == path
        assert container[probe]["httpGet"]["port"] == port["name"]


def test_monitoring_objects_only_when_asked(
    default_release: Release, custom_release: Release
) -> None:
    assert default_release.all("ServiceMonitor", "PrometheusRule") == []
    monitor = custom_release.one("ServiceMonitor")
    service = custom_release.one("Service")
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert (
        monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    )
    assert monitor["spec"]["endpoints"][0]["port"] == service["spec"]["ports"][0]["name"]
    assert monitor["spec"]["namespaceSelector"]["matchNames"] == [custom_release.namespace]


def test_the_grafana_dashboard_only_when_asked(
    default_release: Release, custom_release: Release
) -> None:
    assert default_release.all("ConfigMap") == []
    dashboard = custom_release.one("ConfigMap")
    assert dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert dashboard["metadata"]["namespace"] == custom_release.namespace
    panels = json.loads(dashboard["data"]["acm-sync.json"])["panels"]
    assert any("acmsync_certificate_in_sync" in t["expr"] for p in panels for t in p["targets"])


def test_alerts_cover_expiry_failing_syncs_quota_and_an_absent_operator(
    custom_release: Release,
) -> None:
    rules = custom_release.one("PrometheusRule")["spec"]["groups"][0]["rules"]
    by_name = {r["alert"]: r for r in rules}
    assert set(by_name) == {
        "AcmSyncCertificateExpiring",
        "AcmSyncSyncFailing",
        "AcmSyncQuotaExceeded",
        "AcmSyncOperatorAbsent",
        "AcmSyncNoLeader",
    }
    # The release's own job and namespace: another installation's operator does not count.
    service = custom_release.one("Service")["metadata"]["name"]
    selector = f'job="{service}", namespace="{custom_release.namespace}"'
    assert f"up{{{selector}}} == 1" in by_name["AcmSyncOperatorAbsent"]["expr"]
    assert f"acmsync_leader{{{selector}}}" in by_name["AcmSyncNoLeader"]["expr"]
    assert "< 864000" in by_name["AcmSyncCertificateExpiring"]["expr"]  # expiringDays: 10
    assert (
        "{{ $labels.namespace }}" in by_name["AcmSyncCertificateExpiring"]["annotations"]["summary"]
    )
    assert "acmsync_quota_exceeded_total" in by_name["AcmSyncQuotaExceeded"]["expr"]


def test_edit_and_view_cover_acmcertificates_through_aggregated_roles(
    default_release: Release,
) -> None:
    roles = default_release.all("ClusterRole", user_roles=True)
    aggregated = {
        label.rsplit("-", 1)[1]: role
        for role in roles
        for label, value in (role["metadata"].get("labels") or {}).items()
        if label.startswith("rbac.authorization.k8s.io/aggregate-to-") and value == "true"
    }
    assert set(aggregated) == {"admin", "edit", "view"}

    def grants(role: Mapping[str, Any], resource: str) -> set[str]:
        return {
            verb
            for rule in role["rules"]
            if "acmsync.io" in rule["apiGroups"] and resource in rule["resources"]
            for verb in rule["verbs"]
        }

    assert {"create", "patch", "update", "delete"} <= grants(aggregated["edit"], "acmcertificates")
    assert aggregated["admin"] is aggregated["edit"]
    # AcmTargets open other AWS accounts: readable by view, never writable through edit.
    assert grants(aggregated["edit"], "acmtargets") == set()
    for resource in ("acmcertificates", "acmtargets"):
        assert grants(aggregated["view"], resource) == {"get", "list", "watch"}


def test_the_aggregated_roles_can_be_turned_off(custom_release: Release) -> None:
    assert custom_release.values["aggregateToDefaultRoles"] is False
    assert [o for o in custom_release.installed if _user_roles(o)] == []


# -- network policy ------------------------------------------------------------------------------


def test_no_network_policy_unless_asked(default_release: Release, custom_release: Release) -> None:
    assert default_release.all("NetworkPolicy") == []
    assert custom_release.all("NetworkPolicy") == []


def _peers(rule: Mapping[str, Any], field: str) -> list[dict[str, Any]]:
    peers: list[dict[str, Any]] = rule.get(field) or []
    return peers


def _ports(rule: Mapping[str, Any]) -> set[tuple[Any, str]]:
    return {(p["port"], p.get("protocol", "TCP")) for p in rule.get("ports") or []}


def test_the_network_policy_isolates_the_operator_pod(shared_release: Release) -> None:
    policy = shared_release.one("NetworkPolicy")
    spec = policy["spec"]
    pod_labels = shared_release.one("Deployment")["spec"]["template"]["metadata"]["labels"]
    assert spec["podSelector"]["matchLabels"].items() <= pod_labels.items()
    assert sorted(spec["policyTypes"]) == ["Egress", "Ingress"]
    # Ingress: the metrics port only, from the monitoring namespace only.
    (ingress,) = spec["ingress"]
    assert _ports(ingress) == {("metrics", "TCP")}
    assert _peers(ingress, "from") == [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}
    ]
    container = shared_release.pod_spec["containers"][0]
    assert [p["name"] for p in container["ports"]] == ["metrics"]
    assert container["readinessProbe"]["httpGet"]["port"] == "metrics"


def test_the_network_policy_allows_dns_the_api_server_and_aws_only(
    shared_release: Release,
) -> None:
    egress = shared_release.one("NetworkPolicy")["spec"]["egress"]
    by_ports = {frozenset(_ports(rule)): _peers(rule, "to") for rule in egress}
    assert by_ports == {
        frozenset({(53, "UDP"), (53, "TCP")}): [],
        frozenset({(6443, "TCP")}): [{"ipBlock": {"cidr": c}} for c in API_SERVER_CIDRS],
        frozenset({(443, "TCP")}): [{"ipBlock": {"cidr": "10.0.128.0/20"}}],
        frozenset({(80, "TCP")}): [{"ipBlock": {"cidr": "169.254.170.23/32"}}],
        frozenset({(3128, "TCP")}): [{"ipBlock": {"cidr": "10.0.200.10/32"}}],
    }


def test_without_a_metrics_selector_the_network_policy_admits_no_ingress(cluster: Cluster) -> None:
    values = {"networkPolicy": {"enabled": True, "apiServer": {"cidrs": ["10.0.0.1/32"]}}}
    release = cluster.install("closed", "closed", values)
    spec = release.one("NetworkPolicy")["spec"]
    assert "Ingress" in spec["policyTypes"]
    assert not spec.get("ingress")
    kubernetes_validate.validate(
        _without_server_fields(release.one("NetworkPolicy")), KUBERNETES_VERSIONS[0], strict=True
    )
    # The default AWS rule: HTTPS anywhere (AWS endpoints have no fixed addresses).
    assert {
        "to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}],
        "ports": [{"port": 443, "protocol": "TCP"}],
    } in spec["egress"]
    cluster.helm.uninstall("closed", "closed")


# -- values that must be refused -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"replicaCount": 2, "leaderElection": {"enabled": False}}, "leaderElection"),
        ({"watch": {"scope": "namespaces", "namespaces": []}}, "namespaces"),
        ({"watch": {"scope": "everywhere"}}, "scope"),
        ({"replicas": 2}, "replicas"),
        ({"logging": {"format": "xml"}}, "format"),
        ({"aws": {"allowedRegions": ["EU-WEST-1"]}}, "allowedRegions"),
        ({"adoption": {"mode": "some"}}, "mode"),
        ({"annotationMode": "selector"}, "annotationNamespaceSelector"),
        ({"annotationNamespaceSelector": "a=b"}, "annotationMode"),
        ({"networkPolicy": {"enabled": True}}, "apiServer.cidrs"),
        (
            {
                "networkPolicy": {"enabled": True, "apiServer": {"cidrs": ["10.0.0.1/32"]}},
                "metrics": {"serviceMonitor": {"enabled": True}},
            },
            "metricsNamespaceSelector",
        ),
        ({"networkPolicy": {"aws": {"cidrs": []}}}, "cidrs"),
        (
            {
                "aws": {"webIdentity": {"roleArn": ROLE_ARN}},
                "serviceAccount": {"annotations": {"eks.amazonaws.com/role-arn": ROLE_ARN}},
            },
            "both ask for IRSA",
        ),
        ({"aws": {"webIdentity": {"roleArn": "acm-sync"}}}, "roleArn"),
        ({"aws": {"webIdentity": {"roleArn": ROLE_ARN, "expirationSeconds": 60}}}, "expiration"),
    ],
    ids=[
        "two-active-operators",
        "no-namespaces",
        "unknown-scope",
        "typo",
        "log-format",
        "region",
        "adoption-mode",
        "selector-mode-without-selector",
        "selector-without-selector-mode",
        "network-policy-without-api-server",
        "network-policy-blocking-prometheus",
        "network-policy-aws-nowhere",
        "irsa-twice",
        "web-identity-not-a-role-arn",
        "web-identity-token-below-the-kubelets-minimum",
    ],
)
def test_bad_values_are_refused_before_anything_is_installed(
    cluster: Cluster, values: dict[str, Any], message: str, tmp_path: Path
) -> None:
    if helm_binary() is not None:
        refused = helm_template("refused", "refused", values, tmp_path, KUBERNETES_VERSIONS[-1])
        assert refused.returncode != 0
        assert message in refused.stderr, refused.stderr
    with pytest.raises(helm_sdkpy.InstallError, match=message):
        cluster.helm.install("refused", "refused", values)
    assert not cluster.api.exists(
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "refused-acm-sync"}},
        "refused",
    )


def test_values_of_a_release_older_than_the_shared_cluster_settings_still_render(
    cluster: Cluster,
) -> None:
    # `helm upgrade --reuse-values` renders with the previous release's values, which lack the
    # keys added since; a null value removes a key the same way.
    missing = {
        "adoption": {"mode": None},
        "annotationMode": None,
        "annotationNamespaceSelector": None,
        "networkPolicy": None,
    }
    release = cluster.install("older", "older", missing)
    assert "--adoption=tagged" in release.args
    assert "--annotation-mode=all" in release.args
    assert release.all("NetworkPolicy") == []
    cluster.helm.uninstall("older", "older")


# -- upgrade and uninstall -------------------------------------------------------------------------


def test_upgrading_to_namespaced_scope_removes_the_cluster_wide_access(cluster: Cluster) -> None:
    before = cluster.install("moving", "moving", {})
    cluster_role = before.one("ClusterRole")
    assert _rules_for(cluster_role, "", "secrets") == {"get", "list", "watch"}
    # The CRDs stay with whichever release installed them.
    upgraded = {**UPGRADED_VALUES, **{k: v for k, v in before.values.items() if k == "crds"}}
    after = manifest_objects(cluster.helm.upgrade("moving", "moving", upgraded))
    assert not cluster.api.exists(cluster_role)
    assert not cluster.api.exists(before.one("ClusterRoleBinding"))
    roles = [o for o in after if o["kind"] == "Role" and o["metadata"]["namespace"] != "moving"]
    assert sorted(r["metadata"]["namespace"] for r in roles) == ["team-a", "team-b"]
    assert all(cluster.api.exists(r) for r in roles)
    assert cluster.api.get(before.one("Deployment"), "moving")["spec"]["replicas"] == 2
    cluster.helm.uninstall("moving", "moving")


def test_uninstall_keeps_the_crd_and_the_acmcertificates(cluster: Cluster) -> None:
    release = cluster.install("scratch", "scratch", {})
    certificate = {
        "apiVersion": "acmsync.io/v1alpha1",
        "kind": "AcmCertificate",
        "metadata": {"name": "www", "namespace": "scratch"},
        "spec": {"secretName": "www-tls", "regions": ["eu-west-1"]},
    }
    cluster.api.create(certificate)
    cluster.helm.uninstall("scratch", "scratch")
    deployment = release.one("Deployment")
    assert not cluster.api.exists(deployment, "scratch")
    assert not cluster.api.exists(release.one("ClusterRole"))
    for crd in crd_objects():
        assert cluster.api.exists(crd)
    assert cluster.api.exists(certificate)


def test_the_pod_gets_no_service_link_variables(release: Release) -> None:
    # The kubelet would otherwise define <SERVICE>_PORT=tcp://... for every Service in the
    # namespace, the chart's own acm-sync-metrics among them.
    assert release.pod_spec["enableServiceLinks"] is False
    assert any(a.startswith("--metrics-bind-address=:") for a in release.args)
