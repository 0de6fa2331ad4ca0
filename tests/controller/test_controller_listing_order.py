"""A start where the AcmCertificates' listing outruns the Secrets': wait for it, do not GET."""

from __future__ import annotations

import asyncio
import copy

import pytest

from acm_sync.controller.watch import workqueue
from tests.certkit import TestCA
from tests.controller.ctrlkit import FakeEngine, FakeKube, Harness
from tests.controller.test_controller_reconcile import KEY, cluster, run, synced_once


def restarted(kube: FakeKube, engine: FakeEngine) -> Harness:
    """A second operator whose watch has shown the objects but none of the Secrets yet."""
    kube.requests.clear()
    engine.synced.clear()
    harness = Harness(kube, engine)
    for obj in kube.objects.values():
        harness.view.object_event(None, copy.deepcopy(obj))
    return harness


def test_an_object_seen_before_its_secret_waits_for_the_listing_instead_of_reading_it() -> None:
    kube, engine = cluster(TestCA().issue("web.example.com")), FakeEngine()
    run(lambda: synced_once(kube, engine))
    second = restarted(kube, engine)

    async def restart() -> None:
        await second.reconcile(KEY)  # the Secret is not listed yet: look again shortly
        assert kube.requests == []
        for secret in kube.secrets.values():  # the Secrets' listing arrives
            second.view.secret_event(None, copy.deepcopy(secret))
        await second.reconcile(KEY)
        await second.close()

    run(restart)
    assert kube.requests == []  # verified from the status: no GET, no write
    assert engine.synced == []
    assert 'acmsync_sync_total{reason="Synced",result="success"} 1.0' in (
        second.metrics.render().decode()
    )


def test_a_secret_never_listed_is_read_at_the_start_up_deadline(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    kube, engine = cluster(TestCA().issue("web.example.com")), FakeEngine()
    run(lambda: synced_once(kube, engine))
    monkeypatch.setattr(workqueue, "LISTING_DEADLINE", 0.3)
    second = restarted(kube, engine)

    async def restart() -> None:
        await second.reconcile(KEY)  # parked: nothing read
        assert kube.requests == []
        for _ in range(100):  # no trigger: the deadline wakes it, and it reads the Secret
            await asyncio.sleep(0.05)
            if kube.requests and not second.reconciler.queue.busy:
                break
        await second.close()

    run(restart)
    assert [r[0] for r in kube.requests].count("get_secret") == 1
