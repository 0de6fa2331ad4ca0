"""``helm install`` of the chart by the real Helm binary into a real cluster, in a namespace that
enforces the `restricted` Pod Security Standard.

There is no kubelet or scheduler, so the Pods stay Pending: what is checked is that the
Deployment's ReplicaSet gets its Pods past PodSecurity admission (Pod Security runs on Pods,
not on Deployments, so a violation shows only as a ReplicaSet FailedCreate). A negative control
installs the chart with a securityContext that breaks `restricted` and expects exactly that
refusal, proving the positive check can fail.
"""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client

from tests.cluster_backends import RealApi
from tests.kube.kubekit import new_client
from tests.operator.opkit import wait_for
from tests.realcluster.realkit import CHART, cluster_bins, helm, kubectl

pytestmark = [pytest.mark.real_cluster, pytest.mark.integration]
MONITORING_CRDS = Path(__file__).with_name("monitoring-crds.yaml")
VIOLATION = "violates PodSecurity"
# What the API server answers a Deployment whose Pod template would be refused.
WARNING = "would violate PodSecurity"
ADMISSION_TIMEOUT = 60.0
RESTRICTED_LABELS = {
    "pod-security.kubernetes.io/enforce": "restricted",
    "pod-security.kubernetes.io/enforce-version": "latest",
}


