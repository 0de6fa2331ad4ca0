"""Fencing for every write: a leader paused past its Lease writes nothing when it resumes."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from acm_sync.controller.platform.kubeapi import KubeApi, ObjectRef
from acm_sync.controller.platform.kubeconfig import load_configuration
from acm_sync.controller.platform.kubeerrors import NotLeader
from tests.certkit import IssuedPem, TestCA, serial_hex, tls_secret
from tests.kube.kubekit import as_model
from tests.operator.opkit import Env, OperatorProcess, wait_for

pytestmark = pytest.mark.integration
LEASE = 3.0


def _holder(env: Env, ns: str) -> str | None:
    try:
        lease = client.CoordinationV1Api(env.cluster.api).read_namespaced_lease(
            "acm-sync-leader", ns
        )
    except client.ApiException:
        return None
    assert lease.spec is not None
    return lease.spec.holder_identity or None


def _correct(env: Env, ns: str, name: str, issued: IssuedPem) -> bool:
    """Ready=Synced, the Secret's serial in the status, and ACM holding that very serial."""
    obj = env.cluster.cert(ns, name) or {}
    status: dict[str, Any] = obj.get("status") or {}
    ready = {c["type"]: c for c in status.get("conditions") or []}.get("Ready", {})
    secret_serial = (status.get("secret") or {}).get("serialNumber")
    if ready.get("reason") != "Synced" or secret_serial != serial_hex(issued.serial):
        return False
    regions = status.get("regions") or []
    return bool(regions) and all(
        env.acm.serial(r["region"], r["arn"]) == serial_hex(issued.serial) for r in regions
    )


def test_a_paused_then_resumed_leader_leaves_every_status_correct(env: Env) -> None:
    c = env.cluster
    ca = TestCA()
    ns = c.namespace("paused")
    flags = ("--lease-duration", str(int(LEASE)), "--leader-election-namespace", ns)
    rates = {"ACM_SYNC_AWS_RATES": "ImportCertificate=4"}
    names = [f"app{i}" for i in range(16)]
    issued = {n: ca.issue(f"{n}.example.com") for n in names}
    for name in names:
        c.core.create_namespaced_secret(
            ns, as_model(client.V1Secret, tls_secret(name, issued[name]))
        )
        c.create_cert(ns, name, secretName=name, regions=["us-east-1"])
    a = env.operator(*flags, name="paused-a", **rates).start()
    replicas: list[OperatorProcess] = [a]
    try:
        wait_for(lambda: all(_correct(env, ns, n, issued[n]) for n in names), timeout=60)
        b = env.operator(*flags, name="paused-b", **rates).start()
        replicas.append(b)
        holder = _holder(env, ns)
        # A mass rotation, and the leader paused (SIGSTOP: a GC stall, CPU starvation) in it.
        rotated = {n: ca.issue(f"{n}.example.com") for n in names}
        for name in names:
            c.core.replace_namespaced_secret(
                name, ns, as_model(client.V1Secret, tls_secret(name, rotated[name]))
            )
        wait_for(lambda: any(_correct(env, ns, n, rotated[n]) for n in names), timeout=30)
        assert a.process is not None
        os.kill(a.process.pid, signal.SIGSTOP)
        try:
            wait_for(lambda: _holder(env, ns) not in (None, holder), timeout=30, what="takeover")
            wait_for(
                lambda: all(_correct(env, ns, n, rotated[n]) for n in names),
                timeout=60,
                what="the new leader's sync",
            )
        finally:
            os.kill(a.process.pid, signal.SIGCONT)
        resumed = time.monotonic()
        # Within one Lease of resuming, and for a while after: every status stays correct.
        while time.monotonic() - resumed < 2 * LEASE:
            wrong = [n for n in names if not _correct(env, ns, n, rotated[n])]
            assert wrong == [], (wrong, a.log_tail(80))
            time.sleep(0.2)
        assert a.process.wait(timeout=20) == 3, a.log_tail()
        for name in names:
            assert len(env.acm.owned_by("us-east-1", f"{ns}/{name}")) == 1, name
    finally:
        for process in replicas:
            process.stop()


