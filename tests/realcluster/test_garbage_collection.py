"""Garbage collection by the real kube-controller-manager: deleting an annotated Secret removes
the AcmCertificate generated for it, and its certificates stay in ACM whatever its deletion
policy (tests/operator/test_operator_secret_deletion.py has the whole story, on both backends).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from kubernetes import client

from tests.certkit import TestCA, tls_secret
from tests.cluster_backends import RealApi
from tests.kube.kubekit import as_model
from tests.operator.opkit import wait_for
from tests.realcluster.realkit import real_env

pytestmark = [pytest.mark.real_cluster, pytest.mark.integration]


def test_deleting_an_annotated_secret_collects_its_acmcertificate_and_keeps_acm(
    real_backend: RealApi, tmp_path: Path
) -> None:
    with real_env(real_backend, tmp_path) as env:
        operator = env.operator("--no-leader-election", "--sweep-interval", "2").start()
        try:
            c = env.cluster
            ns = c.namespace("gc")
            annotations = {
                "acmsync.io/regions": "us-east-1,eu-west-1",
                "acmsync.io/deletion-policy": "Delete",
            }
            secret = tls_secret("shop", TestCA().issue("shop.example.com"), annotations=annotations)
            c.core.create_namespaced_secret(ns, as_model(client.V1Secret, secret))
            obj = c.wait_reason(ns, "shop", "Synced", timeout=40)
            owners = obj["metadata"]["ownerReferences"]
            assert [(o["kind"], o["name"]) for o in owners] == [("Secret", "shop")]
            arns = {r["region"]: r["arn"] for r in obj["status"]["regions"]}
            assert len(arns) == 2

            # Background propagation, as `kubectl delete secret` does: the garbage collector,
            # not the client, deletes the dependent AcmCertificate.
            c.core.delete_namespaced_secret("shop", ns)
            wait_for(
                lambda: c.cert(ns, "shop") is None,
                timeout=60,
                what="the garbage collector to remove the generated AcmCertificate",
            )
            for region, arn in arns.items():
                assert env.acm.exists(region, arn), f"{region}: a deleted Secret deleted {arn}"
        finally:
            operator.stop()
