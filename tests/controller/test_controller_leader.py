"""Lease-based leader election against every cluster backend: the Kubernetes API emulator
(in-process, fast) and the real kube-apiserver, whose Lease validation (MicroTime renewTime,
resourceVersion conflicts) is the one production has. Each test uses a namespace of its own."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from acm_sync.controller.platform.kubeapi import KubeApi
from acm_sync.controller.platform.kubeconfig import load_configuration
from acm_sync.controller.platform.leader import LeaderElector
from acm_sync_testbed.emulators.kube.server import KubeEmulator
from tests.cluster_backends import RealApi


class FakeClock:
    """A monotonic clock the test moves by hand (no sleeping in unit tests)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def kube_api(
    backend: str, real_api_servers: dict[str, RealApi], tmp_path: Path
) -> Iterator[KubeApi]:
    emulator = KubeEmulator().start() if backend == "emulator" else None
    try:
        kubeconfig = (
            emulator.write_kubeconfig(tmp_path / "kc")
            if emulator is not None
            else real_api_servers[backend].kubeconfig
        )
        api = KubeApi(load_configuration(str(kubeconfig)))
        yield api
        api.close()
    finally:
        if emulator is not None:
            emulator.stop()


@pytest.fixture
def ns(kube_api: KubeApi) -> str:
    """A namespace of the test's own for its Lease (the real cluster is shared)."""
    name = f"lease-{uuid.uuid4().hex[:8]}"
    status, body = kube_api.request(
        "POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                        "metadata": {"name": name}}
    )  # fmt: skip
    assert status == 201, body
    return name


def _lease(api: KubeApi, ns: str) -> dict[str, object]:
    status, body = api.request(
        "GET", f"/apis/coordination.k8s.io/v1/namespaces/{ns}/leases/acm-sync-leader"
    )
    assert status == 200
    return dict(body["spec"])


def test_one_leader_then_takeover_after_the_lease_expires(kube_api: KubeApi, ns: str) -> None:
    clock = FakeClock()
    leader = LeaderElector(kube_api, ns, 15, identity="a", monotonic=clock)
    standby = LeaderElector(kube_api, ns, 15, identity="b", monotonic=clock)
    assert leader.try_acquire_or_renew()
    assert not standby.try_acquire_or_renew()
    assert _lease(kube_api, ns)["holderIdentity"] == "a"
    # The leader keeps renewing: the standby never takes over, however long it waits.
    for _ in range(5):
        clock.now += 10
        assert leader.try_acquire_or_renew()
        assert not standby.try_acquire_or_renew()
    # The leader dies: its record stops changing. Not yet expired after 14s...
    clock.now += 14
    assert not standby.try_acquire_or_renew()
    # ...taken over once it has been unchanged for the lease duration.
    clock.now += 2
    assert standby.try_acquire_or_renew()
    spec = _lease(kube_api, ns)
    assert spec["holderIdentity"] == "b"
    assert spec["leaseTransitions"] == 1
    # The old leader, back from a pause, finds it has lost the Lease.
    assert not leader.try_acquire_or_renew()


def test_release_hands_over_at_once(kube_api: KubeApi, ns: str) -> None:
    clock = FakeClock()
    leader = LeaderElector(kube_api, ns, 15, identity="a", monotonic=clock)
    standby = LeaderElector(kube_api, ns, 15, identity="b", monotonic=clock)
    assert leader.try_acquire_or_renew()
    assert not standby.try_acquire_or_renew()
    leader.release()
    assert standby.try_acquire_or_renew()


def test_acquire_returns_false_when_stopped(kube_api: KubeApi, ns: str) -> None:
    holder = LeaderElector(kube_api, ns, 15, identity="a")
    assert holder.try_acquire_or_renew()
    stop = threading.Event()
    stop.set()
    assert not LeaderElector(kube_api, ns, 15, identity="b").acquire(stop)


def test_leadership_lost_when_renewal_keeps_failing(kube_api: KubeApi, ns: str) -> None:
    clock = FakeClock()
    leader = LeaderElector(kube_api, ns, 0.6, identity="a", monotonic=clock)
    assert leader.try_acquire_or_renew()
    lost = threading.Event()
    stop = threading.Event()
    # Another replica steals the Lease (e.g. after this one was paused past the deadline).
    thief = LeaderElector(kube_api, ns, 0.6, identity="c", monotonic=clock)
    assert not thief.try_acquire_or_renew()
    clock.now += 10
    assert thief.try_acquire_or_renew()
    leader.keep_renewing(stop, lost.set)
    try:
        assert lost.wait(5), "the old leader must notice it lost the Lease"
    finally:
        stop.set()
    assert not leader.is_leader