def test_a_status_write_never_overwrites_a_newer_status(env: Env, tmp_path: Path) -> None:
    c = env.cluster
    ns = c.namespace("cas")
    c.create_cert(ns, "web", secretName="web", regions=["us-east-1"])
    api = KubeApi(load_configuration(str(env.kubeconfig)))
    try:
        stale = api.get_acmcert(ns, "web")
        assert stale is not None
        api.patch_acmcert_status(ns, "web", {"secret": {"serialNumber": "newer"}})
        # A run that read the object before the newer status was written: refused.
        assert api.patch_status_over(stale, {"secret": {"serialNumber": "stale"}}) is None
        assert (c.cert(ns, "web") or {})["status"]["secret"]["serialNumber"] == "newer"
        # A change of metadata only (kopf's annotations) does not block the write.
        fresh = api.get_acmcert(ns, "web")
        assert fresh is not None
        c.custom.patch_namespaced_custom_object(
            "acmsync.io", "v1alpha1", ns, "acmcertificates", "web",
            {"metadata": {"annotations": {"touched": "yes"}}},
        )  # fmt: skip
        assert api.patch_status_over(fresh, {"secret": {"serialNumber": "next"}}) is not None
        assert (c.cert(ns, "web") or {})["status"]["secret"]["serialNumber"] == "next"
    finally:
        api.close()


def test_a_fenced_replica_sends_no_status_patch_and_no_event(env: Env) -> None:
    c = env.cluster
    ns = c.namespace("fence")
    obj = c.create_cert(ns, "web", secretName="web", regions=["us-east-1"])
    api = KubeApi(load_configuration(str(env.kubeconfig)))
    api.write_guard = lambda: False
    try:
        with pytest.raises(NotLeader):
            api.patch_acmcert_status(
                ns, "web", {"secret": {"serialNumber": "from a deposed leader"}}
            )
        api.post_event(ObjectRef.of(obj), "Warning", "NotLeader", "must not be posted")
        assert (
            "status" not in (c.cert(ns, "web") or {})
            or ((c.cert(ns, "web") or {})["status"].get("secret") or {}).get("serialNumber")
            != "from a deposed leader"
        )
        assert [e for e in c.events(ns) if e[2] == "NotLeader"] == []
    finally:
        api.close()


def test_a_new_leader_re_verifies_records_at_once_and_reports_no_false_drift(env: Env) -> None:
    c = env.cluster
    ca = TestCA()
    ns = c.namespace("verify")
    flags = ("--lease-duration", str(int(LEASE)), "--leader-election-namespace", ns)
    names = [f"app{i}" for i in range(4)]
    issued = {n: ca.issue(f"{n}.example.com") for n in names}
    for name in names:
        secret = tls_secret(name, issued[name])
        c.core.create_namespaced_secret(ns, as_model(client.V1Secret, secret))
        c.create_cert(ns, name, secretName=name, regions=["us-east-1"])
    a = env.operator(*flags, "--sweep-interval", "3600", name="verify-a").start()
    try:
        wait_for(lambda: all(_correct(env, ns, n, issued[n]) for n in names), timeout=60)
    finally:
        a.kill()  # the Lease stays held by a replica that will never renew it
    # What a deposed leader's late writes left: records older than what ACM holds.
    truth: dict[str, str] = {}
    for name in names:
        entry = (c.cert(ns, name) or {})["status"]["regions"][0]
        truth[name] = entry["importedAt"]
        c.custom.patch_namespaced_custom_object_status(
            "acmsync.io", "v1alpha1", ns, "acmcertificates", name,
            {"status": {"regions": [{**entry, "importedAt": "2020-01-01T00:00:00Z"}]}},
        )  # fmt: skip
    seq = env.acm.last_seq()
    b = env.operator(*flags, "--sweep-interval", "3600", name="verify-b").start()
    try:

        def repaired() -> bool:
            entries = [(c.cert(ns, n) or {})["status"]["regions"][0] for n in names]
            return all(
                e["importedAt"][:19] == truth[n][:19] for n, e in zip(names, entries, strict=True)
            )

        # Within a Lease or so of taking over, not after the hour-long sweep interval.
        wait_for(repaired, timeout=4 * LEASE, what="the records re-verified by the new leader")
        log = b.log_tail(3000)
        assert "out of date; refreshing" in log, log
        assert "Drift in" not in log, log
        # Repaired from what ACM holds: nothing imported again.
        assert [x["api"] for x in env.acm.writes_since(seq)] == []
    finally:
        b.stop()
