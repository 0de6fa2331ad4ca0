"""The operator's own account and an AcmTarget's account take one path: what the sweep reads
from ACM reaches the status of every pair alike (in-process, over the recording fakes)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from acm_sync.controller.platform.flags import OperatorConfig
from acm_sync.controller.platform.kubeapi import JsonObj
from acm_sync.controller.platform.metrics import Metrics
from acm_sync.controller.sync.ports import Ports
from acm_sync.controller.sync.reconciler import Reconciler
from acm_sync.controller.sync.sweep import Sweeper
from acm_sync.controller.watch.view import WatchView
from acm_sync.core.planner import Drift, DriftKind
from acm_sync.core.state import Owner, RegionRecord
from acm_sync.core.targets import RoleTarget
from tests.certkit import TestCA, tls_secret
from tests.controller.ctrlkit import NOW, FakeEngine, FakeKube

NS = "apps"
KEY = (NS, "web")
REGION = "us-east-1"
ROLE = "arn:aws:iam::210987654321:role/acm-sync"


class KubeWithTarget(FakeKube):
    """One AcmTarget, ``prod``, that any namespace may use."""

    def get_acmtarget(self, name: str) -> JsonObj | None:
        if name != "prod":
            return None
        return {"metadata": {"name": "prod", "generation": 1}, "spec": {"roleArn": ROLE}}

    def list_acmtargets(self) -> list[JsonObj]:
        return [t for t in [self.get_acmtarget("prod")] if t is not None]

    def patch_acmtarget_status(self, name: str, status_patch: JsonObj) -> JsonObj:
        return {}


class SweptEngine(FakeEngine):
    """Reports every swept certificate as now in use (a REFRESHED drift, nothing to repair)."""

    def sweep(self, region: str, records: Sequence[tuple[Owner, RegionRecord]]) -> list[Drift]:
        return [
            Drift(
                owner,
                region,
                record.arn or "",
                DriftKind.REFRESHED,
                "now in use",
                not_after=NOW + timedelta(days=300),
                in_use_by=("arn:aws:elasticloadbalancing:us-east-1:1:loadbalancer/app/web",),
            )
            for owner, record in records
        ]


class Engines:
    """The target engines: one recording engine for the one AcmTarget."""

    def __init__(self) -> None:
        self.prod = SweptEngine(account="210987654321")

    def engine(self, target: RoleTarget) -> SweptEngine:
        return self.prod

    def check(self, target: RoleTarget) -> str | None:
        return None

    def current(self) -> list[tuple[RoleTarget, SweptEngine]]:
        return [(RoleTarget("prod", ROLE, None), self.prod)]

    def forget(self, name: str) -> None:
        return None

    def close(self) -> None:
        return None


def entries(kube: FakeKube) -> dict[str, dict[str, Any]]:
    regions = kube.objects[KEY]["status"]["regions"]
    return {e.get("target", "") or "own": e for e in regions}


async def scenario() -> dict[str, dict[str, Any]]:
    kube = KubeWithTarget()
    kube.put_secret(NS, tls_secret("web-tls", TestCA().issue("web.example.com")))
    kube.put_object(
        {
            "metadata": {"namespace": NS, "name": "web"},
            "spec": {
                "secretName": "web-tls",
                "regions": [REGION],
                "targets": [{"target": "prod", "regions": [REGION]}],
            },
        }
    )
    own, engines = SweptEngine(), Engines()
    ports = Ports(
        kube, own, OperatorConfig(), "cluster", Metrics(), clock=lambda: NOW, targets=engines
    )
    view = WatchView()
    reconciler = Reconciler(ports, view)
    for secret in kube.secrets.values():
        view.secret_event(None, dict(secret))
    view.object_event(None, dict(kube.objects[KEY]))

    async def idle() -> None:
        for _ in range(500):
            await asyncio.sleep(0.01)
            if not reconciler.queue.busy:
                return
        raise AssertionError("still busy")

    try:
        reconciler.trigger(KEY)
        await idle()
        assert sorted(entries(kube)) == ["own", "prod"], entries(kube)
        assert not any("inUseBy" in e for e in entries(kube).values())
        view.object_event("MODIFIED", dict(kube.objects[KEY]))
        await Sweeper(ports, reconciler, 600).sweep_once()
        await idle()
        return entries(kube)
    finally:
        await reconciler.close()


def test_what_the_sweep_reads_from_acm_reaches_every_pair_in_the_status() -> None:
    """A certificate now in use shows in the status whether it is in the operator's own account
    or in an AcmTarget's (the target sweep used to drop these REFRESHED facts)."""
    found = asyncio.run(asyncio.wait_for(scenario(), 30))
    for pair in ("own", "prod"):
        assert found[pair].get("inUseBy"), (pair, found[pair])
        assert found[pair]["notAfter"] == (NOW + timedelta(days=300)).strftime(
            "%Y-%m-%dT%H:%M:%SZ"
        ), (pair, found[pair])
