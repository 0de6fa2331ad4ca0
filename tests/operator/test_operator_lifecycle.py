"""Annotation mode, deletion policies, drift repair, expiry, adoption and key changes."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from kubernetes import client

from tests.certkit import TestCA, serial_hex, tls_secret
from tests.kube.kubekit import as_model, meta
from tests.operator.opkit import Env, OperatorProcess, wait_for

pytestmark = pytest.mark.integration


def _deleted(env: Env, region: str, arn: str) -> Callable[[], bool]:
    """A probe: the certificate is gone from the ACM emulator."""
    return lambda: not env.acm.exists(region, arn)


@pytest.fixture(scope="module")
def ca() -> TestCA:
    return TestCA()


def _arns(obj: dict[str, Any] | None) -> dict[str, str]:
    regions = ((obj or {}).get("status") or {}).get("regions") or []
    return {r["region"]: r["arn"] for r in regions if r.get("arn")}


def test_annotation_mode_generates_updates_and_deletes(
    env: Env, operator: OperatorProcess, ca: TestCA
) -> None:
    c = env.cluster
    ns = c.namespace()
    annotations = {
        "acmsync.io/regions": "us-east-1",
        "acmsync.io/tags": "team=payments,env=prod",
        "acmsync.io/deletion-policy": "Delete",
    }
    c.core.create_namespaced_secret(
        ns,
        as_model(
            client.V1Secret,
            tls_secret("shop", ca.issue("shop.example.com"), annotations=annotations),
        ),
    )
    obj = c.wait_reason(ns, "shop", "Synced")
    generated = obj["metadata"]
    assert generated["labels"] == {"acmsync.io/generated": "true"}
    secret_meta = meta(c.core.read_namespaced_secret("shop", ns))
    assert [(r["kind"], r["name"], r["uid"]) for r in generated["ownerReferences"]] == [
        ("Secret", "shop", secret_meta.uid)
    ]
    assert obj["spec"]["tags"] == {"team": "payments", "env": "prod"}
    first_arn = _arns(obj)["us-east-1"]
    tags = env.acm.client("us-east-1").list_tags_for_certificate(CertificateArn=first_arn)["Tags"]
    assert {"Key": "team", "Value": "payments"} in tags

    # Changing the annotations updates the generated object, which then syncs the new region.
    assert secret_meta.annotations is not None
    secret_meta.annotations["acmsync.io/regions"] = "us-east-1,eu-west-1"
    c.core.patch_namespaced_secret(
        "shop", ns, {"metadata": {"annotations": secret_meta.annotations}}
    )
    wait_for(lambda: set(_arns(c.cert(ns, "shop"))) == {"us-east-1", "eu-west-1"}, what="eu-west-1")
    arns = _arns(c.wait_reason(ns, "shop", "Synced"))
    assert arns["us-east-1"] == first_arn

    # Removing them deletes it, and its Delete policy removes the ACM certificates.
    c.core.patch_namespaced_secret(
        "shop", ns, {"metadata": {"annotations": dict.fromkeys(annotations)}}
    )
    wait_for(lambda: c.cert(ns, "shop") is None, what="generated AcmCertificate deleted")
    for region, arn in arns.items():
        wait_for(_deleted(env, region, arn), what=f"{arn} deleted")


def test_user_made_object_is_never_overwritten(
    env: Env, operator: OperatorProcess, ca: TestCA
) -> None:
    c = env.cluster
    ns = c.namespace()
    issued = ca.issue("mine.example.com")
    c.core.create_namespaced_secret(ns, as_model(client.V1Secret, tls_secret("mine", issued)))
    c.create_cert(ns, "mine", secretName="mine", regions=["us-east-1"])
    c.wait_reason(ns, "mine", "Synced")
    c.core.patch_namespaced_secret(
        "mine", ns, {"metadata": {"annotations": {"acmsync.io/regions": "eu-west-1"}}}
    )
    wait_for(
        lambda: any(e[2] == "AcmCertificateExists" for e in c.events(ns)),
        what="a Warning Event about the user's AcmCertificate",
    )
    obj = c.cert(ns, "mine") or {}
    assert obj["spec"]["regions"] == ["us-east-1"]
    assert "acmsync.io/generated" not in (obj["metadata"].get("labels") or {})


def test_delete_policy_waits_while_in_use_and_can_be_released(
    env: Env, operator: OperatorProcess, ca: TestCA
) -> None:
    c = env.cluster
    ns = c.namespace()
    c.core.create_namespaced_secret(
        ns, as_model(client.V1Secret, tls_secret("lb", ca.issue("lb.example.com")))
    )
    c.create_cert(
        ns, "lb", secretName="lb", regions=["us-east-1", "eu-west-1"], deletionPolicy="Delete"
    )
    arns = _arns(c.wait_reason(ns, "lb", "Synced"))
    env.acm.control("in-use", {"arn": arns["us-east-1"], "in_use": True})
    c.delete_cert(ns, "lb")
    obj = c.wait_reason(ns, "lb", "DeletionBlocked")
    message = c.condition(ns, "lb")["message"]
    assert "in use" in message
    assert "loadbalancer" in message  # says by what
    assert obj["metadata"].get("deletionTimestamp")
    assert not env.acm.exists("eu-west-1", arns["eu-west-1"])  # the free one went at once
    assert env.acm.exists("us-east-1", arns["us-east-1"])
    # Switching to Retain releases the object; the certificate in use stays.
    c.patch_cert(ns, "lb", {"deletionPolicy": "Retain"})
    wait_for(lambda: c.cert(ns, "lb") is None, timeout=30, what="release after Retain")
    assert env.acm.exists("us-east-1", arns["us-east-1"])


def test_retain_leaves_acm_untouched(env: Env, operator: OperatorProcess, ca: TestCA) -> None:
    c = env.cluster
    ns = c.namespace()
    c.core.create_namespaced_secret(
        ns, as_model(client.V1Secret, tls_secret("keep", ca.issue("keep.example.com")))
    )
    c.create_cert(ns, "keep", secretName="keep", regions=["us-east-1"])
    arn = _arns(c.wait_reason(ns, "keep", "Synced"))["us-east-1"]
    seq = env.acm.last_seq()
    c.delete_cert(ns, "keep")
    wait_for(lambda: c.cert(ns, "keep") is None, what="deleted")
    assert env.acm.exists("us-east-1", arn)
    assert env.acm.writes_since(seq) == []


def test_drift_is_repaired_by_the_sweep(env: Env, operator: OperatorProcess, ca: TestCA) -> None:
    c = env.cluster
    ns = c.namespace()
    issued = ca.issue("drift.example.com")
    c.core.create_namespaced_secret(ns, as_model(client.V1Secret, tls_secret("drift", issued)))
    c.create_cert(ns, "drift", secretName="drift", regions=["us-east-1", "eu-west-1"])
    arns = _arns(c.wait_reason(ns, "drift", "Synced"))
    # Out of band: one certificate deleted, the other replaced by someone else's.
    env.acm.client("eu-west-1").delete_certificate(CertificateArn=arns["eu-west-1"])
    intruder = ca.issue("drift.example.com")
    # The engine tells reimports apart by ImportedAt, to the second; a human replacing a
    # certificate takes longer than that; this test waits past the tolerance (1s + rounding).
    time.sleep(2.5)
    env.acm.client("us-east-1").import_certificate(
        CertificateArn=arns["us-east-1"],
        Certificate=intruder.cert_pem,
        PrivateKey=intruder.key_pem,
    )
    assert env.acm.serial("us-east-1", arns["us-east-1"]) == serial_hex(intruder.serial)

    def repaired() -> bool:
        now = _arns(c.cert(ns, "drift"))
        return (
            now.get("us-east-1") == arns["us-east-1"]
            and env.acm.serial("us-east-1", arns["us-east-1"]) == serial_hex(issued.serial)
            and "eu-west-1" in now
            and env.acm.exists("eu-west-1", now["eu-west-1"])
        )

    wait_for(repaired, timeout=30, what="drift repaired by the sweep")
    for region in ("us-east-1", "eu-west-1"):
        assert len(env.acm.owned_by(region, f"{ns}/drift")) == 1


def test_expiring_condition_and_event(env: Env, operator: OperatorProcess, ca: TestCA) -> None:
    c = env.cluster
    ns = c.namespace()
    c.core.create_namespaced_secret(
        ns, as_model(client.V1Secret, tls_secret("soon", ca.issue("soon.example.com", days=10)))
    )
    c.create_cert(ns, "soon", secretName="soon", regions=["us-east-1"])
    c.wait_reason(ns, "soon", "Synced")
    expiring = c.condition(ns, "soon", "Expiring")
    assert expiring["status"] == "True"
    assert expiring["reason"] == "ExpiresSoon"
    c.wait_event(ns, "ExpiresSoon", "soon")
    wait_for(
        lambda: (
            'acmsync_certificate_not_after_timestamp_seconds{account="123456789012",name="soon"'
            in operator.metrics()
        ),
        what="the expiry metric",
    )


def test_adoption_and_foreign_certificates(env: Env, operator: OperatorProcess, ca: TestCA) -> None:
    c = env.cluster
    ns = c.namespace()
    acm = env.acm.client("us-east-1")
    old = ca.issue("legacy.example.com")
    # Consent from the account's owner: the certificate carries this object's owner tag.
    adopted = acm.import_certificate(
        Certificate=old.cert_pem, PrivateKey=old.key_pem, Tags=[c.owner_tag(ns, "legacy")]
    )["CertificateArn"]
    untagged = acm.import_certificate(Certificate=old.cert_pem, PrivateKey=old.key_pem)[
        "CertificateArn"
    ]
    foreign = acm.import_certificate(
        Certificate=old.cert_pem,
        PrivateKey=old.key_pem,
        Tags=[{"Key": "acmsync.io/owner", "Value": "other-cluster/x/y"}],
    )["CertificateArn"]
    renewed = ca.issue("legacy.example.com")
    c.core.create_namespaced_secret(ns, as_model(client.V1Secret, tls_secret("legacy", renewed)))
    c.create_cert(
        ns,
        "legacy",
        secretName="legacy",
        regions=["us-east-1"],
        certificateArns={"us-east-1": adopted},
    )
    obj = c.wait_reason(ns, "legacy", "Synced")
    assert _arns(obj) == {"us-east-1": adopted}
    assert env.acm.serial("us-east-1", adopted) == serial_hex(renewed.serial)

    c.core.create_namespaced_secret(ns, as_model(client.V1Secret, tls_secret("theirs", renewed)))
    c.create_cert(
        ns,
        "theirs",
        secretName="theirs",
        regions=["us-east-1"],
        certificateArns={"us-east-1": foreign},
    )
    c.wait_reason(ns, "theirs", "ForeignCertificate")
    assert env.acm.serial("us-east-1", foreign) == serial_hex(old.serial)  # untouched

    # Naming an untagged certificate is no consent: nothing is written to it, not a tag.
    c.core.create_namespaced_secret(ns, as_model(client.V1Secret, tls_secret("grab", renewed)))
    since = env.acm.last_seq()
    c.create_cert(
        ns, "grab", secretName="grab", regions=["us-east-1"],
        certificateArns={"us-east-1": untagged},
    )  # fmt: skip
    c.wait_reason(ns, "grab", "AdoptionNotAuthorized")
    assert "aws acm add-tags-to-certificate" in c.condition(ns, "grab")["message"]
    assert [w for w in env.acm.writes_since(since) if w.get("arn") == untagged] == []
    assert env.acm.serial("us-east-1", untagged) == serial_hex(old.serial)


def test_key_change_blocks_then_imports_new_on_request(
    env: Env, operator: OperatorProcess, ca: TestCA
) -> None:
    c = env.cluster
    ns = c.namespace()
    c.core.create_namespaced_secret(
        ns, as_model(client.V1Secret, tls_secret("kc", ca.issue("kc.example.com")))
    )
    c.create_cert(ns, "kc", secretName="kc", regions=["us-east-1"])
    arn = _arns(c.wait_reason(ns, "kc", "Synced"))["us-east-1"]
    rsa = ca.issue("kc.example.com", rsa_bits=2048)
    c.core.replace_namespaced_secret("kc", ns, as_model(client.V1Secret, tls_secret("kc", rsa)))
    c.wait_reason(ns, "kc", "ReimportKeyChange")
    assert _arns(c.cert(ns, "kc")) == {"us-east-1": arn}
    c.patch_cert(ns, "kc", {"onKeyChange": "ImportNew"})
    obj = c.wait_reason(ns, "kc", "Synced")
    entry = obj["status"]["regions"][0]
    assert entry["arn"] != arn
    assert entry["previousArn"] == arn
    assert env.acm.serial("us-east-1", entry["arn"]) == serial_hex(rsa.serial)


def test_a_region_removed_from_the_spec_follows_the_deletion_policy(
    env: Env, operator: OperatorProcess, ca: TestCA
) -> None:
    c = env.cluster
    ns = c.namespace()
    c.core.create_namespaced_secret(
        ns, as_model(client.V1Secret, tls_secret("shrink", ca.issue("shrink.example.com")))
    )
    c.create_cert(
        ns,
        "shrink",
        secretName="shrink",
        regions=["us-east-1", "eu-west-1"],
        deletionPolicy="Delete",
    )
    arns = _arns(c.wait_reason(ns, "shrink", "Synced"))
    c.patch_cert(ns, "shrink", {"regions": ["us-east-1"]})
    wait_for(lambda: set(_arns(c.cert(ns, "shrink"))) == {"us-east-1"}, what="eu-west-1 dropped")
    wait_for(
        lambda: not env.acm.exists("eu-west-1", arns["eu-west-1"]), what="deleted in eu-west-1"
    )
    assert env.acm.exists("us-east-1", arns["us-east-1"])
    assert c.condition(ns, "shrink")["reason"] == "Synced"
    events = c.wait_event(ns, "Deleted", "shrink")
    assert any(arns["eu-west-1"] in e[3] for e in events if e[2] == "Deleted")
