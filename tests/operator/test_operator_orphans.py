"""deletionPolicy Delete end to end: certificates only the owner tag knows about.

A leader killed after ImportCertificate succeeded but before it wrote the status leaves a
certificate in ACM that no status record names. Deleting the AcmCertificate must still
delete it (and nothing foreign), and a certificate in use must say by what.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from kubernetes import client

from tests.certkit import TestCA, tls_secret
from tests.kube.kubekit import as_model
from tests.operator.opkit import Env, OperatorProcess, wait_for

pytestmark = pytest.mark.integration

CLUSTER = "orphan-test-cluster"


@pytest.fixture(scope="module")
def cluster_operator(env: Env) -> Iterator[OperatorProcess]:
    """An operator with a known cluster id, so the test can write its owner tags."""
    process = env.operator("--no-leader-election", "--cluster-id", CLUSTER, name="orphans")
    process.start()
    try:
        yield process
    finally:
        process.stop()


def _import(env: Env, region: str, ca: TestCA, tags: dict[str, str]) -> str:
    issued = ca.issue("orphan.example.com")
    acm = env.acm.client(region)
    arn = acm.import_certificate(
        Certificate=issued.cert_pem,
        PrivateKey=issued.key_pem,
        Tags=[{"Key": k, "Value": v} for k, v in tags.items()],
    )["CertificateArn"]
    return str(arn)


def _system_tags(ns: str, name: str) -> dict[str, str]:
    return {
        "acmsync.io/managed-by": "acm-sync",
        "acmsync.io/cluster": CLUSTER,
        "acmsync.io/owner": f"{CLUSTER}/{ns}/{name}",
    }


def test_delete_removes_a_certificate_no_status_records(
    env: Env, cluster_operator: OperatorProcess
) -> None:
    c = env.cluster
    ns = c.namespace("orphan")
    ca = TestCA()
    # No Secret: the object never syncs, so its status records no region.
    c.create_cert(
        ns, "web", secretName="missing", regions=["us-east-1", "eu-west-1"], deletionPolicy="Delete"
    )
    c.wait_reason(ns, "web", "SecretNotFound")
    orphan = _import(env, "eu-west-1", ca, _system_tags(ns, "web"))
    neighbour = _import(env, "eu-west-1", ca, _system_tags(ns, "web-2"))
    copied = _import(env, "eu-west-1", ca, {"acmsync.io/owner": f"{CLUSTER}/{ns}/web"})

    c.delete_cert(ns, "web")

    wait_for(lambda: c.cert(ns, "web") is None, timeout=30, what="the finalizer to finish")
    assert not env.acm.exists("eu-west-1", orphan)
    assert env.acm.exists("eu-west-1", neighbour)  # another object's certificate
    assert env.acm.exists("eu-west-1", copied)  # the owner tag without managed-by


def test_an_orphan_in_use_blocks_deletion_saying_by_what(
    env: Env, cluster_operator: OperatorProcess
) -> None:
    c = env.cluster
    ns = c.namespace("orphan")
    ca = TestCA()
    c.core.create_namespaced_secret(
        ns,
        as_model(
            client.V1Secret, tls_secret("bad", ca.issue("lb.example.com"), secret_type="Opaque")
        ),
    )
    c.create_cert(ns, "lb", secretName="bad", regions=["us-east-1"], deletionPolicy="Delete")
    c.wait_reason(ns, "lb", "NotTLSSecret")
    orphan = _import(env, "us-east-1", ca, _system_tags(ns, "lb"))
    env.acm.control("in-use", {"arn": orphan, "in_use": True, "users": 4})

    c.delete_cert(ns, "lb")

    obj = c.wait_reason(ns, "lb", "DeletionBlocked")
    message = c.condition(ns, "lb")["message"]
    assert orphan in message
    assert "loadbalancer/app/emulated/1" in message
    assert "and 1 more" in message
    assert [r.get("arn") for r in obj["status"]["regions"]] == [orphan]
    env.acm.control("in-use", {"arn": orphan, "in_use": False})
    wait_for(lambda: c.cert(ns, "lb") is None, timeout=40, what="deletion once free")
    assert not env.acm.exists("us-east-1", orphan)
