"""The reconcile path in-process: status writing, restarts from the watch, region removal, the
finalizer, all over recording fakes (no kopf, no subprocess, no emulator)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from acm_sync.controller.platform.kubeapi import JsonObj
from acm_sync.controller.sync.finalizer import DeletionPending, Finalizer
from tests.certkit import IssuedPem, TestCA, serial_hex, tls_secret
from tests.controller.ctrlkit import FakeEngine, FakeKube, Harness

NS = "apps"
KEY = (NS, "web")
REGIONS = ["us-east-1", "eu-west-1"]


def manifest(regions: list[str], policy: str = "Retain") -> JsonObj:
    return {
        "metadata": {"namespace": NS, "name": "web"},
        "spec": {"secretName": "web-tls", "regions": regions, "deletionPolicy": policy},
    }


def cluster(issued: IssuedPem, regions: list[str] = REGIONS, policy: str = "Retain") -> FakeKube:
    kube = FakeKube()
    kube.put_secret(NS, tls_secret("web-tls", issued))
    kube.put_object(manifest(regions, policy))
    return kube


def run(scenario: Callable[[], Awaitable[Any]]) -> Any:
    return asyncio.run(asyncio.wait_for(scenario(), 30))


def status(kube: FakeKube) -> JsonObj:
    return dict(kube.objects[KEY].get("status") or {})


def ready(kube: FakeKube) -> JsonObj:
    return next(c for c in status(kube)["conditions"] if c["type"] == "Ready")


async def synced_once(kube: FakeKube, engine: FakeEngine) -> None:
    """A first operator syncs the object and stops."""
    first = Harness(kube, engine)
    first.listing()
    await first.reconcile(KEY)
    await first.close()


def test_first_sync_writes_the_status_and_says_what_it_imported() -> None:
    issued = TestCA().issue("web.example.com")
    kube, engine = cluster(issued), FakeEngine()
    run(lambda: synced_once(kube, engine))
    assert engine.synced == [("web", tuple(REGIONS))]
    assert ready(kube)["status"] == "True"
    assert ready(kube)["reason"] == "Synced"
    regions = {e["region"]: e for e in status(kube)["regions"]}
    assert sorted(regions) == sorted(REGIONS)
    assert all(e["arn"].startswith(f"arn:aws:acm:{r}:") for r, e in regions.items())
    # The kubectl columns: regions as a plain list, no TARGETS count without spec.targets.
    assert status(kube)["regionList"] == ",".join(REGIONS)
    assert "pairs" not in status(kube)
    # What a restart compares against, kept out of the fields people read.
    assert status(kube)["internal"]["contentHash"]
    assert "contentHash" not in status(kube)["secret"]
    assert all("fingerprint" not in e for e in regions.values())
    # One Imported per region, and the Ready condition's flip to Synced.
    assert sorted(r for _, kind, r, _ in kube.events if kind == "Normal") == [
        "Imported",
        "Imported",
        "Synced",
    ]
    # No key material in the status, nor in any Event.
    written = repr(kube.objects[KEY]) + repr(kube.events)
    assert issued.key_body[:40] not in written


def test_restart_in_sync_reads_neither_object_nor_secret_and_calls_no_engine() -> None:
    issued = TestCA().issue("web.example.com")
    kube, engine = cluster(issued), FakeEngine()
    run(lambda: synced_once(kube, engine))
    version = kube.objects[KEY]["metadata"]["resourceVersion"]
    kube.requests.clear()
    engine.synced.clear()

    second = Harness(kube, engine)

    async def restart() -> None:
        second.listing()
        await second.reconcile(KEY)
        await second.close()

    run(restart)
    assert kube.requests == []  # no GET of the object or the Secret, no status write
    assert engine.synced == []
    assert kube.objects[KEY]["metadata"]["resourceVersion"] == version
    assert 'acmsync_sync_total{reason="Synced",result="success"} 1.0' in (
        second.metrics.render().decode()
    )
    # The view keeps a digest of the Secret, never its data.
    assert issued.key_body[:40] not in repr(second.view.__dict__)


def test_a_secret_rotated_while_down_is_read_and_reimported_on_restart() -> None:
    ca = TestCA()
    kube, engine = cluster(ca.issue("web.example.com")), FakeEngine()
    run(lambda: synced_once(kube, engine))
    arns = {e["region"]: e["arn"] for e in status(kube)["regions"]}
    rotated = ca.issue("web.example.com")
    kube.put_secret(NS, tls_secret("web-tls", rotated))
    kube.requests.clear()

    second = Harness(kube, engine)

    async def restart() -> None:
        second.listing()
        await second.reconcile(KEY)
        await second.close()

    run(restart)
    assert kube.count("get_secret") == 1
    assert kube.count("get_acmcert") == 0
    assert engine.synced[-1] == ("web", tuple(REGIONS))
    assert {e["region"]: e["arn"] for e in status(kube)["regions"]} == arns  # same ARNs
    assert status(kube)["secret"]["serialNumber"] == serial_hex(rotated.serial)
    assert [r for _, _, r, _ in kube.events].count("Reimported") == 2


@pytest.mark.parametrize(("policy", "deleted"), [("Delete", True), ("Retain", False)])
def test_a_region_removed_from_the_spec_is_deleted_or_retained(policy: str, deleted: bool) -> None:
    kube, engine = cluster(TestCA().issue("web.example.com"), policy=policy), FakeEngine()

    async def scenario() -> None:
        harness = Harness(kube, engine)
        harness.listing()
        await harness.reconcile(KEY)
        harness.watch(KEY)  # the watch delivers the status just written
        kube.put_object(manifest(["us-east-1"], policy))  # the user drops eu-west-1
        harness.watch(KEY)
        await harness.reconcile(KEY)
        await harness.close()

    run(scenario)
    assert engine.deleted == ([("web", ("eu-west-1",))] if deleted else [])
    assert [e["region"] for e in status(kube)["regions"]] == ["us-east-1"]
    assert status(kube)["regionList"] == "us-east-1"
    reasons = [r for _, _, r, _ in kube.events]
    assert ("Deleted" in reasons) is deleted
    assert ("Retained" in reasons) is not deleted


def test_a_status_computed_from_a_stale_read_is_refused_and_redone_from_the_newer() -> None:
    kube, engine = cluster(TestCA().issue("web.example.com")), FakeEngine()

    async def scenario() -> None:
        harness = Harness(kube, engine)
        harness.listing()  # the view holds the object before anyone wrote a status
        # A new leader got there first; the watch has not delivered its write yet.
        kube.patch_acmcert_status(NS, "web", {"secret": {"serialNumber": "newer"}})
        await harness.reconcile(KEY)
        await harness.close()

    run(scenario)
    assert kube.refused == 1  # the run that started from the stale view wrote nothing
    assert ready(kube)["reason"] == "Synced"  # the next run started from the newer status
    # Only the run whose status was written said anything: one Imported per region.
    assert [r for _, _, r, _ in kube.events].count("Imported") == 2


def test_the_finalizer_waits_for_a_certificate_in_use_then_releases() -> None:
    kube, engine = cluster(TestCA().issue("web.example.com"), policy="Delete"), FakeEngine()
    run(lambda: synced_once(kube, engine))
    engine.in_use = {"eu-west-1"}
    forgotten: list[tuple[str, str]] = []
    results: list[DeletionPending | None] = []
    blocked_events: list[int] = []

    async def scenario() -> None:
        harness = Harness(kube, engine)
        writer = harness.reconciler.writer
        finalizer = Finalizer(harness.ports, harness.reconciler.queue, writer, forgotten.append)

        async def finalize() -> None:
            try:
                await finalizer.finalize(KEY)
                results.append(None)
            except DeletionPending as exc:
                results.append(exc)
            blocked_events.append([r for _, _, r, _ in kube.events].count("DeletionBlocked"))

        engine.in_use = {"eu-west-1"}
        await finalize()
        assert ready(kube)["reason"] == "DeletionBlocked"
        assert "eu-west-1: ResourceInUse" in ready(kube)["message"]
        assert [e["region"] for e in status(kube)["regions"]] == ["eu-west-1"]
        await finalize()  # still in use
        engine.in_use = set()
        await finalize()
        await harness.close()

    run(scenario)
    first, again, last = results
    assert isinstance(first, DeletionPending)
    assert first.delay == 5.0
    assert isinstance(again, DeletionPending)
    assert last is None
    assert blocked_events == [1, 1, 1]  # said once, not on every retry
    assert forgotten == [KEY]  # released only when every region is deleted
    assert "eu-west-1" in engine.deleted[-1][1]
    said = [m for _, _, r, m in kube.events if r == "Deleted"]
    assert any("in us-east-1" in m for m in said[:1])  # freed at once, said as it happened
    assert any("in eu-west-1" in m for m in said[1:])
