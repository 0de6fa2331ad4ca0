"""Restarts, two replicas, and the key-material audit, each with operators of their own."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from pathlib import Path

import pytest
from kubernetes import client

from tests.certkit import TestCA, serial_hex, tls_secret
from tests.kube.kubekit import as_dict, as_model, meta
from tests.operator.opkit import GROUP, PLURAL, VERSION, Env, wait_for

pytestmark = pytest.mark.integration


def _arns(obj: dict[str, object] | None) -> dict[str, str]:
    regions = ((obj or {}).get("status") or {}).get("regions") or []  # type: ignore[attr-defined]
    return {r["region"]: r["arn"] for r in regions if r.get("arn")}


def test_restart_in_sync_makes_no_aws_call_and_catches_up_on_rotation(env: Env) -> None:
    c = env.cluster
    ca = TestCA()
    ns = c.namespace()
    names = [f"svc{i}" for i in range(4)]
    issued = {n: ca.issue(f"{n}.example.com") for n in names}
    for name in names:
        c.core.create_namespaced_secret(
            ns, as_model(client.V1Secret, tls_secret(name, issued[name]))
        )
        c.create_cert(ns, name, secretName=name, regions=["us-east-1", "eu-west-1"])
    first = env.operator("--no-leader-election", name="restart-1").start()
    try:
        for name in names:
            c.wait_reason(ns, name, "Synced")
        arns = {n: _arns(c.cert(ns, n)) for n in names}
    finally:
        assert first.stop() == 0
    before = {n: c.cert(ns, n) or {} for n in names}
    versions = {n: before[n]["metadata"]["resourceVersion"] for n in names}
    seq = env.acm.last_seq()

    second = env.operator("--no-leader-election", name="restart-2").start()
    try:
        # Every object is seen again (resume) and found in sync: no call at all, no status write.
        wait_for(
            lambda: (
                "acmsync_sync_total" in second.metrics()
                and sum(
                    float(line.rsplit(" ", 1)[1])
                    for line in second.metrics().splitlines()
                    if line.startswith('acmsync_sync_total{reason="Synced"')
                )
                >= len(names)
            ),
            what="every object reconciled after the restart",
        )
        assert [c["api"] for c in env.acm.calls() if c["seq"] > seq] == []
        for name in names:
            after = c.cert(ns, name) or {}
            assert after["metadata"]["resourceVersion"] == versions[name], (before[name], after)
    finally:
        assert second.stop() == 0

    # A Secret rotated while no operator runs is reimported when one starts.
    rotated = ca.issue("svc0.example.com")
    c.core.replace_namespaced_secret(
        "svc0", ns, as_model(client.V1Secret, tls_secret("svc0", rotated))
    )
    third = env.operator("--no-leader-election", name="restart-3").start()
    try:
        wait_for(
            lambda: (
                (c.cert(ns, "svc0") or {}).get("status", {}).get("secret", {}).get("serialNumber")
                == serial_hex(rotated.serial)
            ),
            what="rotation caught up on start",
        )
        assert _arns(c.cert(ns, "svc0")) == arns["svc0"]
        for region, arn in arns["svc0"].items():
            assert env.acm.serial(region, arn) == serial_hex(rotated.serial)
    finally:
        third.stop()


def test_two_replicas_one_leader_failover_without_duplicates(env: Env) -> None:
    c = env.cluster
    ca = TestCA()
    ns = c.namespace("ha")
    flags = ("--lease-duration", "3", "--leader-election-namespace", ns)
    # Imports are slowed to 4/s per region, so that the leader is killed mid-sync.
    rates = {"ACM_SYNC_AWS_RATES": "ImportCertificate=4"}
    a = env.operator(*flags, name="replica-a", **rates).start()
    b = env.operator(*flags, name="replica-b", **rates).start()
    replicas = {a, b}
    try:
        lease = wait_for(
            lambda: c.custom.api_client and _lease_holder(env, ns), what="a Lease holder"
        )
        names = [f"app{i}" for i in range(12)]
        for name in names:
            c.core.create_namespaced_secret(
                ns, as_model(client.V1Secret, tls_secret(name, ca.issue(f"{name}.example.com")))
            )
            c.create_cert(ns, name, secretName=name, regions=["us-east-1", "eu-west-1"])
        leader = wait_for(
            lambda: next((p for p in replicas if "acmsync_leader 1.0" in p.metrics()), None),
            what="the leader's metrics",
        )
        standby = (replicas - {leader}).pop()
        assert "acmsync_leader 0.0" in standby.metrics()
        wait_for(
            lambda: any(_arns(c.cert(ns, n)) for n in names), what="the leader started importing"
        )
        leader.kill()  # kill -9, mid-sync
        unfinished = [n for n in names if c.condition(ns, n).get("reason") != "Synced"]
        assert unfinished, "the leader finished before it was killed: the test proves nothing"
        wait_for(lambda: _lease_holder(env, ns) not in (None, lease), timeout=30, what="takeover")
        for name in names:
            c.wait_reason(ns, name, "Synced", timeout=40)
        for name in names:
            for region in ("us-east-1", "eu-west-1"):
                owned = env.acm.owned_by(region, f"{ns}/{name}")
                assert owned == [_arns(c.cert(ns, name))[region]], (name, region, owned)
    finally:
        for process in replicas:
            process.stop()


def _lease_holder(env: Env, ns: str) -> str | None:
    try:
        lease = client.CoordinationV1Api(env.cluster.api).read_namespaced_lease(
            "acm-sync-leader", ns
        )
    except client.ApiException:
        return None
    assert lease.spec is not None
    return lease.spec.holder_identity or None


def test_no_key_material_anywhere_after_a_debug_run(env: Env) -> None:
    """Run everything at DEBUG, then search logs, Events, annotations and status for the key."""
    c = env.cluster
    ca = TestCA()
    ns = c.namespace("leak")
    issued = ca.issue("leak.example.com")
    annotated = ca.issue("leak2.example.com")
    operator = env.operator("--no-leader-election", "--sweep-interval", "1", name="leak").start()
    try:
        c.core.create_namespaced_secret(ns, as_model(client.V1Secret, tls_secret("leak", issued)))
        c.create_cert(ns, "leak", secretName="leak", regions=["us-east-1"], deletionPolicy="Delete")
        c.core.create_namespaced_secret(
            ns,
            as_model(
                client.V1Secret,
                tls_secret("leak2", annotated, annotations={"acmsync.io/regions": "eu-west-1"}),
            ),
        )
        c.wait_reason(ns, "leak", "Synced")
        c.wait_reason(ns, "leak2", "Synced")
        versions = {
            meta(s).name: meta(s).resource_version for s in c.core.list_namespaced_secret(ns).items
        }
        bad = tls_secret("leak3", issued, secret_type="Opaque")
        c.core.create_namespaced_secret(ns, as_model(client.V1Secret, bad))
        c.create_cert(ns, "leak3", secretName="leak3", regions=["us-east-1"])
        c.wait_reason(ns, "leak3", "NotTLSSecret")
        c.delete_cert(ns, "leak")
        wait_for(lambda: c.cert(ns, "leak") is None, what="deleted")
    finally:
        operator.stop()
    needles = _needles(issued.key_pem) + _needles(annotated.key_pem)
    haystacks = {"operator log": Path(operator.log_path).read_text(errors="replace")}
    for event in c.core.list_namespaced_event(ns).items:
        haystacks[f"event {event.metadata.name}"] = f"{event.reason} {event.message}"
    for obj in as_dict(c.custom.list_namespaced_custom_object(GROUP, VERSION, ns, PLURAL))["items"]:
        haystacks[f"acmcert {obj['metadata']['name']}"] = repr(obj)
    for secret in c.core.list_namespaced_secret(ns).items:
        metadata = meta(secret)
        haystacks[f"secret {metadata.name} metadata"] = repr(
            (metadata.annotations, metadata.labels)
        )
        assert not metadata.annotations or set(metadata.annotations) <= {"acmsync.io/regions"}
        # The operator never writes to a Secret: not an annotation, label or finalizer.
        assert not metadata.labels
        assert not metadata.finalizers
        if metadata.name in versions:
            assert metadata.resource_version == versions[metadata.name], metadata.name
    assert "DEBUG" in haystacks["operator log"]  # the run really was at DEBUG
    for where, text in haystacks.items():
        for needle in needles:
            assert needle not in text, f"key material found in {where}"


def _needles(key_pem: bytes) -> list[str]:
    """Every 32-character window of the key, in both forms it can travel in, plus its header.

    Windows tile the whole key, so a leak of any part of it longer than 63 characters (one PEM
    line, a slice of the Secret's base64) contains at least one needle.
    """
    body = "".join(key_pem.decode().strip().splitlines()[1:-1])
    as_secret_data = base64.b64encode(key_pem).decode()
    width = 32
    windows = [
        text[i : i + width]
        for text in (body, as_secret_data)
        for i in range(0, len(text) - width + 1, width)
    ]
    return [*windows, "PRIVATE KEY-----"]


def test_a_leader_that_loses_its_lease_stops_acting_and_exits(env: Env) -> None:
    ns = env.cluster.namespace("lost")
    process = env.operator(
        "--lease-duration", "3", "--leader-election-namespace", ns, name="lost"
    ).start()
    try:
        from kubernetes import client

        leases = client.CoordinationV1Api(env.cluster.api)
        wait_for(lambda: _lease_holder(env, ns), what="the Lease")
        # Another replica takes the Lease (as after a network partition healed).
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        leases.patch_namespaced_lease(
            "acm-sync-leader", ns, {"spec": {"holderIdentity": "intruder", "renewTime": now}}
        )
        assert process.process is not None
        code = process.process.wait(timeout=20)
        assert code == 3, process.log_tail()
        assert "Leadership lost" in process.log_tail(200)
    finally:
        process.stop()


def test_namespace_flag_limits_what_is_watched(env: Env) -> None:
    c = env.cluster
    ca = TestCA()
    watched, ignored = c.namespace("watched"), c.namespace("ignored")
    for ns in (ignored, watched):  # the ignored one first: it would be synced first if seen
        c.core.create_namespaced_secret(
            ns, as_model(client.V1Secret, tls_secret("app", ca.issue("app.example.com")))
        )
        c.create_cert(ns, "app", secretName="app", regions=["us-east-1"])
    process = env.operator("--no-leader-election", "--namespace", watched, name="scoped").start()
    try:
        c.wait_reason(watched, "app", "Synced")
        assert not (c.cert(ignored, "app") or {}).get("status")
        assert env.acm.owned_by("us-east-1", f"{ignored}/app") == []
    finally:
        process.stop()
