"""What the user sees is what ACM holds: expiry, metrics and Events after refusals and edits."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from kubernetes import client

from tests.certkit import TestCA, serial_hex, tls_secret
from tests.kube.kubekit import as_model
from tests.operator.opkit import Env, OperatorProcess, wait_for

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def ca() -> TestCA:
    return TestCA()


def _arns(obj: dict[str, Any] | None) -> dict[str, str]:
    regions = ((obj or {}).get("status") or {}).get("regions") or []
    return {r["region"]: r["arn"] for r in regions if r.get("arn")}


def _sample(text: str, metric: str, **labels: str) -> float | None:
    """The value of the one series of ``metric`` whose labels include ``labels``."""
    for line in text.splitlines():
        if not line.startswith(metric + "{"):
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', line.split("}")[0]))
        if all(found.get(k) == v for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return None


def _reasons(c: Any, ns: str, name: str) -> list[str]:
    return [e[2] for e in c.events(ns) if e[1] == name]


def test_a_refused_renewal_keeps_showing_what_acm_serves(
    env: Env, operator: OperatorProcess, ca: TestCA
) -> None:
    c = env.cluster
    ns = c.namespace()
    dying = ca.issue("stuck.example.com", days=5)
    c.core.create_namespaced_secret(ns, as_model(client.V1Secret, tls_secret("stuck", dying)))
    c.create_cert(ns, "stuck", secretName="stuck", regions=["us-east-1"])
    arn = _arns(c.wait_reason(ns, "stuck", "Synced"))["us-east-1"]
    # The renewal changes the key type: ACM refuses it under the same ARN.
    renewed = ca.issue("stuck.example.com", days=90, rsa_bits=2048)
    c.core.replace_namespaced_secret(
        "stuck", ns, as_model(client.V1Secret, tls_secret("stuck", renewed))
    )
    obj = c.wait_reason(ns, "stuck", "ReimportKeyChange")
    status = obj["status"]
    acm_date = dying.not_after.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert status["notAfter"] == acm_date  # the printer column: ACM's date, not the Secret's
    assert status["secret"]["serialNumber"] == serial_hex(renewed.serial)
    entry = status["regions"][0]
    assert (entry["arn"], entry["serialNumber"], entry["notAfter"]) == (
        arn,
        serial_hex(dying.serial),
        acm_date,
    )
    # What people compare: the serial ACM holds is not the Secret's.
    assert entry["serialNumber"] != status["secret"]["serialNumber"]
    internal = status["internal"]
    assert internal["pairs"]["us-east-1"]["fingerprint"] != internal["fingerprint"]
    expiring = c.condition(ns, "stuck", "Expiring")
    assert (expiring["status"], expiring["reason"]) == ("True", "ExpiresSoon")
    labels = {"namespace": ns, "name": "stuck", "region": "us-east-1"}

    def gauges() -> tuple[float | None, float | None] | None:
        text = operator.metrics()
        in_sync = _sample(text, "acmsync_certificate_in_sync", **labels, reason="ReimportKeyChange")
        not_after = _sample(text, "acmsync_certificate_not_after_timestamp_seconds", **labels)
        return (in_sync, not_after) if in_sync is not None else None

    in_sync, not_after = wait_for(gauges, what="the in-sync gauge at 0 with the reason")
    assert in_sync == 0
    assert not_after == dying.not_after.timestamp()
    # The old series (reason Synced) is gone: one series per region, not one per reason.
    assert (
        _sample(operator.metrics(), "acmsync_certificate_in_sync", **labels, reason="Synced")
        is None
    )


def test_an_expired_secret_is_expiring_with_reason_expired(
    env: Env, operator: OperatorProcess, ca: TestCA
) -> None:
    c = env.cluster
    ns = c.namespace()
    old = ca.issue("old.example.com", days=-1)
    c.core.create_namespaced_secret(ns, as_model(client.V1Secret, tls_secret("old", old)))
    c.create_cert(ns, "old", secretName="old", regions=["us-east-1"])
    obj = c.wait_reason(ns, "old", "Expired")
    assert obj["status"]["secret"]["serialNumber"] == serial_hex(old.serial)
    expiring = c.condition(ns, "old", "Expiring")
    assert (expiring["status"], expiring["reason"]) == ("True", "Expired")
    # Ready and Expiring say one fact: one Event. The operator logs each Event before it posts
    # a pass's Events, so the log already tells how many this pass posts.
    c.wait_event(ns, "Expired", "old")
    log = operator.log_path.read_text(errors="replace")
    assert log.count(f"AcmCertificate {ns}/old: Expired: ") == 1, operator.log_tail()
    assert [e[2] for e in c.events(ns) if e[1] == "old"].count("Expired") == 1


def test_a_tag_edit_is_tags_updated_not_a_reimport(
    env: Env, operator: OperatorProcess, ca: TestCA
) -> None:
    c = env.cluster
    ns = c.namespace()
    c.core.create_namespaced_secret(
        ns, as_model(client.V1Secret, tls_secret("tags", ca.issue("tags.example.com")))
    )
    c.create_cert(ns, "tags", secretName="tags", regions=["us-east-1"], tags={"team": "a"})
    arn = _arns(c.wait_reason(ns, "tags", "Synced"))["us-east-1"]
    c.wait_event(ns, "Imported", "tags")
    c.patch_cert(ns, "tags", {"tags": {"team": "b"}})
    events = c.wait_event(ns, "TagsUpdated", "tags")
    message = next(e[3] for e in events if e[1] == "tags" and e[2] == "TagsUpdated")
    assert arn in message
    assert "Reimported" not in _reasons(c, ns, "tags")
    # The log says it too, on one line with the object, the reason and the ARN (once).
    line = f"AcmCertificate {ns}/tags: TagsUpdated: "
    (logged,) = [x for x in operator.log_tail(400).splitlines() if line in x]
    assert logged.count(arn) == 1


def test_retain_and_delete_each_leave_an_event_naming_the_arn(
    env: Env, operator: OperatorProcess, ca: TestCA
) -> None:
    c = env.cluster
    ns = c.namespace()
    c.core.create_namespaced_secret(
        ns, as_model(client.V1Secret, tls_secret("two", ca.issue("two.example.com")))
    )
    c.create_cert(ns, "two", secretName="two", regions=["us-east-1", "eu-west-1"])
    arns = _arns(c.wait_reason(ns, "two", "Synced"))
    # A region leaves under Retain: its certificate stays in ACM, and an Event says which.
    c.patch_cert(ns, "two", {"regions": ["us-east-1"]})
    events = c.wait_event(ns, "Retained", "two")
    retained = [e[3] for e in events if e[1] == "two" and e[2] == "Retained"]
    assert any(arns["eu-west-1"] in m for m in retained), retained
    assert env.acm.exists("eu-west-1", arns["eu-west-1"])
    # Deleting under Delete: one Deleted Event per ACM deletion, naming the ARN.
    c.patch_cert(ns, "two", {"deletionPolicy": "Delete"})
    c.delete_cert(ns, "two")
    wait_for(lambda: c.cert(ns, "two") is None, timeout=30, what="deleted")
    events = c.wait_event(ns, "Deleted", "two")
    deleted = [e[3] for e in events if e[1] == "two" and e[2] == "Deleted"]
    assert any(arns["us-east-1"] in m for m in deleted), deleted
    assert not env.acm.exists("us-east-1", arns["us-east-1"])
    logged = [
        x for x in operator.log_tail(400).splitlines() if f"AcmCertificate {ns}/two: Deleted: " in x
    ]
    assert any(x.count(arns["us-east-1"]) == 1 for x in logged), logged


def test_import_new_warns_that_the_old_arn_may_still_be_served(
    env: Env, operator: OperatorProcess, ca: TestCA
) -> None:
    c = env.cluster
    ns = c.namespace()
    first = ca.issue("kt.example.com")
    c.core.create_namespaced_secret(ns, as_model(client.V1Secret, tls_secret("kt", first)))
    c.create_cert(ns, "kt", secretName="kt", regions=["us-east-1"], onKeyChange="ImportNew")
    arn = _arns(c.wait_reason(ns, "kt", "Synced"))["us-east-1"]
    rsa = ca.issue("kt.example.com", rsa_bits=2048)
    c.core.replace_namespaced_secret("kt", ns, as_model(client.V1Secret, tls_secret("kt", rsa)))
    events = c.wait_event(ns, "KeyTypeChanged", "kt")
    message = next(e[3] for e in events if e[1] == "kt" and e[2] == "KeyTypeChanged")
    assert arn in message
    assert first.not_after.strftime("%Y-%m-%dT%H:%M:%SZ") in message
    assert "detached" in message
    warnings = [e for e in c.core.list_namespaced_event(ns).items if e.reason == "KeyTypeChanged"]
    assert warnings[0].type == "Warning"


def test_warnings_acm_accepts_show_on_the_object(
    env: Env, operator: OperatorProcess, ca: TestCA
) -> None:
    c = env.cluster
    ns = c.namespace()
    # P-384 for us-east-1: imports fine, but CloudFront cannot use it.
    p384 = ca.issue("cf.example.com", key=ec.generate_private_key(ec.SECP384R1()))
    c.core.create_namespaced_secret(ns, as_model(client.V1Secret, tls_secret("cf", p384)))
    c.create_cert(ns, "cf", secretName="cf", regions=["us-east-1"])
    c.wait_reason(ns, "cf", "Synced")
    wait_for(
        lambda: c.condition(ns, "cf", "Warnings").get("status") == "True",
        what="the Warnings condition",
    )
    warnings = c.condition(ns, "cf", "Warnings")
    assert warnings["reason"] == "CloudFrontIncompatible"
    assert "CloudFront" in warnings["message"]
    c.wait_event(ns, "CloudFrontIncompatible", "cf")
    # The same key outside us-east-1 is no CloudFront concern.
    c.core.create_namespaced_secret(ns, as_model(client.V1Secret, tls_secret("eu", p384)))
    c.create_cert(ns, "eu", secretName="eu", regions=["eu-west-1"])
    c.wait_reason(ns, "eu", "Synced")
    assert c.condition(ns, "eu", "Warnings")["status"] == "False"
    # A leaf without its intermediate (no ca.crt, issuer no public root): IntermediateMissing.
    lone = tls_secret("lone", ca.issue("lone.example.com"))
    del lone["data"]["ca.crt"]
    c.core.create_namespaced_secret(ns, as_model(client.V1Secret, lone))
    c.create_cert(ns, "lone", secretName="lone", regions=["eu-west-1"])
    c.wait_reason(ns, "lone", "Synced")
    wait_for(
        lambda: c.condition(ns, "lone", "Warnings").get("reason") == "IntermediateMissing",
        what="IntermediateMissing on the object",
    )
    c.wait_event(ns, "IntermediateMissing", "lone")
    kinds = {e.reason: e.type for e in c.core.list_namespaced_event(ns).items}
    assert kinds["IntermediateMissing"] == "Warning"


def test_suspend_makes_no_aws_call_while_the_secret_rotates(
    env: Env, operator: OperatorProcess, ca: TestCA
) -> None:
    c = env.cluster
    ns = c.namespace()
    region = "ap-southeast-4"  # no other test uses it: every call there would be this object's
    first = ca.issue("pause.example.com")
    c.core.create_namespaced_secret(ns, as_model(client.V1Secret, tls_secret("pause", first)))
    c.create_cert(ns, "pause", secretName="pause", regions=[region])
    arn = _arns(c.wait_reason(ns, "pause", "Synced"))[region]
    c.patch_cert(ns, "pause", {"suspend": True})
    c.wait_reason(ns, "pause", "Suspended")
    seq = env.acm.last_seq()
    rotated = ca.issue("pause.example.com")
    c.core.replace_namespaced_secret(
        "pause", ns, as_model(client.V1Secret, tls_secret("pause", rotated))
    )
    wait_for(
        lambda: (
            ((c.cert(ns, "pause") or {}).get("status") or {}).get("secret", {}).get("serialNumber")
            == serial_hex(rotated.serial)
        ),
        what="the rotated Secret read",
    )
    time.sleep(5)  # two sweeps (every 2 s in these tests)
    calls = [x for x in env.acm.calls() if x["seq"] > seq and x.get("region") == region]
    assert calls == []
    assert env.acm.serial(region, arn) == serial_hex(first.serial)
    assert "suspend" in c.condition(ns, "pause")["message"]
    kinds = {e.reason: e.type for e in c.core.list_namespaced_event(ns).items}
    assert kinds["Suspended"] == "Normal"  # a pause the user asked for is no warning
    # Resumed: the rotation is reimported into the same ARN.
    c.patch_cert(ns, "pause", {"suspend": False})
    obj = c.wait_reason(ns, "pause", "Synced")
    assert _arns(obj) == {region: arn}
    assert env.acm.serial(region, arn) == serial_hex(rotated.serial)
    # Suspended again, deleting still applies deletionPolicy: Delete.
    c.patch_cert(ns, "pause", {"suspend": True, "deletionPolicy": "Delete"})
    c.wait_reason(ns, "pause", "Suspended")
    c.delete_cert(ns, "pause")
    wait_for(lambda: c.cert(ns, "pause") is None, timeout=30, what="deleted")
    assert not env.acm.exists(region, arn)


def test_the_sweep_shows_which_resources_use_each_arn(
    env: Env, operator: OperatorProcess, ca: TestCA
) -> None:
    c = env.cluster
    ns = c.namespace()
    c.core.create_namespaced_secret(
        ns, as_model(client.V1Secret, tls_secret("used", ca.issue("used.example.com")))
    )
    c.create_cert(ns, "used", secretName="used", regions=["us-east-1", "eu-west-1"])
    arns = _arns(c.wait_reason(ns, "used", "Synced"))

    def entries() -> dict[str, dict[str, Any]]:
        status = (c.cert(ns, "used") or {}).get("status") or {}
        return {e["region"]: e for e in status.get("regions") or []}

    assert all(e.get("inUseCount") == 0 for e in entries().values())
    env.acm.control("in-use", {"arn": arns["us-east-1"], "in_use": True})
    wait_for(lambda: entries()["us-east-1"].get("inUseCount") == 1, what="inUseBy refreshed")
    users = entries()["us-east-1"]["inUseBy"]
    assert len(users) == 1
    assert "loadbalancer" in users[0]
    assert entries()["eu-west-1"]["inUseCount"] == 0
    env.acm.control("in-use", {"arn": arns["us-east-1"], "in_use": False})
    wait_for(lambda: entries()["us-east-1"].get("inUseCount") == 0, what="no longer in use")
    # Once recorded, the sweep's listing suffices: no DescribeCertificate per sweep.
    seq = env.acm.last_seq()
    time.sleep(5)  # two sweeps
    described = [
        x
        for x in env.acm.calls()
        if x["seq"] > seq and x["api"] == "DescribeCertificate" and x.get("arn") in arns.values()
    ]
    assert described == []
