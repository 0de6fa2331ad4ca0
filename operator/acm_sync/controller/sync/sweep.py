"""The periodic sweep: drift repair through the engine's batched sweep, and expiry re-evaluation.

One paged LIST of AcmCertificates and one engine sweep per region, however many objects there
are; only the objects that drifted, or whose Expiring condition must flip, are reconciled.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from acm_sync.controller.platform.kubeapi import JsonObj
from acm_sync.controller.sync import spec as specs
from acm_sync.controller.sync import statusfields as st
from acm_sync.controller.sync.accounts import engines_in_use
from acm_sync.controller.sync.acmtargets import check_target
from acm_sync.controller.sync.ports import Ports
from acm_sync.controller.watch.workqueue import Key
from acm_sync.core.planner import Drift, DriftKind
from acm_sync.core.reasons import ConditionType
from acm_sync.core.state import Owner, RegionRecord

log = logging.getLogger(__name__)


@dataclass(slots=True)
class SweepReport:
    """What one sweep found (logged, and returned for tests)."""

    objects: int = 0
    regions: int = 0
    drifted: list[tuple[Key, str]] = field(default_factory=list)
    # Records older than what ACM holds of acm-sync's own: refreshed, not reported as drift.
    stale: list[tuple[Key, str]] = field(default_factory=list)
    expiry_flips: list[Key] = field(default_factory=list)
    refreshed: list[tuple[Key, str]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


class SweepSink(Protocol):
    """Where the sweep hands what it found (the reconciler)."""

    def trigger(self, key: Key, urgent: bool = False) -> None:
        """Reconcile ``key`` soon."""
        ...

    def refresh(self, drift: Drift, target: str = "") -> None:
        """Record fresher facts of a pair's certificate for its next reconcile."""
        ...

    def force_verify(self, key: Key, region: str, target: str = "") -> None:
        """Make the next reconcile of ``key`` re-check a pair against ACM."""
        ...


class Sweeper:
    """Runs :meth:`sweep_once` every ``interval`` seconds until stopped."""

    def __init__(self, ports: Ports, sink: SweepSink, interval: float) -> None:
        self.ports = ports
        self.sink = sink
        self.interval = interval

    async def run(self, stop: asyncio.Event, first_delay: float | None = None) -> None:
        """Wait ``first_delay`` (default: ``interval``), sweep, then every ``interval``.

        A leader that took the Lease over from one that did not release it sweeps at once:
        that is the cheap re-verification (one listing per region) of every object's record.
        """
        delay = self.interval if first_delay is None else first_delay
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), timeout=delay)
                return
            except TimeoutError:
                pass
            delay = self.interval
            try:
                report = await self.sweep_once()
                log.info(
                    "Sweep: %d objects, %d regions, %d drifted, %d expiry changes",
                    report.objects,
                    report.regions,
                    len(report.drifted),
                    len(report.expiry_flips),
                )
            except Exception:
                log.exception("Sweep failed; retrying at the next interval")

    async def sweep_once(self) -> SweepReport:
        """One pass over every watched AcmCertificate."""
        ports = self.ports
        report = SweepReport()
        now = ports.clock()
        by_pair: dict[st.Pair, list[tuple[Owner, RegionRecord]]] = {}
        pages = ports.kube.acmcert_pages(ports.config.namespaces)

        def next_page() -> list[JsonObj] | None:
            return next(pages, None)

        # A page of objects at a time, of which only the records are kept: at 10,000 objects
        # the whole listing at once was most of the operator's peak memory.
        while (page := await ports.in_kube_pool(next_page)) is not None:
            report.objects += len(page)
            for obj in page:
                self._collect(obj, now, by_pair, report)
        await self._check_targets()
        engines = engines_in_use(ports.engine, ports.targets if ports.targets_enabled else None)
        for (target, region), records in sorted(by_pair.items()):
            engine = engines.get(target)
            if engine is None:
                continue  # not used since the start: its next sync reads ACM anyway
            report.regions += 1
            where = f"{target}/{region}" if target else region
            try:
                drifts = await ports.in_aws_pool(engine.sweep, region, records)
            except Exception as exc:
                report.errors.append(f"{where}: {exc}")
                log.warning("Sweep of %s failed: %s", where, exc)
                continue
            for drift in drifts:
                self._hand_over(drift, target, report)
        return report

    def _hand_over(self, drift: Drift, target: str, report: SweepReport) -> None:
        """Tell the reconciler what one drift asks of its pair."""
        key: Key = (drift.owner.namespace, drift.owner.name)
        where = f"{target}/{drift.region}" if target else drift.region
        if drift.kind is DriftKind.REFRESHED:
            report.refreshed.append((key, where))
            self.sink.refresh(drift, target)
            return
        if drift.kind is DriftKind.EXPIRED:
            # Expired in ACM with our fingerprint: only a renewed Secret can help, and its
            # change triggers a sync anyway.
            return
        if drift.kind is DriftKind.STALE_RECORD:
            report.stale.append((key, where))
            log.info("Status of %s/%s in %s is out of date; refreshing", *key, where)
        else:
            report.drifted.append((key, where))
            log.info("Drift in %s for %s/%s: %s", where, *key, drift)
        self.sink.force_verify(key, drift.region, target=target)

    def _collect(
        self,
        obj: JsonObj,
        now: datetime,
        by_pair: dict[st.Pair, list[tuple[Owner, RegionRecord]]],
        report: SweepReport,
    ) -> None:
        """Keep one object's records for the engine sweeps; trigger it if Expiring must flip."""
        ports = self.ports
        meta = obj.get("metadata") or {}
        if meta.get("deletionTimestamp"):
            return
        key: Key = (str(meta.get("namespace")), str(meta.get("name")))
        status = obj.get("status") or {}
        # A suspended object gets no AWS call, not even the sweep's drift check.
        recorded = {} if specs.is_suspended(obj) else st.pair_records(status)
        owner = ports.owner(key)
        for pair, record in recorded.items():
            if record.arn:
                by_pair.setdefault(pair, []).append((owner, record))
        should = st.expiry_state(st.expiry_basis(status), ports.config.expiry_warning_days, now)
        condition = st.conditions_by_type(status).get(ConditionType.EXPIRING, {})
        shown = (condition.get("status"), condition.get("reason"))
        # ExpiresSoon -> Expired is a change too; the reason of a False one is not.
        if should is not None and (
            should[0] != shown[0] or (should[0] == "True" and should != shown)
        ):
            report.expiry_flips.append(key)
            self.sink.trigger(key)

    async def _check_targets(self) -> None:
        """Assume every AcmTarget's role again and write its status."""
        ports = self.ports
        if ports.targets is None or not ports.targets_enabled:
            return
        try:
            names = [
                str(t["metadata"]["name"])
                for t in await ports.in_kube_pool(ports.kube.list_acmtargets)
            ]
        except Exception as exc:  # no AcmTarget CRD installed, or no RBAC for it
            log.warning("Listing AcmTargets failed: %s", exc)
            names = []
        for name in names:
            await ports.in_aws_pool(check_target, ports.kube, ports.targets, name, ports.clock())
