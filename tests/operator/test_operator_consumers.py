"""An ARN a wired load balancer names is never deleted, whatever the deletion path.

``status.consumers[]`` is what the Ingress/Service wiring records of the load balancers it
wired; here it is written by hand (a status patch), as the wiring would, to show what the ACM
side does with it: the previous ARN of an ``onKeyChange: ImportNew`` stays while a consumer
names it and is deleted (``deletionPolicy: Delete``) once none does; the finalizer and a
region removed from the spec wait for the consumer the same way.
"""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes import client

from tests.certkit import TestCA, tls_secret
from tests.kube.kubekit import as_model
from tests.operator.opkit import GROUP, PLURAL, VERSION, Cluster, Env, OperatorProcess, wait_for

pytestmark = pytest.mark.integration

ALB_ANNOTATION = "alb.ingress.kubernetes.io/certificate-arn"


@pytest.fixture(scope="module")
def ca() -> TestCA:
    return TestCA()


def _entries(obj: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    regions = ((obj or {}).get("status") or {}).get("regions") or []
    return {r["region"]: r for r in regions}


def _wire(c: Cluster, ns: str, name: str, *named: tuple[str, str]) -> None:
    """Record, as the wiring does, an Ingress naming each (region, ARN) of ``named``."""
    consumers = [
        {
            "kind": "Ingress",
            "name": f"web-{region}",
            "annotation": ALB_ANNOTATION,
            "region": region,
            "arn": arn,
            "wiredAt": "2026-12-07T12:00:00Z",
        }
        for region, arn in named
    ]
    c.custom.patch_namespaced_custom_object_status(
        GROUP, VERSION, ns, PLURAL, name, {"status": {"consumers": consumers or None}}
    )
    got = ((c.cert(ns, name) or {}).get("status") or {}).get("consumers") or []
    # The API server keeps the field (the CRD's schema has it): the operator can see it.
    assert [e["arn"] for e in got] == [arn for _, arn in named]


def _secret(c: Cluster, ns: str, name: str, pem: Any, replace: bool = False) -> None:
    body = as_model(client.V1Secret, tls_secret(name, pem))
    if replace:
        c.core.replace_namespaced_secret(name, ns, body)
    else:
        c.core.create_namespaced_secret(ns, body)


def test_the_previous_arn_stays_while_a_consumer_names_it_then_goes(
    env: Env, operator: OperatorProcess, ca: TestCA
) -> None:
    c = env.cluster
    ns = c.namespace()
    _secret(c, ns, "web", ca.issue("web.example.com"))
    c.create_cert(
        ns,
        "web",
        secretName="web",
        regions=["us-east-1"],
        deletionPolicy="Delete",
        onKeyChange="ImportNew",
    )
    old = _entries(c.wait_reason(ns, "web", "Synced"))["us-east-1"]["arn"]
    _wire(c, ns, "web", ("us-east-1", old))

    # A key type change: a new ARN, and the load balancer still names the old one.
    _secret(c, ns, "web", ca.issue("web.example.com", rsa_bits=2048), replace=True)
    entry = wait_for(
        lambda: (e := _entries(c.cert(ns, "web")).get("us-east-1")) and e.get("arn") != old and e,
        what="the new ARN",
    )
    new = entry["arn"]
    assert entry["previousArn"] == old
    assert c.condition(ns, "web")["reason"] == "Synced"
    # Another full pass (a tag change) still keeps it: every pass asks, none deletes it.
    c.patch_cert(ns, "web", {"tags": {"team": "web"}})
    wait_for(
        lambda: _entries(c.cert(ns, "web"))["us-east-1"].get("reason") == "TagsUpdated",
        what="the tag change synced",
    )
    assert env.acm.exists("us-east-1", old)
    assert _entries(c.cert(ns, "web"))["us-east-1"]["previousArn"] == old
    assert "PreviousDeleted" not in {e[2] for e in c.events(ns)}

    # The load balancer switches to the new ARN: the old one is deleted, once.
    _wire(c, ns, "web", ("us-east-1", new))
    wait_for(lambda: not env.acm.exists("us-east-1", old), what="the previous ARN deleted")
    wait_for(
        lambda: "previousArn" not in _entries(c.cert(ns, "web"))["us-east-1"],
        what="previousArn cleared",
    )
    events = c.wait_event(ns, "PreviousDeleted", "web")
    said = [e[3] for e in events if e[2] == "PreviousDeleted"]
    assert len(said) == 1, said
    assert old in said[0]
    assert env.acm.exists("us-east-1", new)
    assert c.condition(ns, "web")["reason"] == "Synced"


def test_retain_keeps_the_previous_arn_when_no_consumer_names_it(
    env: Env, operator: OperatorProcess, ca: TestCA
) -> None:
    c = env.cluster
    ns = c.namespace()
    _secret(c, ns, "keep", ca.issue("keep.example.com"))
    c.create_cert(ns, "keep", secretName="keep", regions=["us-east-1"], onKeyChange="ImportNew")
    old = _entries(c.wait_reason(ns, "keep", "Synced"))["us-east-1"]["arn"]
    _secret(c, ns, "keep", ca.issue("keep.example.com", rsa_bits=2048), replace=True)
    entry = wait_for(
        lambda: (e := _entries(c.cert(ns, "keep")).get("us-east-1")) and e.get("arn") != old and e,
        what="the new ARN",
    )
    assert entry["previousArn"] == old
    c.wait_event(ns, "KeyTypeChanged", "keep")
    assert env.acm.exists("us-east-1", old)
    assert "PreviousDeleted" not in {e[2] for e in c.events(ns)}


def test_the_finalizer_waits_for_the_consumer(
    env: Env, operator: OperatorProcess, ca: TestCA
) -> None:
    c = env.cluster
    ns = c.namespace()
    _secret(c, ns, "gone", ca.issue("gone.example.com"))
    c.create_cert(ns, "gone", secretName="gone", regions=["us-east-1"], deletionPolicy="Delete")
    arn = _entries(c.wait_reason(ns, "gone", "Synced"))["us-east-1"]["arn"]
    _wire(c, ns, "gone", ("us-east-1", arn))
    c.delete_cert(ns, "gone")
    obj = c.wait_reason(ns, "gone", "DeletionBlocked")
    assert "InUseByConsumer" in c.condition(ns, "gone")["message"]
    assert _entries(obj)["us-east-1"]["reason"] == "InUseByConsumer"
    assert env.acm.exists("us-east-1", arn)

    # The wiring lets go of it: the deletion completes.
    _wire(c, ns, "gone")
    wait_for(lambda: not env.acm.exists("us-east-1", arn), timeout=45, what="deleted in ACM")
    wait_for(lambda: c.cert(ns, "gone") is None, timeout=20, what="the object released")


def test_a_region_removed_from_the_spec_waits_for_the_consumer(
    env: Env, operator: OperatorProcess, ca: TestCA
) -> None:
    c = env.cluster
    ns = c.namespace()
    _secret(c, ns, "two", ca.issue("two.example.com"))
    c.create_cert(
        ns, "two", secretName="two", regions=["us-east-1", "eu-west-1"], deletionPolicy="Delete"
    )
    arns = {r: e["arn"] for r, e in _entries(c.wait_reason(ns, "two", "Synced")).items()}
    _wire(c, ns, "two", ("eu-west-1", arns["eu-west-1"]))
    c.patch_cert(ns, "two", {"regions": ["us-east-1"]})
    wait_for(
        lambda: _entries(c.cert(ns, "two")).get("eu-west-1", {}).get("reason") == "InUseByConsumer",
        what="eu-west-1 waiting for its consumer",
    )
    assert env.acm.exists("eu-west-1", arns["eu-west-1"])
    assert c.condition(ns, "two")["reason"] == "Synced"

    _wire(c, ns, "two")
    wait_for(lambda: not env.acm.exists("eu-west-1", arns["eu-west-1"]), what="eu-west-1 deleted")
    wait_for(lambda: "eu-west-1" not in _entries(c.cert(ns, "two")), what="eu-west-1 dropped")
    assert env.acm.exists("us-east-1", arns["us-east-1"])
