"""Wiring with two replicas and a failover in the middle of a key-type change.

What acm-sync wrote lives on the Ingress itself (acmsync.io/wired), so the replica that takes
over decides as the killed one would have: the Ingress goes from the old ARN straight to the
new one once it is Synced, and nothing else is ever written there.
"""

from __future__ import annotations

import json
import threading

import pytest
from kubernetes import client

from tests.certkit import TestCA
from tests.operator.opkit import Env, wait_for
from tests.operator.wirekit import (
    ALB,
    REGION,
    WIRED,
    create_ingress,
    create_secret,
    networking,
    pair_of,
    replace_secret,
    wait_new_arn,
)

pytestmark = pytest.mark.integration


def _holder(env: Env, ns: str) -> str | None:
    try:
        lease = client.CoordinationV1Api(env.cluster.api).read_namespaced_lease(
            "acm-sync-leader", ns
        )
    except client.ApiException:
        return None
    return lease.spec.holder_identity if lease.spec is not None else None


def test_a_failover_mid_import_new_switches_the_ingress_once(env: Env) -> None:
    c = env.cluster
    ca = TestCA()
    ns = c.namespace("wireha")
    net = networking(env)
    flags = (
        "--lease-duration", "3", "--leader-election-namespace", ns,
        "--wiring", f"--wiring-region={REGION}",
    )  # fmt: skip
    replicas = {env.operator(*flags, name=f"wire-{n}").start() for n in ("a", "b")}
    seen: list[str | None] = []
    done = threading.Event()

    def watch_annotation() -> None:
        while not done.is_set():
            try:
                meta = net.read_namespaced_ingress("app", ns).metadata
            except client.ApiException:
                meta = None
            value = (meta.annotations or {}).get(ALB) if meta is not None else None
            if not seen or seen[-1] != value:
                seen.append(value)
            done.wait(0.05)

    try:
        lease = wait_for(lambda: _holder(env, ns), what="a Lease holder")
        create_secret(env, ns, "app", ca.issue("app.example.com"))
        c.create_cert(ns, "app", secretName="app", regions=[REGION], onKeyChange="ImportNew")
        old = pair_of(c.wait_reason(ns, "app", "Synced", timeout=40))["arn"]
        create_ingress(env, ns, "app", {"acmsync.io/certificates": "app"})
        watcher = threading.Thread(target=watch_annotation, daemon=True)
        watcher.start()
        wait_for(lambda: seen and seen[-1] == old, what="the old ARN wired")
        leader = wait_for(
            lambda: next((p for p in replicas if "acmsync_leader 1.0" in p.metrics()), None),
            what="the leader's metrics",
        )
        leader.kill()  # kill -9, then the key type changes before anyone leads again
        replace_secret(env, ns, "app", ca.issue("app.example.com", rsa_bits=2048))
        wait_for(lambda: _holder(env, ns) not in (None, lease), timeout=30, what="takeover")
        new = wait_new_arn(
            env, ns, "app", old, timeout=40, what="the new ARN Synced by the new leader"
        )
        wait_for(lambda: seen[-1] == new, what="the switch to the new ARN")
        done.set()
        watcher.join(5)
        # None before the first write; never an ARN other than these two, never removed.
        assert [v for v in seen if v is not None] == [old, new], seen
        meta = net.read_namespaced_ingress("app", ns).metadata
        assert meta is not None
        record = json.loads((meta.annotations or {})[WIRED])
        assert (record["value"], record["earlier"]) == (new, None)
        wait_for(
            lambda: (
                [e["arn"] for e in (c.cert(ns, "app") or {})["status"].get("consumers", [])]
                == [new]
            ),
            what="status.consumers naming the new ARN",
        )
    finally:
        done.set()
        for process in replicas:
            process.stop()
