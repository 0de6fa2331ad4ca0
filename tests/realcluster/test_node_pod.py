"""The operator's image run by a real kubelet: a Pod to completion, then the chart's Deployment.

Runs on the opt-in ``real-node`` backend (tests/cluster_backends.py): the real control plane,
kube-scheduler, and a node (kubelet, containerd, runc, CNI) in namespaces of its own, with the
image ``make image`` built (build/acm-sync-image.tar) loaded into the node's containerd.

    ACM_SYNC_TEST_BACKENDS=real-node .venv/bin/pytest tests/realcluster/test_node_pod.py
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from acm_sync_testbed.emulators.acm.server import AcmEmulator
from tests.cluster_backends import RealApi
from tests.operator.opkit import wait_for
from tests.realcluster.nodekit import RESTRICTED, import_image, real_node_of
from tests.realcluster.realkit import CHART, helm

pytestmark = [pytest.mark.real_node, pytest.mark.integration]
# What `restricted` demands of every container; the chart sets the same.
CONTAINER_SECURITY = {
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
    "runAsNonRoot": True,
    "capabilities": {"drop": ["ALL"]},
    "seccompProfile": {"type": "RuntimeDefault"},
}


def _node(api: RealApi) -> Any:
    return real_node_of(api)


def _cluster(api: RealApi) -> Any:
    return _node(api).cluster


@pytest.fixture(scope="module")
def image(real_node: RealApi) -> str:
    """The operator image's name in the node's containerd (imported from the archive)."""
    return import_image(real_node)


def _namespace(api: RealApi) -> str:
    name = f"node-{uuid.uuid4().hex[:6]}"
    status, body = _cluster(api).request(
        "POST", "/api/v1/namespaces",
        {"apiVersion": "v1", "kind": "Namespace",
         "metadata": {"name": name, "labels": RESTRICTED}},
    )  # fmt: skip
    assert status == 201, body
    return name


def _pod(api: RealApi, namespace: str, name: str) -> dict[str, Any]:
    status, body = _cluster(api).request("GET", f"/api/v1/namespaces/{namespace}/pods/{name}")
    assert status == 200, body
    return dict(body)


def _phase(api: RealApi, namespace: str, name: str) -> str | None:
    phase = (_pod(api, namespace, name).get("status") or {}).get("phase")
    return str(phase) if phase in ("Succeeded", "Failed") else None


def test_node_registers_ready_with_the_control_planes_version(real_node: RealApi) -> None:
    node = _node(real_node).node()
    info = node["status"]["nodeInfo"]
    status, version = _cluster(real_node).request("GET", "/version")
    assert status == 200
    assert info["kubeletVersion"] == version["gitVersion"]
    assert info["containerRuntimeVersion"].startswith("containerd://2.")
    taints = [t["key"] for t in node["spec"].get("taints") or []]
    assert "node.kubernetes.io/not-ready" not in taints


def test_the_kubelets_kernel_settings_stay_inside_the_node(real_node: RealApi) -> None:
    node = _node(real_node)
    # What the kubelet sets on cgroup v1 (pkg/kubelet/cm setupKernelTunables), as it sees them.
    wanted = {"vm/overcommit_memory": "1", "kernel/panic": "10", "kernel/panic_on_oops": "1"}
    seen = {k: node.in_node(f"/proc/sys/{k}").read_text().strip() for k in wanted}
    assert seen == wanted
    host = {k: Path("/proc/sys", k).read_text() for k in node.host_tunables}
    assert host == node.host_tunables


def test_a_pod_of_the_operator_image_runs_to_completion(real_node: RealApi, image: str) -> None:
    namespace = _namespace(real_node)
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "check-help"},
        "spec": {
            "restartPolicy": "Never",
            "containers": [
                {
                    "name": "acm-sync",
                    "image": image,
                    "imagePullPolicy": "Never",
                    # The image's entrypoint is `acm-sync run`.
                    "command": ["/opt/venv/bin/acm-sync", "check", "--help"],
                    "securityContext": CONTAINER_SECURITY,
                }
            ],
        },
    }
    status, body = _cluster(real_node).request("POST", f"/api/v1/namespaces/{namespace}/pods", pod)
    assert status == 201, body
    phase = wait_for(lambda: _phase(real_node, namespace, "check-help"), timeout=120,
                     interval=1, what="the Pod to finish")  # fmt: skip
    log = _node(real_node).pod_log(namespace, "check-help", "acm-sync")
    assert phase == "Succeeded", f"{_pod(real_node, namespace, 'check-help')['status']}\n{log}"
    assert "usage: acm-sync check" in log


@pytest.fixture(scope="module")
def acm() -> Iterator[AcmEmulator]:
    server = AcmEmulator().start()
    try:
        yield server
    finally:
        server.stop()


def test_the_charts_deployment_runs_ready_on_the_node(
    real_node: RealApi,
    image: str,
    acm: AcmEmulator,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    namespace = _namespace(real_node)
    node = _node(real_node)
    host, port = node.expose(acm.port)
    repository, _, tag = image.rpartition(":")
    sets = {
        "image.repository": repository,
        "image.tag": tag,
        "image.pullPolicy": "Never",
        "aws.region": "us-east-1",
        "clusterId": "node-test",
        # The test bed applied the CRDs before any release.
        "crds.install": "false",
        "extraEnv[0].name": "AWS_ENDPOINT_URL",
        "extraEnv[0].value": f"http://{host}:{port}",
        "extraEnv[1].name": "AWS_ACCESS_KEY_ID",
        "extraEnv[1].value": "testing",
        "extraEnv[2].name": "AWS_SECRET_ACCESS_KEY",
        "extraEnv[2].value": "testing",
    }
    args = [a for k, v in sets.items() for a in ("--set", f"{k}={v}")]
    helm("install", "acm-sync", str(CHART), "--namespace", namespace, *args,
         kubeconfig=real_node.kubeconfig, home=tmp_path / "helm")  # fmt: skip
    # Its operator watches every namespace: it must not outlive this test and sync others'.
    uninstall = ("uninstall", "acm-sync", "--namespace", namespace, "--wait")
    request.addfinalizer(
        lambda: helm(*uninstall, kubeconfig=real_node.kubeconfig, home=tmp_path / "helm")
    )
    cluster = _cluster(real_node)
    status, _ = cluster.request("GET", f"/api/v1/namespaces/{namespace}/services/acm-sync-metrics")
    assert status == 200, "the chart's metrics Service (the service-link trap) must exist"

    def ready_pods() -> list[dict[str, Any]] | None:
        _, pods = cluster.request("GET", f"/api/v1/namespaces/{namespace}/pods")
        items = pods.get("items") or []
        ready = [
            p for p in items
            if p["status"].get("phase") == "Running"
            and all(c.get("ready") for c in p["status"].get("containerStatuses") or [{}])
        ]  # fmt: skip
        return ready or None

    try:
        pods = wait_for(ready_pods, timeout=180, interval=2, what="a Ready Pod of the chart")
    except AssertionError:
        _, listing = cluster.request("GET", f"/api/v1/namespaces/{namespace}/pods")
        logs = [
            node.pod_log(namespace, p["metadata"]["name"], "acm-sync")
            for p in listing.get("items") or []
        ]
        raise AssertionError(f"no Ready Pod: {listing}\n{logs}") from None
    statuses = pods[0]["status"]["containerStatuses"]
    assert all(s["restartCount"] == 0 for s in statuses), statuses
    # Ready means the readiness probe passed; the liveness probe's first run comes later
    # (initialDelaySeconds), so ask the kubelet for its count of successful liveness probes.
    pod_name = pods[0]["metadata"]["name"]
    wait_for(
        lambda: _probes(node, namespace, pod_name, "Liveness", "successful"),
        timeout=60, interval=2, what="a successful liveness probe",
    )  # fmt: skip
    # (Readiness may fail while the operator starts; that is what it is for. Liveness not.)
    assert not _probes(node, namespace, pod_name, "Liveness", "failed")


def _probes(node: Any, namespace: str, pod: str, kind: str, result: str) -> float:
    """The kubelet's count of ``kind`` probes of ``pod`` that ended in ``result``."""
    total = 0.0
    for line in node.kubelet_get("/metrics/probes").splitlines():
        if line.startswith("prober_probe_total{") and all(
            f'{k}="{v}"' in line
            for k, v in (("namespace", namespace), ("pod", pod), ("probe_type", kind),
                         ("result", result))
        ):  # fmt: skip
            total += float(line.rsplit(" ", 1)[1])
    return total
