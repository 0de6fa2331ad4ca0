"""Lease-based leader election against the Kubernetes API emulator (in-process, fast)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from acm_sync.controller.kubeapi import KubeApi, load_configuration
from acm_sync.controller.leader import LeaderElector
from acm_sync_testbed.emulators.kube.server import KubeEmulator


class FakeClock:
    """A monotonic clock the test moves by hand (no sleeping in unit tests)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def kube_api(tmp_path: Path) -> Iterator[KubeApi]:
    emulator = KubeEmulator().start()
    try:
        api = KubeApi(load_configuration(str(emulator.write_kubeconfig(tmp_path / "kc"))))
        yield api
        api.close()
    finally:
        emulator.stop()


def _lease(api: KubeApi) -> dict[str, object]:
    status, body = api.request(
        "GET", "/apis/coordination.k8s.io/v1/namespaces/default/leases/acm-sync-leader"
    )
    assert status == 200
    return dict(body["spec"])


def test_one_leader_then_takeover_after_the_lease_expires(kube_api: KubeApi) -> None:
    clock = FakeClock()
    leader = LeaderElector(kube_api, "default", 15, identity="a", monotonic=clock)
    standby = LeaderElector(kube_api, "default", 15, identity="b", monotonic=clock)
    assert leader.try_acquire_or_renew()
    assert not standby.try_acquire_or_renew()
    assert _lease(kube_api)["holderIdentity"] == "a"
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
    spec = _lease(kube_api)
    assert spec["holderIdentity"] == "b"
    assert spec["leaseTransitions"] == 1
    # The old leader, back from a pause, finds it has lost the Lease.
    assert not leader.try_acquire_or_renew()


def test_release_hands_over_at_once(kube_api: KubeApi) -> None:
    clock = FakeClock()
    leader = LeaderElector(kube_api, "default", 15, identity="a", monotonic=clock)
    standby = LeaderElector(kube_api, "default", 15, identity="b", monotonic=clock)
    assert leader.try_acquire_or_renew()
    assert not standby.try_acquire_or_renew()
    leader.release()
    assert standby.try_acquire_or_renew()


def test_acquire_returns_false_when_stopped(kube_api: KubeApi) -> None:
    holder = LeaderElector(kube_api, "default", 15, identity="a")
    assert holder.try_acquire_or_renew()
    stop = threading.Event()
    stop.set()
    assert not LeaderElector(kube_api, "default", 15, identity="b").acquire(stop)


def test_leadership_lost_when_renewal_keeps_failing(kube_api: KubeApi) -> None:
    clock = FakeClock()
    leader = LeaderElector(kube_api, "default", 0.6, identity="a", monotonic=clock)
    assert leader.try_acquire_or_renew()
    lost = threading.Event()
    stop = threading.Event()
    # Another replica steals the Lease (e.g. after this one was paused past the deadline).
    thief = LeaderElector(kube_api, "default", 0.6, identity="c", monotonic=clock)
    assert not thief.try_acquire_or_renew()
    clock.now += 10
    assert thief.try_acquire_or_renew()
    leader.keep_renewing(stop, lost.set)
    try:
        assert lost.wait(5), "the old leader must notice it lost the Lease"
    finally:
        stop.set()
    assert not leader.is_leader
