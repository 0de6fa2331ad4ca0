"""The chart as users run it, on the real node: two replicas of the operator image, in order.

One release for the module (the tests run in file order and build on each other, as a user's
day does): installed with two replicas, an AcmCertificate synced by the Pod that leads, its
metrics scraped through the chart's Service, the leader Pod deleted and the next rotation
handled by the other, ``helm upgrade`` to a new image tag with a rotation during the roll,
and ``helm uninstall`` leaving ACM and the CRDs as docs/install.md says.

    ACM_SYNC_TEST_BACKENDS=real-node .venv/bin/pytest tests/realcluster/test_node_chart.py
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from acm_sync_testbed.emulators.acm.server import AcmEmulator
from tests.certkit import serial_hex
from tests.cluster_backends import RealApi
from tests.operator.opkit import wait_for
from tests.realcluster.nodekit import CRD_NAMES, REGION, ChartOnNode, import_image, retag

pytestmark = [pytest.mark.real_node, pytest.mark.integration]
CERT = "web"


@pytest.fixture(scope="module")
def chart(real_node: RealApi, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChartOnNode]:
    acm = AcmEmulator().start()
    release = ChartOnNode(real_node, acm, tmp_path_factory.mktemp("helm"), import_image(real_node))
    try:
        release.install(replicas=2)
        yield release
    finally:
        try:
            release.close()
        finally:
            acm.stop()


def test_two_replicas_are_ready_and_one_holds_the_lease(chart: ChartOnNode) -> None:
    pods = chart.wait_ready(2)
    leader = wait_for(chart.holder, timeout=60, what="a Lease holder")
    assert leader in pods
    # The standby stays Ready (it can take over) and never holds the Lease meanwhile.
    assert chart.holder() == leader
    assert len(chart.ready_pods()) == 2


def test_an_acmcertificate_is_synced_by_the_operator_in_the_pod(chart: ChartOnNode) -> None:
    issued = chart.put_secret(CERT)
    chart.create_cert(CERT)
    obj = chart.kube.wait_reason(chart.workload, CERT, "Synced", timeout=120)
    arn = chart.wait_in_acm(CERT, issued)
    assert [r["arn"] for r in obj["status"]["regions"]] == [arn]
    assert obj["status"]["secret"]["serialNumber"] == serial_hex(issued.serial)


def test_metrics_are_scraped_through_the_service(chart: ChartOnNode) -> None:
    from acm_sync_testbed.realcluster.services import route_service

    leader = chart.holder()
    cluster_ip, port = route_service(chart.node, chart.namespace, chart.service, "metrics")
    # The Service spreads connections over both Pods: the leader says 1, the standby 0.
    seen: dict[str, str] = {}
    for _ in range(6):
        text = chart.node.http_get(f"http://{cluster_ip}:{port}/metrics")
        gauge = next(line for line in text.splitlines() if line.startswith("acmsync_leader "))
        seen[gauge] = text
    assert set(seen) == {"acmsync_leader 1.0", "acmsync_leader 0.0"}, list(seen)
    assert "acmsync_sync_total{" in seen["acmsync_leader 1.0"]
    assert chart.holder() == leader


def test_the_leader_deleted_the_other_handles_the_next_rotation(chart: ChartOnNode) -> None:
    before = chart.wait_ready(2)
    leader = chart.holder()
    assert leader in before
    (standby,) = [p for p in before if p != leader]
    arn = chart.acm_arns(CERT)
    chart.delete_pod(leader)
    rotated = chart.put_secret(CERT)
    # The Deployment replaces the deleted Pod; another replica takes the Lease and the
    # rotation (usually the standby; the replacement may win the Lease first on a busy node).
    assert chart.wait_in_acm(CERT, rotated) == arn[0]
    assert chart.holder() != leader
    after = chart.wait_ready(2)
    assert leader not in after
    assert standby in after
    assert chart.holder() in after
    assert chart.acm_arns(CERT) == arn


def test_helm_upgrade_to_a_new_tag_rolls_without_duplicate_or_missed_rotation(
    chart: ChartOnNode, tmp_path: Path
) -> None:
    old = chart.wait_ready(2)
    arn = chart.acm_arns(CERT)
    new_image = retag(chart.api, chart.image, "upgrade-test")
    # The upgrade from before 0.2 (docs/install.md): the CRDs handed to the release first, so
    # that from now on the release owns them (crds.install) and uninstall must keep them.
    chart.adopt_crds(tmp_path)
    chart.upgrade(new_image, crds=True)
    # Made while the old Pods still run and the new ones start.
    rotated = chart.put_secret(CERT)
    assert set(old) <= {p["metadata"]["name"] for p in chart.pods()}, "the roll was over"
    new = chart.wait_ready(2, image=new_image)
    assert not set(new) & set(old)
    assert chart.wait_in_acm(CERT, rotated) == arn[0]
    # The Lease names the last old leader until a new Pod takes it.
    wait_for(lambda: chart.holder() in new, timeout=60, what="a new Pod to hold the Lease")
    # And the rolled release handles the next one too.
    again = chart.put_secret(CERT)
    assert chart.wait_in_acm(CERT, again) == arn[0]
    assert chart.acm_arns(CERT) == arn


def test_helm_uninstall_leaves_acm_and_the_crds(chart: ChartOnNode, tmp_path: Path) -> None:
    arn = chart.acm_arns(CERT)
    serial = chart.acm.serial(REGION, arn[0])
    chart.uninstall()
    wait_for(lambda: not chart.pods(), timeout=120, what="the release's Pods to be gone")
    # The certificate stays in ACM, and so does the AcmCertificate (and so its CRD).
    assert chart.acm_arns(CERT) == arn
    assert chart.acm.serial(REGION, arn[0]) == serial
    obj = chart.kube.cert(chart.workload, CERT)
    assert obj is not None
    assert obj["status"]["regions"][0]["arn"] == arn[0]
    # The release owned the CRDs since the upgrade; helm.sh/resource-policy: keep kept them.
    for crd in CRD_NAMES:
        status, body = chart.node.cluster.request(
            "GET", f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{crd}"
        )
        assert status == 200, crd
        assert body["metadata"]["annotations"]["meta.helm.sh/release-name"] == chart.release
        assert not body["metadata"].get("deletionTimestamp"), crd
