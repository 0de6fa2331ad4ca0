"""The chart installed on the real node, for tests and ``bench/bench_node.py``.

``ChartOnNode`` installs the chart (the image ``make image`` built, loaded into the node's
containerd) with the ACM emulator exposed to Pods, and answers what a user would look at: the
Pods and whether they are Ready, which one holds the Lease, an AcmCertificate's status and the
certificates in ACM.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from kubernetes import client

from acm_sync_testbed.emulators.acm.server import AcmEmulator
from tests.certkit import IssuedPem, TestCA, serial_hex, tls_secret
from tests.cluster_backends import ROOT, RealApi
from tests.kube.kubekit import as_model
from tests.operator.acmview import Acm
from tests.operator.opkit import Cluster, wait_for
from tests.realcluster.realkit import CHART, helm, kubectl

IMAGE_ARCHIVE = ROOT / "build" / "acm-sync-image.tar"
LEASE = "acm-sync-leader"
REGION = "us-east-1"
CRD_NAMES = ("acmcertificates.acmsync.io", "acmtargets.acmsync.io")
RESTRICTED = {
    "pod-security.kubernetes.io/enforce": "restricted",
    "pod-security.kubernetes.io/enforce-version": "latest",
}


def real_node_of(api: RealApi) -> Any:
    """The RealNode of the ``real-node`` backend."""
    from acm_sync_testbed.realcluster.node import RealNode

    assert isinstance(api.node, RealNode)
    return api.node


def import_image(api: RealApi) -> str:
    """Load build/acm-sync-image.tar into the node's containerd; the operator image's name."""
    assert IMAGE_ARCHIVE.exists(), f"{IMAGE_ARCHIVE} is missing: run `make image` first"
    names = real_node_of(api).import_image(IMAGE_ARCHIVE)
    ours = [n for n in names if "acm-sync" in n]
    assert ours, f"the archive held no acm-sync image: {names}"
    return str(ours[0])


def retag(api: RealApi, image: str, tag: str) -> str:
    """The same image under another tag in the node's containerd (a "new" release of it)."""
    repository = image.rpartition(":")[0]
    node = real_node_of(api)
    target = f"{repository}:{tag}"
    if target not in node.image_names():
        node.ctr("images", "tag", image, target)
    return target


