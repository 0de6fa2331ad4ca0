"""The operator against the emulators: sync, rotation, invalid input, Secret lifecycle."""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes import client

from tests.certkit import TestCA, serial_hex, tls_secret
from tests.kube.kubekit import as_model, meta, resource_version
from tests.operator.opkit import Env, OperatorProcess, wait_for

pytestmark = pytest.mark.integration
REGIONS = ["us-east-1", "eu-west-1"]


@pytest.fixture(scope="module")
def ca() -> TestCA:
    return TestCA()


def _arns(obj: dict[str, Any]) -> dict[str, str]:
    regions = (obj.get("status") or {}).get("regions") or []
    return {r["region"]: r["arn"] for r in regions if r.get("arn")}


def test_import_then_rotation_reimports_into_the_same_arns(
    env: Env, operator: OperatorProcess, ca: TestCA
) -> None:
    c = env.cluster
    ns = c.namespace()
    first = ca.issue("web.example.com")
    c.core.create_namespaced_secret(ns, as_model(client.V1Secret, tls_secret("web", first)))
    c.create_cert(ns, "web", secretName="web", regions=REGIONS, tags={"team": "web"})
    obj = c.wait_reason(ns, "web", "Synced")
    status = obj["status"]
    arns = _arns(obj)
    assert set(arns) == set(REGIONS)
    assert status["secret"]["serialNumber"] == serial_hex(first.serial)
    assert status["secret"]["domains"] == ["web.example.com"]
    assert status["secret"]["keyAlgorithm"] == "EC_prime256v1"
    assert status["observedGeneration"] == obj["metadata"]["generation"]
    assert obj["metadata"]["finalizers"] == ["acmsync.io/cleanup"]
    for region, arn in arns.items():
        assert arn.split(":")[3] == region
        assert env.acm.serial(region, arn) == serial_hex(first.serial)
        assert env.acm.owned_by(region, f"{ns}/web") == [arn]
    secret_version = resource_version(c.core.read_namespaced_secret("web", ns))

    second = ca.issue("web.example.com", "www.example.com")
    c.core.replace_namespaced_secret(
        "web", ns, as_model(client.V1Secret, tls_secret("web", second))
    )
    wait_for(
        lambda: (
            (c.cert(ns, "web") or {}).get("status", {}).get("secret", {}).get("serialNumber")
            == serial_hex(second.serial)
        ),
        what="the new serial in status",
    )
    obj = c.wait_reason(ns, "web", "Synced")
    assert _arns(obj) == arns  # same ARNs: reimported, not imported anew
    # Each region records what its ARN now holds; the top-level notAfter is what ACM serves.
    for entry in obj["status"]["regions"]:
        assert entry["serialNumber"] == serial_hex(second.serial)
        internal = obj["status"]["internal"]
        assert internal["pairs"][entry["region"]]["fingerprint"] == internal["fingerprint"]
    assert obj["status"]["notAfter"] == obj["status"]["secret"]["notAfter"]
    for region, arn in arns.items():
        assert env.acm.serial(region, arn) == serial_hex(second.serial)
        assert env.acm.owned_by(region, f"{ns}/web") == [arn]
    c.wait_event(ns, "Synced", "web")
    wait_for(
        lambda: [e[2] for e in c.events(ns) if e[1] == "web"].count("Reimported") == 2,
        what="a Reimported Event per region",
    )
    reasons = [e[2] for e in c.events(ns) if e[1] == "web"]
    assert reasons.count("Imported") == 2
    assert reasons.count("Reimported") == 2
    assert "Synced" in reasons
    # The operator never wrote to the Secret: the only change is the one this test made.
    after_secret = c.core.read_namespaced_secret("web", ns)
    assert resource_version(after_secret) > secret_version
    after = meta(after_secret)
    assert not after.annotations
    assert not after.labels
    assert not after.finalizers


