"""Resync requests are paced per object: one answered every interval, a quicker one waits.

Each answered request reads every pair from ACM. Whoever may annotate an AcmCertificate may
ask, so a loop of annotations must not turn into a loop of ACM reads spending the rate budget
every namespace shares: a request that comes too soon is answered once the interval has passed.
"""

from __future__ import annotations

import asyncio

from acm_sync.controller.sync.resyncrequest import ResyncPacer
from tests.certkit import TestCA
from tests.controller.ctrlkit import FakeEngine, FakeKube, Harness
from tests.controller.test_controller_reconcile import KEY, cluster, status

RESYNC = "acmsync.io/resync-requested-at"


def ask(kube: FakeKube, h: Harness, value: str) -> None:
    obj = kube.objects[KEY]
    obj["metadata"].setdefault("annotations", {})[RESYNC] = value
    kube.put_object(obj)
    h.watch(KEY)


def test_a_second_resync_within_the_interval_waits_for_it() -> None:
    kube, engine, now = cluster(TestCA().issue("web.example.com")), FakeEngine(), [0.0]

    async def scenario() -> None:
        h = Harness(kube, engine)
        h.reconciler.resyncs = ResyncPacer(min_interval=10, clock=lambda: now[0])
        h.listing()
        await h.reconcile(KEY)
        assert len(engine.synced) == 1

        ask(kube, h, "first")
        await h.reconcile(KEY)
        assert status(kube)["lastResync"] == "first"
        assert len(engine.synced) == 2  # every pair read from ACM again

        now[0] = 3.0
        ask(kube, h, "second")
        await h.reconcile(KEY)
        assert status(kube)["lastResync"] == "first", "answered within the interval"
        assert len(engine.synced) == 2

        now[0] = 10.5
        await h.reconcile(KEY)
        assert status(kube)["lastResync"] == "second"
        assert len(engine.synced) == 3
        await h.close()

    asyncio.run(asyncio.wait_for(scenario(), 30))


def test_the_pacer_counts_from_the_last_answer_per_object() -> None:
    now = [100.0]
    pacer = ResyncPacer(min_interval=10, clock=lambda: now[0])
    assert pacer.wait(("a", "x")) == 0
    pacer.answered(("a", "x"))
    now[0] = 104.0
    assert pacer.wait(("a", "x")) == 6.0
    assert pacer.wait(("b", "x")) == 0  # another object is not held back
    pacer.forget(("a", "x"))
    assert pacer.wait(("a", "x")) == 0