@dataclass
class Cluster:
    """The shared real cluster as this module uses it: kubectl, Helm and a typed client."""

    api: RealApi
    tmp: Path

    def __post_init__(self) -> None:
        self.client = new_client(self.api.kubeconfig)
        self.core = client.CoreV1Api(self.client)
        self.apps = client.AppsV1Api(self.client)

    def kubectl(self, *args: str, stdin: str | None = None) -> str:
        return kubectl(self.api, self.tmp, *args, stdin=stdin)

    def helm(self, *args: str) -> str:
        return helm(*args, kubeconfig=self.api.kubeconfig, home=self.tmp / "helm")

    def helm_install(self, release: str, namespace: str, *values: str) -> str:
        """``helm install --wait=false`` (nothing ever becomes ready without a kubelet); Helm's
        stderr, which carries the API server's warnings."""
        # The test bed applied the CRDs from crds/ before any release: like a second release,
        # these leave them alone (Helm refuses to adopt objects it did not create).
        sets = [arg for value in ("crds.install=false", *values) for arg in ("--set", value)]
        home = self.tmp / "helm"
        result = subprocess.run(
            [
                *(str(cluster_bins().path("helm")), "install", release, str(CHART)),
                *("--namespace", namespace, "--wait=false", *sets),
            ],
            env={
                **os.environ,
                "KUBECONFIG": str(self.api.kubeconfig),
                "HELM_CACHE_HOME": str(home / "cache"),
                "HELM_CONFIG_HOME": str(home / "config"),
                "HELM_DATA_HOME": str(home / "data"),
            },
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, f"helm install {release} failed:\n{result.stderr}"
        return result.stderr

    def as_dict(self, model: Any) -> dict[str, Any]:
        # The client leaves sanitize_for_serialization unannotated; a model gives a dict.
        found: dict[str, Any] = self.client.sanitize_for_serialization(model)  # type: ignore[no-untyped-call]
        return found

    def pods(self, namespace: str, release: str) -> list[dict[str, Any]]:
        selector = f"app.kubernetes.io/instance={release}"
        found = self.core.list_namespaced_pod(namespace, label_selector=selector)
        return [self.as_dict(p) for p in found.items]

    def replica_sets(self, namespace: str, release: str) -> list[dict[str, Any]]:
        selector = f"app.kubernetes.io/instance={release}"
        found = self.apps.list_namespaced_replica_set(namespace, label_selector=selector)
        return [self.as_dict(r) for r in found.items]

    def pod_security_refusals(self, namespace: str, release: str) -> list[str]:
        """Every PodSecurity refusal the release's ReplicaSets report, as a ReplicaFailure
        condition or a FailedCreate event."""
        refusals: list[str] = []
        names = set()
        for rs in self.replica_sets(namespace, release):
            names.add(rs["metadata"]["name"])
            for cond in (rs.get("status") or {}).get("conditions") or []:
                if cond["type"] == "ReplicaFailure" and VIOLATION in cond.get("message", ""):
                    refusals.append(f"condition: {cond['message']}")
        events = self.core.list_namespaced_event(
            namespace, field_selector="involvedObject.kind=ReplicaSet,reason=FailedCreate"
        )
        for event in events.items:
            if event.involved_object.name in names and VIOLATION in (event.message or ""):
                refusals.append(f"event: {event.message}")
        return refusals

    def restricted_namespace(self, name: str) -> None:
        namespace = {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": name, "labels": RESTRICTED_LABELS},
        }
        self.kubectl("apply", "-f", "-", stdin=json.dumps(namespace))


@pytest.fixture(scope="module")
def cluster(real_backend: RealApi, tmp_path_factory: pytest.TempPathFactory) -> Cluster:
    return Cluster(real_backend, tmp_path_factory.mktemp("helm-install"))


@pytest.fixture(scope="module")
def namespace(cluster: Cluster) -> Iterator[str]:
    """A fresh namespace enforcing `restricted` (latest), shared by this module's releases."""
    name = f"restricted-{uuid.uuid4().hex[:6]}"
    cluster.restricted_namespace(name)
    yield name
    cluster.kubectl("delete", "namespace", name, "--wait=false")


def _wait_admitted(cluster: Cluster, namespace: str, release: str, replicas: int) -> None:
    """Until the release has ``replicas`` Pods; fails on any PodSecurity refusal meanwhile."""

    def admitted() -> bool:
        refusals = cluster.pod_security_refusals(namespace, release)
        assert not refusals, refusals
        return len(cluster.pods(namespace, release)) == replicas

    wait_for(admitted, timeout=ADMISSION_TIMEOUT, interval=0.5, what=f"{replicas} pod(s)")
    # The count is reached: the ReplicaSet must not be trying to create more (and being refused).
    assert cluster.pod_security_refusals(namespace, release) == []
    pods = cluster.pods(namespace, release)
    assert len(pods) == replicas
    owners = {rs["metadata"]["name"] for rs in cluster.replica_sets(namespace, release)}
    for pod in pods:
        (owner,) = pod["metadata"]["ownerReferences"]
        assert owner["kind"] == "ReplicaSet", owner
        assert owner["name"] in owners, (owner, owners)
        # No scheduler or kubelet: admitted, never bound. What admission stored is the
        # chart's restricted securityContext (nothing mutated it away).
        assert pod["status"]["phase"] == "Pending"
        assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
        assert pod["spec"]["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}


def _uninstall(cluster: Cluster, namespace: str, release: str) -> None:
    cluster.helm("uninstall", release, "--namespace", namespace)
    assert release not in cluster.helm("list", "--namespace", namespace, "--short").split()
    # Background cascading deletion by the real garbage collector; unbound Pods go at once.
    wait_for(
        lambda: (
            not cluster.pods(namespace, release) and not cluster.replica_sets(namespace, release)
        ),
        timeout=ADMISSION_TIMEOUT,
        interval=0.5,
        what="the garbage collector to remove the ReplicaSet and its Pods",
    )


def test_default_values_install_and_pass_restricted_admission(
    cluster: Cluster, namespace: str
) -> None:
    release = f"plain-{uuid.uuid4().hex[:6]}"
    warnings = cluster.helm_install(release, namespace)
    try:
        assert WARNING not in warnings, warnings
        status = json.loads(cluster.helm("status", release, "-n", namespace, "-o", "json"))
        assert status["info"]["status"] == "deployed"
        _wait_admitted(cluster, namespace, release, replicas=1)
    finally:
        _uninstall(cluster, namespace, release)


def test_namespaced_scope_two_replicas_and_monitoring_pass_restricted_admission(
    cluster: Cluster, namespace: str
) -> None:
    suffix = uuid.uuid4().hex[:6]
    release, watched = f"scoped-{suffix}", [f"team-a-{suffix}", f"team-b-{suffix}"]
    cluster.kubectl("apply", "-f", str(MONITORING_CRDS))
    for crd in ("servicemonitors", "prometheusrules"):
        cluster.kubectl("wait", "--for=condition=Established", f"crd/{crd}.monitoring.coreos.com")
    for ns in watched:
        cluster.kubectl("create", "namespace", ns)
    warnings = cluster.helm_install(
        release,
        namespace,
        "watch.scope=namespaces",
        f"watch.namespaces={{{','.join(watched)}}}",
        "replicaCount=2",
        "metrics.serviceMonitor.enabled=true",
        "metrics.prometheusRule.enabled=true",
    )
    try:
        assert WARNING not in warnings, warnings
        _wait_admitted(cluster, namespace, release, replicas=2)
        manifest = cluster.helm("get", "manifest", release, "-n", namespace)
        rendered = {d["kind"]: d for d in yaml.safe_load_all(manifest) if d}
        for kind in ("ServiceMonitor", "PrometheusRule"):
            name = rendered[kind]["metadata"]["name"]
            plural = f"{kind.lower()}s.monitoring.coreos.com"
            stored = json.loads(cluster.kubectl("get", plural, name, "-n", namespace, "-o", "json"))
            # The server prunes what a CRD schema does not declare: equal means nothing was.
            assert stored["spec"] == rendered[kind]["spec"], kind
        roles = json.loads(cluster.kubectl("get", "roles", "-A", "-o", "json"))["items"]
        role_namespaces = {
            r["metadata"]["namespace"]
            for r in roles
            if r["metadata"].get("labels", {}).get("app.kubernetes.io/instance") == release
        }
        assert role_namespaces == {*watched, namespace}
    finally:
        _uninstall(cluster, namespace, release)
        for ns in watched:
            cluster.kubectl("delete", "namespace", ns, "--wait=false")


def test_a_securitycontext_that_breaks_restricted_is_refused_at_pod_admission(
    cluster: Cluster, namespace: str
) -> None:
    # The negative control: the same chart, install and checks, with one value that breaks
    # `restricted` (values.schema.json allows any securityContext object).
    release = f"loose-{uuid.uuid4().hex[:6]}"
    warnings = cluster.helm_install(
        release, namespace, "securityContext.allowPrivilegeEscalation=true"
    )
    try:

        def both_reported() -> list[str]:
            # The FailedCreate event comes first; the ReplicaFailure condition with the next
            # status update of the ReplicaSet.
            found = cluster.pod_security_refusals(namespace, release)
            kinds = {r.split(":", 1)[0] for r in found}
            return found if kinds == {"condition", "event"} else []

        refusals = wait_for(
            both_reported,
            timeout=ADMISSION_TIMEOUT,
            interval=0.5,
            what="the ReplicaSet to report the PodSecurity refusal (condition and event)",
        )
        assert any("allowPrivilegeEscalation != false" in r for r in refusals), refusals
        assert any('"restricted:latest"' in r for r in refusals), refusals
        assert cluster.pods(namespace, release) == []
        # The Deployment itself is admitted (enforce applies to Pods), with a warning.
        assert WARNING in warnings, warnings
    finally:
        _uninstall(cluster, namespace, release)
