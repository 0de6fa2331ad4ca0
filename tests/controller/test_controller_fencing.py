"""Fencing: a leader stops writing to ACM before any standby may take over.

The guard timing is driven by a hand-moved clock (no sleeping, no timed assertions); the
runtime tests check that the guard the engine gets is the elector's (or always-true without
leader election).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from acm_sync.controller.platform.engine_api import EngineLike
from acm_sync.controller.platform.flags import OperatorConfig
from acm_sync.controller.platform.kubeapi import JsonObj, KubeApi
from acm_sync.controller.platform.kubeconfig import load_configuration
from acm_sync.controller.platform.leader import LeaderElector
from acm_sync.controller.platform.metrics import Metrics
from acm_sync.controller.runtime import OperatorThread
from acm_sync.core.model import Material
from acm_sync.core.planner import Drift
from acm_sync.core.state import DesiredState, Owner, RegionOutcome, RegionRecord
from acm_sync_testbed.emulators.kube.server import KubeEmulator
from acm_sync_testbed.playground import apply_crds, find_crds

STEP = 0.25  # seconds of fake time between two looks at the guard


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 5000.0

    def __call__(self) -> float:
        return self.now


def unreachable(*_: object, **__: object) -> tuple[int, JsonObj]:
    """A leader cut off from the API server (a network partition)."""
    raise ConnectionError("the API server is unreachable")


@pytest.fixture(scope="module")
def kube() -> Iterator[KubeEmulator]:
    emulator = KubeEmulator().start()
    crds = find_crds(None)
    assert crds is not None, "the CRDs installed with the test bed were not found"
    apply_crds(emulator, crds)
    try:
        yield emulator
    finally:
        emulator.stop()


@pytest.fixture
def make_api(kube: KubeEmulator, tmp_path: Path) -> Iterator[Callable[[], KubeApi]]:
    apis: list[KubeApi] = []
    kubeconfig = str(kube.write_kubeconfig(tmp_path / "kubeconfig"))

    def make() -> KubeApi:
        apis.append(KubeApi(load_configuration(kubeconfig)))
        return apis[-1]

    yield make
    for api in apis:
        api.close()


@pytest.fixture
def kube_api(make_api: Callable[[], KubeApi]) -> KubeApi:
    return make_api()


@pytest.mark.parametrize("duration", [3.0, 15.0, 15.4, 60.0])
def test_a_leader_whose_renewals_fail_stops_writing_before_a_standby_can_take_over(
    make_api: Callable[[], KubeApi], monkeypatch: pytest.MonkeyPatch, duration: float
) -> None:
    clock = Clock()
    lease = f"fence-{str(duration).replace('.', '-')}"
    leader_api = make_api()
    leader = LeaderElector(
        leader_api, "default", duration, identity="a", name=lease, monotonic=clock
    )
    standby = LeaderElector(
        make_api(), "default", duration, identity="b", name=lease, monotonic=clock
    )
    assert leader.try_acquire_or_renew()
    assert leader.may_write()
    # One renewal, seen by the standby at the very instant it was made: the standby's worst
    # case, when its clock starts counting as early as it possibly can.
    clock.now += leader.renew_period
    assert leader.try_acquire_or_renew()
    renewed_at = clock.now
    assert not standby.try_acquire_or_renew()
    monkeypatch.setattr(leader_api, "request", unreachable)

    last_write_ok = renewed_at
    while not standby.try_acquire_or_renew():
        assert clock.now < renewed_at + 3 * duration, "the standby never took over"
        with pytest.raises(ConnectionError):
            leader.try_acquire_or_renew()  # the leader keeps trying, in vain
        if leader.may_write():
            last_write_ok = clock.now
        clock.now += STEP
    taken_over_at = clock.now

    assert not leader.may_write()
    # The guard closed at least a third of the lease before the standby acquired...
    assert taken_over_at - last_write_ok >= duration / 3 - STEP
    # ...but a single failed renewal does not stop the writes.
    assert last_write_ok > renewed_at + leader.renew_period


def test_the_guard_opens_on_acquire_and_closes_at_once_when_the_lease_is_taken(
    kube_api: KubeApi,
) -> None:
    clock = Clock()
    leader = LeaderElector(kube_api, "default", 15, identity="a", name="taken", monotonic=clock)
    assert not leader.may_write()  # not before the Lease is held
    assert leader.try_acquire_or_renew()
    assert leader.may_write()
    # The Lease is overwritten by another replica (a healed partition): the next renewal
    # sees it, and the guard closes although the write window has not elapsed.
    status, lease = kube_api.request(
        "GET", "/apis/coordination.k8s.io/v1/namespaces/default/leases/taken"
    )
    assert status == 200
    lease["spec"]["holderIdentity"] = "intruder"
    status, _ = kube_api.request(
        "PUT", "/apis/coordination.k8s.io/v1/namespaces/default/leases/taken", lease
    )
    assert status == 200
    clock.now += 1
    assert not leader.try_acquire_or_renew()
    assert not leader.may_write()


def test_the_guard_closes_when_the_lease_is_released(kube_api: KubeApi) -> None:
    clock = Clock()
    leader = LeaderElector(kube_api, "default", 15, identity="a", name="released", monotonic=clock)
    assert leader.try_acquire_or_renew()
    leader.release()
    assert not leader.may_write()


class RecordingEngine:
    """An engine that only remembers the write guard it was built with."""

    def __init__(self, guard: Callable[[], bool]) -> None:
        self.guard = guard

    def sync(
        self, desired: DesiredState, material: Material, records: Mapping[str, RegionRecord]
    ) -> dict[str, RegionOutcome]:
        return {}

    def delete(
        self,
        owner: Owner,
        records: Mapping[str, RegionRecord],
        held: Collection[str] = frozenset(),
    ) -> dict[str, RegionOutcome]:
        return {}

    def sweep(self, region: str, records: Sequence[tuple[Owner, RegionRecord]]) -> list[Drift]:
        return []

    def close(self) -> None:
        return None


def _run_operator(
    kube: KubeEmulator, tmp_path: Path, **options: Any
) -> tuple[OperatorThread, list[RecordingEngine]]:
    engines: list[RecordingEngine] = []

    def factory(config: OperatorConfig, metrics: Metrics, guard: Callable[[], bool]) -> EngineLike:
        engines.append(RecordingEngine(guard))
        return engines[-1]

    config = OperatorConfig(
        kubeconfig=str(kube.write_kubeconfig(tmp_path / "kubeconfig")),
        cluster_id="fence-test",
        metrics_port=0,
        **options,
    )
    operator = OperatorThread(config, factory)
    try:
        operator.start()
    except BaseException:
        operator.stop()
        raise
    return operator, engines


def test_without_leader_election_the_engine_may_always_write(
    kube: KubeEmulator, tmp_path: Path
) -> None:
    operator, engines = _run_operator(kube, tmp_path, leader_election=False)
    try:
        (engine,) = engines
        assert engine.guard()
    finally:
        operator.stop()
    assert engine.guard()


def test_with_leader_election_the_engine_writes_only_while_leading(
    kube: KubeEmulator, tmp_path: Path
) -> None:
    operator, engines = _run_operator(
        kube, tmp_path, leader_election=True, leader_election_namespace="default"
    )
    try:
        (engine,) = engines
        assert engine.guard()
    finally:
        operator.stop()
    # Stopping released the Lease: whatever still runs in the engine may no longer write.
    assert not engine.guard()
