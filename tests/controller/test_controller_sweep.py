"""The sweep re-evaluates expiry on a timer and hands drift to the reconciler (no cluster)."""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from acm_sync.controller.platform.flags import OperatorConfig
from acm_sync.controller.platform.metrics import Metrics
from acm_sync.controller.sync.ports import Ports
from acm_sync.controller.sync.reconciler import Reconciler
from acm_sync.controller.sync.sweep import Sweeper
from acm_sync.controller.watch.view import WatchView
from acm_sync.core.planner import Drift, DriftKind
from acm_sync.core.state import Owner, RegionRecord

NOW = datetime(2026, 6, 1, tzinfo=UTC)
ARN = "arn:aws:acm:us-east-1:123456789012:certificate/abc"


def _obj(name: str, not_after: datetime, expiring: str) -> dict[str, Any]:
    return {
        "metadata": {"namespace": "ns", "name": name},
        "status": {
            "notAfter": not_after.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "regions": [{"region": "us-east-1", "arn": ARN, "fingerprint": "f"}],
            "conditions": [{"type": "Expiring", "status": expiring}],
        },
    }


class FakeKube:
    """The objects in LIST pages of two, as the API server pages them (of 500)."""

    def __init__(self, objects: list[dict[str, Any]]) -> None:
        self.objects = objects

    def acmcert_pages(self, namespaces: tuple[str, ...]) -> Iterator[list[dict[str, Any]]]:
        for start in range(0, len(self.objects), 2):
            yield self.objects[start : start + 2]


class Obj(dict[str, Any]):
    """An object that can be watched for being freed (a plain dict cannot be weakly referenced)."""


class StreamedKube:
    """Pages made on request; records which earlier objects were still alive at each request."""

    def __init__(self, pages: int) -> None:
        self.pages = pages
        self.handed: list[weakref.ref[Obj]] = []
        self.alive_at_request: list[int] = []

    def _page(self, number: int) -> list[dict[str, Any]]:
        page = [Obj(_obj(f"o-{number}-{i}", NOW + timedelta(days=80), "False")) for i in range(3)]
        self.handed.extend(weakref.ref(o) for o in page)
        return list(page)

    def acmcert_pages(self, namespaces: tuple[str, ...]) -> Iterator[list[dict[str, Any]]]:
        for number in range(self.pages):
            gc.collect()
            self.alive_at_request.append(sum(1 for ref in self.handed if ref() is not None))
            yield self._page(number)


class FakeEngine:
    def __init__(self) -> None:
        self.swept: list[tuple[str, int]] = []

    def sweep(self, region: str, records: Sequence[tuple[Owner, RegionRecord]]) -> list[Drift]:
        self.swept.append((region, len(records)))
        owner = Owner("c", "ns", "drifted")
        return [
            Drift(owner, region, ARN, DriftKind.DELETED, "deleted out of band"),
            Drift(Owner("c", "ns", "old"), region, ARN, DriftKind.EXPIRED, "expired"),
        ]

    def sync(self, *a: Any) -> dict[str, Any]:
        raise AssertionError("the sweep itself never syncs")

    def delete(self, *a: Any) -> dict[str, Any]:
        raise AssertionError("the sweep never deletes")

    def close(self) -> None:
        return None


def test_sweep_flips_expiry_on_time_and_forwards_drift(monkeypatch: pytest.MonkeyPatch) -> None:
    objects = [
        # Was fine, is now within 30 days: must be re-evaluated although nothing changed.
        _obj("aging", NOW + timedelta(days=20), "False"),
        _obj("fine", NOW + timedelta(days=80), "False"),
        _obj("drifted", NOW + timedelta(days=80), "False"),
    ]
    engine = FakeEngine()

    async def scenario() -> tuple[Any, list[tuple[str, str]]]:
        ports = Ports(
            FakeKube(objects),  # type: ignore[arg-type]
            engine,
            OperatorConfig(expiry_warning_days=30),
            "c",
            Metrics(),
            clock=lambda: NOW,
        )
        reconciler = Reconciler(ports, WatchView())
        triggered: list[tuple[str, str]] = []
        # Record what the sweep hands over instead of queueing it for a worker.
        monkeypatch.setattr(
            reconciler.queue, "trigger", lambda key, urgent=False: triggered.append(key)
        )
        report = await Sweeper(ports, reconciler, 600).sweep_once()
        await reconciler.close()
        return report, triggered

    report, triggered = asyncio.run(scenario())
    assert report.objects == 3
    assert engine.swept == [("us-east-1", 3)]  # one batched sweep per region
    assert report.expiry_flips == [("ns", "aging")]
    assert report.drifted == [(("ns", "drifted"), "us-east-1")]  # Expired alone is no drift
    assert sorted(triggered) == [("ns", "aging"), ("ns", "drifted")]


def test_the_sweep_holds_one_page_of_objects_at_a_time_not_every_object() -> None:
    # At 10,000 objects, holding the whole listing during the sweep was the operator's peak.
    kube, engine = StreamedKube(pages=5), FakeEngine()

    async def scenario() -> Any:
        ports = Ports(
            kube,  # type: ignore[arg-type]
            engine,
            OperatorConfig(expiry_warning_days=30),
            "c",
            Metrics(),
            clock=lambda: NOW,
        )
        reconciler = Reconciler(ports, WatchView())
        report = await Sweeper(ports, reconciler, 600).sweep_once()
        await reconciler.close()
        return report

    report = asyncio.run(scenario())
    assert report.objects == 15
    assert engine.swept == [("us-east-1", 15)]  # every record still swept, in one batch
    # When a page is requested, at most the previous page (3 objects) is still referenced.
    assert kube.alive_at_request == [0, 3, 3, 3, 3]
