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

from acm_sync.controller import spec as specs
from acm_sync.controller import status as st
from acm_sync.controller.kubeapi import JsonObj
from acm_sync.controller.ports import Ports
from acm_sync.controller.targets import check_target
from acm_sync.controller.workqueue import Key
from acm_sync.core.planner import Drift, DriftKind
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


def _drift_target(drift: Drift) -> tuple[Key, str] | None:
    if drift.kind in (DriftKind.EXPIRED, DriftKind.REFRESHED):
        # Expired in ACM with our fingerprint: only a renewed Secret can help, and its change
        # triggers a sync anyway.
        return None
    return (drift.owner.namespace, drift.owner.name), drift.region


class SweepSink(Protocol):
    """Where the sweep hands what it found (the reconciler)."""

    def trigger(self, key: Key, urgent: bool = False) -> None:
        """Reconcile ``key`` soon."""
        ...

    def refresh(self, drift: Drift) -> None:
        """Record fresher facts of a certificate for ``key``'s next reconcile."""
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
        rec = self.ports
        sink = self.sink
        report = SweepReport()
        now = rec.clock()
        by_region: dict[str, list[tuple[Owner, RegionRecord]]] = {}
        by_pair: dict[st.Pair, list[tuple[Owner, RegionRecord]]] = {}
        pages = rec.kube.acmcert_pages(rec.config.namespaces)

        def next_page() -> list[JsonObj] | None:
            return next(pages, None)

        # A page of objects at a time, of which only the records are kept: at 10,000 objects
        # the whole listing at once was most of the operator's peak memory.
        while (page := await rec.in_kube_pool(next_page)) is not None:
            report.objects += len(page)
            for obj in page:
                self._collect(obj, now, by_region, by_pair, report)
        report.regions = len(by_region)
        for region, records in sorted(by_region.items()):
            try:
                drifts = await rec.in_aws_pool(rec.engine.sweep, region, records)
            except Exception as exc:
                report.errors.append(f"{region}: {exc}")
                log.warning("Sweep of %s failed: %s", region, exc)
                continue
            for drift in drifts:
                if drift.kind is DriftKind.REFRESHED:
                    report.refreshed.append(((drift.owner.namespace, drift.owner.name), region))
                    sink.refresh(drift)
                target = _drift_target(drift)
                if target is None:
                    continue
                if drift.kind is DriftKind.STALE_RECORD:
                    report.stale.append(target)
                    log.info(
                        "Status of %s/%s in %s is out of date; refreshing", *target[0], target[1]
                    )
                else:
                    report.drifted.append(target)
                    log.info("Drift in %s for %s/%s: %s", target[1], *target[0], drift)
                sink.force_verify(*target)
        await self._sweep_targets(by_pair, report)
        return report

    def _collect(
        self,
        obj: JsonObj,
        now: datetime,
        by_region: dict[str, list[tuple[Owner, RegionRecord]]],
        by_pair: dict[st.Pair, list[tuple[Owner, RegionRecord]]],
        report: SweepReport,
    ) -> None:
        """Keep one object's records for the engine sweeps; trigger it if Expiring must flip."""
        rec = self.ports
        meta = obj.get("metadata") or {}
        if meta.get("deletionTimestamp"):
            return
        key: Key = (str(meta.get("namespace")), str(meta.get("name")))
        status = obj.get("status") or {}
        # A suspended object gets no AWS call, not even the sweep's drift check.
        recorded = {} if specs.is_suspended(obj) else st.pair_records(status)
        owner = rec.owner(key)
        for (via, region), record in recorded.items():
            if record.arn and not via:
                by_region.setdefault(region, []).append((owner, record))
            elif record.arn:
                by_pair.setdefault((via, region), []).append((owner, record))
        should = st.expiry_state(st.expiry_basis(status), rec.config.expiry_warning_days, now)
        condition = st.conditions_by_type(status).get(st.EXPIRING, {})
        shown = (condition.get("status"), condition.get("reason"))
        # ExpiresSoon -> Expired is a change too; the reason of a False one is not.
        if should is not None and (
            should[0] != shown[0] or (should[0] == "True" and should != shown)
        ):
            report.expiry_flips.append(key)
            self.sink.trigger(key)

    async def _sweep_targets(
        self, by_pair: dict[st.Pair, list[tuple[Owner, RegionRecord]]], report: SweepReport
    ) -> None:
        """Re-check every AcmTarget's role, then sweep the target pairs like the regions."""
        rec = self.ports
        if rec.targets is None or not rec.targets_enabled:
            return
        targets = rec.targets
        try:
            names = [
                str(t["metadata"]["name"]) for t in await rec.in_kube_pool(rec.kube.list_acmtargets)
            ]
        except Exception as exc:  # no AcmTarget CRD installed, or no RBAC for it
            log.warning("Listing AcmTargets failed: %s", exc)
            names = []
        for name in names:
            await rec.in_aws_pool(check_target, rec.kube, targets, name, rec.clock())
        engines = {role.name: engine for role, engine in targets.current()}
        for (target, region), records in sorted(by_pair.items()):
            engine = engines.get(target)
            if engine is None:
                continue  # not used since the start: its next sync reads ACM anyway
            report.regions += 1
            try:
                drifts = await rec.in_aws_pool(engine.sweep, region, records)
            except Exception as exc:
                report.errors.append(f"{target}/{region}: {exc}")
                log.warning("Sweep of %s through %s failed: %s", region, target, exc)
                continue
            for drift in drifts:
                pair = _drift_target(drift)
                if pair is not None:
                    report.drifted.append(pair)
                    self.sink.force_verify(*pair, target=target)