class ChartOnNode:
    """One release of the chart on the real node, and a workload namespace with its certs."""

    def __init__(self, api: RealApi, acm: AcmEmulator, home: Path, image: str) -> None:
        self.api = api
        self.node = real_node_of(api)
        self.acm_server = acm
        self.acm = Acm(acm.url)
        self.home = home
        self.image = image
        self.kube = Cluster(api.kubeconfig)
        self.namespace = self._namespace("acm-sync", RESTRICTED)
        self.workload = self._namespace("apps", {})
        # Cluster-scoped objects (ClusterRoles) are named after the release: another release
        # in the same cluster must not collide with this one's.
        self.release = f"acm-sync-{self.namespace.rpartition('-')[2]}"
        self.service = f"{self.release}-metrics"
        self.adopted: Path | None = None
        self.ca = TestCA()

    def _namespace(self, prefix: str, labels: dict[str, str]) -> str:
        name = f"{prefix}-{uuid.uuid4().hex[:6]}"
        status, body = self.node.cluster.request(
            "POST", "/api/v1/namespaces",
            {"apiVersion": "v1", "kind": "Namespace",
             "metadata": {"name": name, "labels": labels}},
        )  # fmt: skip
        assert status == 201, body
        return name

    # ---- helm ----------------------------------------------------------------------------

    def values(
        self, image: str, replicas: int, lease_seconds: int, crds: bool = False
    ) -> list[str]:
        host, port = self.node.expose(self.acm_server.port)
        repository, _, tag = image.rpartition(":")
        sets = {
            "image.repository": repository,
            "image.tag": tag,
            "image.pullPolicy": "Never",
            "replicaCount": str(replicas),
            "leaderElection.leaseDuration": str(lease_seconds),
            "aws.region": REGION,
            "clusterId": "node-test",
            # Only this release's workload: another release left in the cluster watches its own.
            "watch.scope": "namespaces",
            "watch.namespaces[0]": self.workload,
            # The test bed applied the CRDs before any release; see adopt_crds().
            "crds.install": str(crds).lower(),
            "extraEnv[0].name": "AWS_ENDPOINT_URL",
            "extraEnv[0].value": f"http://{host}:{port}",
            "extraEnv[1].name": "AWS_ACCESS_KEY_ID",
            "extraEnv[1].value": "testing",
            "extraEnv[2].name": "AWS_SECRET_ACCESS_KEY",
            "extraEnv[2].value": "testing",
        }
        return [a for k, v in sets.items() for a in ("--set", f"{k}={v}")]

    def helm(self, *args: str) -> str:
        return helm(*args, kubeconfig=self.api.kubeconfig, home=self.home)

    def install(self, replicas: int = 2, lease_seconds: int = 5) -> None:
        self.helm("install", self.release, str(CHART), "--namespace", self.namespace,
                  *self.values(self.image, replicas, lease_seconds))  # fmt: skip

    def upgrade(
        self, image: str, replicas: int = 2, lease_seconds: int = 5, crds: bool = False
    ) -> None:
        self.helm("upgrade", self.release, str(CHART), "--namespace", self.namespace,
                  *self.values(image, replicas, lease_seconds, crds))  # fmt: skip
        self.image = image

    def adopt_crds(self, tmp: Path) -> None:
        """Hand the existing CRDs to this release, as docs/install.md says for an upgrade from
        a release before 0.2 (whose CRDs Helm did not manage)."""
        for crd in CRD_NAMES:
            kubectl(self.api, tmp, "label", "crd", crd, "app.kubernetes.io/managed-by=Helm",
                    "--overwrite")  # fmt: skip
            kubectl(self.api, tmp, "annotate", "crd", crd,
                    f"meta.helm.sh/release-name={self.release}",
                    f"meta.helm.sh/release-namespace={self.namespace}", "--overwrite")  # fmt: skip
        self.adopted = tmp

    def disown_crds(self) -> None:
        """Take the CRDs back from this (uninstalled) release: the shared cluster's next
        release must be able to own them."""
        if self.adopted is None:
            return
        for crd in CRD_NAMES:
            kubectl(self.api, self.adopted, "label", "crd", crd, "app.kubernetes.io/managed-by-")
            kubectl(self.api, self.adopted, "annotate", "crd", crd,
                    "meta.helm.sh/release-name-", "meta.helm.sh/release-namespace-")  # fmt: skip
        self.adopted = None

    def uninstall(self) -> None:
        self.helm("uninstall", self.release, "--namespace", self.namespace, "--wait")

    # ---- Pods and the Lease ------------------------------------------------------------------

    def pods(self) -> list[dict[str, Any]]:
        status, body = self.node.cluster.request("GET", f"/api/v1/namespaces/{self.namespace}/pods")
        assert status == 200, body
        return list(body.get("items") or [])

    def ready_pods(self, image: str | None = None) -> list[dict[str, Any]]:
        """Running, Ready Pods not being deleted (of ``image``, if given)."""
        return [
            p for p in self.pods()
            if p["status"].get("phase") == "Running"
            and not p["metadata"].get("deletionTimestamp")
            and (image is None or p["spec"]["containers"][0]["image"] == image)
            and any(c["type"] == "Ready" and c["status"] == "True"
                    for c in p["status"].get("conditions") or [])
        ]  # fmt: skip

    def wait_ready(self, count: int, image: str | None = None, timeout: float = 240) -> list[str]:
        """Wait until exactly ``count`` Pods (of ``image``) are Ready and no other Pod exists;
        their names."""

        def probe() -> list[str] | None:
            ready = self.ready_pods(image)
            done = len(ready) == count == len(self.pods())
            return sorted(p["metadata"]["name"] for p in ready) if done else None

        try:
            return wait_for(probe, timeout=timeout, interval=1, what=f"{count} Ready Pods")
        except AssertionError:
            raise AssertionError(f"Pods not Ready: {self.describe()}") from None

    def describe(self) -> str:
        lines = []
        for pod in self.pods():
            name = pod["metadata"]["name"]
            log = self.node.pod_log(self.namespace, name, "acm-sync")[-2000:]
            lines.append(f"{name}: {pod['status']}\n{log}")
        return "\n".join(lines)

    def holder(self) -> str | None:
        """The Pod name in the Lease's holder identity (``<pod>_<suffix>``), or None."""
        status, body = self.node.cluster.request(
            "GET", f"/apis/coordination.k8s.io/v1/namespaces/{self.namespace}/leases/{LEASE}"
        )
        if status != 200:
            return None
        identity = (body.get("spec") or {}).get("holderIdentity") or ""
        return str(identity).rpartition("_")[0] or None

    def delete_pod(self, name: str) -> None:
        status, body = self.node.cluster.request(
            "DELETE", f"/api/v1/namespaces/{self.namespace}/pods/{name}"
        )
        assert status == 200, body

    # ---- certificates ------------------------------------------------------------------------

    def put_secret(self, name: str) -> IssuedPem:
        """Create or replace the TLS Secret ``name`` with a newly issued certificate."""
        issued = self.ca.issue(f"{name}.example.com")
        body = as_model(client.V1Secret, tls_secret(name, issued))
        try:
            self.kube.core.replace_namespaced_secret(name, self.workload, body)
        except client.ApiException as err:
            if err.status != 404:
                raise
            self.kube.core.create_namespaced_secret(self.workload, body)
        return issued

    def create_cert(self, name: str) -> None:
        self.kube.create_cert(self.workload, name, secretName=name, regions=[REGION])

    def acm_arns(self, name: str) -> list[str]:
        """Every ARN in ACM owned by AcmCertificate ``name``."""
        return self.acm.owned_by(REGION, f"{self.workload}/{name}")

    def wait_in_acm(self, name: str, issued: IssuedPem, timeout: float = 120) -> str:
        """Wait until ACM holds ``issued`` under the one ARN of ``name``; that ARN."""
        want = serial_hex(issued.serial)

        def probe() -> str | None:
            arns = self.acm_arns(name)
            assert len(arns) <= 1, f"duplicate certificates in ACM: {arns}"
            return arns[0] if arns and self.acm.serial(REGION, arns[0]) == want else None

        try:
            return wait_for(probe, timeout=timeout, interval=0.5, what=f"{want} in ACM")
        except AssertionError:
            raise AssertionError(f"not in ACM: {self.describe()}") from None

    def close(self) -> None:
        """Release the workload's AcmCertificates (no operator may be left to) and the client."""
        if self.workload in self.kube.created_namespaces:
            return
        self.disown_crds()
        self.kube.created_namespaces.extend([self.workload, self.namespace])
        try:
            self.kube.remove_namespaces()
        finally:
            self.kube.close()