@pytest.mark.parametrize(
    ("secret", "reason"),
    [
        ("opaque", "NotTLSSecret"),
        ("expired", "Expired"),
        ("mismatch", "KeyMismatch"),
        ("missing", "SecretNotFound"),
    ],
)
def test_invalid_input_sets_a_clear_condition_and_makes_no_aws_call(
    env: Env, operator: OperatorProcess, ca: TestCA, secret: str, reason: str
) -> None:
    c = env.cluster
    ns = c.namespace()
    good = ca.issue("bad.example.com")
    if secret == "opaque":
        c.core.create_namespaced_secret(
            ns, as_model(client.V1Secret, tls_secret("bad", good, secret_type="Opaque"))
        )
    elif secret == "expired":
        c.core.create_namespaced_secret(
            ns, as_model(client.V1Secret, tls_secret("bad", ca.issue("bad.example.com", days=-1)))
        )
    elif secret == "mismatch":
        other = ca.issue("bad.example.com")
        manifest = tls_secret("bad", good)
        manifest["data"]["tls.key"] = tls_secret("x", other)["data"]["tls.key"]
        c.core.create_namespaced_secret(ns, as_model(client.V1Secret, manifest))
    seq = env.acm.last_seq()
    c.create_cert(ns, "bad", secretName="bad", regions=REGIONS)
    c.wait_reason(ns, "bad", reason)
    cond = c.condition(ns, "bad")
    assert cond["status"] == "False"
    assert cond["message"]
    c.wait_event(ns, reason, "bad")
    assert env.acm.writes_since(seq) == []
    for region in REGIONS:
        assert env.acm.owned_by(region, f"{ns}/bad") == []


def test_deleted_secret_leaves_acm_alone_and_recovers(
    env: Env, operator: OperatorProcess, ca: TestCA
) -> None:
    c = env.cluster
    ns = c.namespace()
    issued = ca.issue("gone.example.com")
    c.core.create_namespaced_secret(ns, as_model(client.V1Secret, tls_secret("gone", issued)))
    c.create_cert(ns, "gone", secretName="gone", regions=["us-east-1"])
    arns = _arns(c.wait_reason(ns, "gone", "Synced"))
    c.core.delete_namespaced_secret("gone", ns)
    c.wait_reason(ns, "gone", "SecretNotFound")
    assert env.acm.exists("us-east-1", arns["us-east-1"])
    assert _arns(c.cert(ns, "gone") or {}) == arns  # the record survives
    renewed = ca.issue("gone.example.com")
    c.core.create_namespaced_secret(ns, as_model(client.V1Secret, tls_secret("gone", renewed)))
    obj = c.wait_reason(ns, "gone", "Synced")
    assert _arns(obj) == arns
    assert env.acm.serial("us-east-1", arns["us-east-1"]) == serial_hex(renewed.serial)


def test_metrics_and_probes(env: Env, operator: OperatorProcess) -> None:
    assert operator.probe("/healthz") == 200
    assert operator.probe("/readyz") == 200
    text = operator.metrics()
    for name in (
        "acmsync_certificate_not_after_timestamp_seconds",
        "acmsync_sync_total",
        "acmsync_aws_calls_total",
        "acmsync_imports_total",
        "acmsync_reconcile_duration_seconds_bucket",
    ):
        assert name in text, name


def test_one_secret_change_reconciles_every_acmcertificate_reading_it(
    env: Env, operator: OperatorProcess, ca: TestCA
) -> None:
    c = env.cluster
    ns = c.namespace()
    c.core.create_namespaced_secret(
        ns, as_model(client.V1Secret, tls_secret("shared", ca.issue("shared.example.com")))
    )
    c.create_cert(ns, "east", secretName="shared", regions=["us-east-1"])
    c.create_cert(ns, "west", secretName="shared", regions=["eu-west-1"])
    before = {n: _arns(c.wait_reason(ns, n, "Synced")) for n in ("east", "west")}
    rotated = ca.issue("shared.example.com")
    c.core.replace_namespaced_secret(
        "shared", ns, as_model(client.V1Secret, tls_secret("shared", rotated))
    )
    for name in ("east", "west"):
        wait_for(
            lambda n=name: (
                (c.cert(ns, n) or {}).get("status", {}).get("secret", {}).get("serialNumber")  # type: ignore[misc]
                == serial_hex(rotated.serial)
            ),
            what=f"{name} reimported",
        )
        for region, arn in before[name].items():
            assert env.acm.serial(region, arn) == serial_hex(rotated.serial)


def test_quota_exceeded_is_reported_and_counted(
    env: Env, operator: OperatorProcess, ca: TestCA
) -> None:
    c = env.cluster
    ns = c.namespace()
    c.core.create_namespaced_secret(
        ns, as_model(client.V1Secret, tls_secret("quota", ca.issue("quota.example.com")))
    )
    env.acm.control("quota", {"import_quota": 0})
    try:
        c.create_cert(ns, "quota", secretName="quota", regions=["sa-east-1"])
        c.wait_reason(ns, "quota", "QuotaExceeded")
        assert c.condition(ns, "quota")["status"] == "False"
        c.wait_event(ns, "QuotaExceeded", "quota")
        wait_for(
            lambda: (
                'acmsync_quota_exceeded_total{account="123456789012",region="sa-east-1"}'
                in operator.metrics()
            ),
            what="the quota metric",
        )
    finally:
        env.acm.control("quota", {"import_quota": None})
