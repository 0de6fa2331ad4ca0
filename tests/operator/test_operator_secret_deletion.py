"""A deleted Secret never deletes from ACM (issue: shared-cluster safety).

``kubectl delete secret`` is how cert-manager users force a re-issue. The generated
AcmCertificate goes with the Secret (garbage collection, by the real kube-controller-manager on
the real backend), but its certificates stay in ACM whatever its deletion policy, and the Secret
that comes back gets the same ARNs. The policy applies when the annotations are removed from a
live Secret.
"""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
from kubernetes import client

from acm_sync.controller.platform.kubeapi import KubeApi
from acm_sync.controller.platform.kubeconfig import load_configuration
from tests.certkit import TestCA, serial_hex, tls_secret
from tests.kube.kubekit import as_model
from tests.operator.opkit import Env, OperatorProcess, wait_for

pytestmark = pytest.mark.integration
ANNOTATIONS = {"acmsync.io/regions": "us-east-1,eu-west-1", "acmsync.io/deletion-policy": "Delete"}


def _arns(obj: dict[str, Any]) -> dict[str, str]:
    return {r["region"]: r["arn"] for r in (obj.get("status") or {}).get("regions") or []}


class AcmWatch:
    """Polls ACM for the ARNs while a test runs: any moment one is missing is recorded."""

    def __init__(self, env: Env, arns: dict[str, str]) -> None:
        self.env, self.arns = env, arns
        self.missing: list[str] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stop.wait(0.1):
            self.missing += [a for r, a in self.arns.items() if not self.env.acm.exists(r, a)]

    def __enter__(self) -> AcmWatch:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        self.thread.join(5)


def test_a_deleted_secret_keeps_its_arns_and_gets_them_back(
    env: Env, operator: OperatorProcess
) -> None:
    c = env.cluster
    ns = c.namespace("gc")
    ca = TestCA()
    secret = tls_secret("shop", ca.issue("shop.example.com"), annotations=ANNOTATIONS)
    c.core.create_namespaced_secret(ns, as_model(client.V1Secret, secret))
    obj = c.wait_reason(ns, "shop", "Synced", timeout=40)
    first_uid = obj["metadata"]["uid"]
    arns = _arns(obj)
    assert len(arns) == 2

    with AcmWatch(env, arns) as watch:
        # Background propagation, as `kubectl delete secret` does: the garbage collector, not
        # the client, deletes the generated AcmCertificate.
        c.core.delete_namespaced_secret("shop", ns)
        wait_for(
            lambda: (c.cert(ns, "shop") or {}).get("metadata", {}).get("uid") != first_uid,
            timeout=60,
            what="the garbage collector to remove the generated AcmCertificate",
        )
        renewed = ca.issue("shop.example.com")
        again = tls_secret("shop", renewed, annotations=ANNOTATIONS)
        c.core.create_namespaced_secret(ns, as_model(client.V1Secret, again))
        wait_for(
            lambda: (
                c.condition(ns, "shop").get("reason") == "Synced"
                and (c.cert(ns, "shop") or {})
                .get("status", {})
                .get("secret", {})
                .get("serialNumber")
                == serial_hex(renewed.serial)
            ),
            timeout=60,
            what="the recreated Secret's AcmCertificate to sync the new serial",
        )
    assert watch.missing == [], "ACM lacked the certificate at some moment"
    assert _arns(c.cert(ns, "shop") or {}) == arns
    for region, arn in arns.items():
        assert env.acm.serial(region, arn) == serial_hex(renewed.serial)
    retained = [e for e in c.events(ns) if e[2] == "Retained"]
    assert any("a deleted Secret never deletes from ACM" in e[3] for e in retained)

    # Removing the annotations from the live Secret is the way to say "delete".
    c.core.patch_namespaced_secret(
        "shop", ns, {"metadata": {"annotations": dict.fromkeys(ANNOTATIONS)}}
    )
    wait_for(lambda: c.cert(ns, "shop") is None, timeout=60, what="the generated object to go")
    for region, arn in arns.items():
        assert not env.acm.exists(region, arn), f"{region}: policy Delete not applied"


def test_a_deleted_generated_acmcertificate_follows_its_policy(
    env: Env, operator: OperatorProcess
) -> None:
    c = env.cluster
    ns = c.namespace("gc")
    secret = tls_secret("api", TestCA().issue("api.example.com"), annotations=ANNOTATIONS)
    c.core.create_namespaced_secret(ns, as_model(client.V1Secret, secret))
    obj = c.wait_reason(ns, "api", "Synced", timeout=40)
    arns = _arns(obj)
    c.delete_cert(ns, "api")
    wait_for(
        lambda: all(not env.acm.exists(r, a) for r, a in arns.items()),
        timeout=60,
        what="deleting the AcmCertificate itself to apply deletionPolicy Delete",
    )


def test_the_finalizers_look_at_the_secret_carries_no_data(env: Env, ca: TestCA) -> None:
    """Whether a generated AcmCertificate's Secret is gone is read as PartialObjectMetadata:
    the API server sends the Secret's uid and deletion mark, never its private key."""
    c = env.cluster
    ns = c.namespace("metaonly")
    secret = tls_secret("shop-tls", ca.issue("shop.example.com"))
    made = c.core.create_namespaced_secret(ns, as_model(client.V1Secret, secret)).metadata
    assert made is not None
    uid = made.uid
    api = KubeApi(load_configuration(str(env.kubeconfig)))
    seen = api.get_secret_metadata(ns, "shop-tls")
    assert seen is not None
    assert seen["metadata"]["uid"] == uid
    assert b"PRIVATE KEY" not in json.dumps(seen).encode()
    assert set(seen) == {"metadata"}
    assert api.get_secret_metadata(ns, "absent") is None
    # The same call answered in full carries the key: the header is what keeps it out.
    status, full = api.request("GET", f"/api/v1/namespaces/{ns}/secrets/shop-tls")
    assert status == 200
    assert "tls.key" in full["data"]
