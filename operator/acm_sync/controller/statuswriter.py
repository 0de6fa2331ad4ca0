"""The one place an AcmCertificate's status, its Events and its metrics are written.

Used by the sync path (:meth:`StatusWriter.write_sync`) and by the finalizer
(:meth:`StatusWriter.write_deletion_blocked`, :meth:`StatusWriter.say`). What to write is
decided by the pure functions of ``decision`` and ``status``; this module does the I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from acm_sync.controller import decision
from acm_sync.controller import notices as nt
from acm_sync.controller import spec as specs
from acm_sync.controller import status as st
from acm_sync.controller import targets as tg
from acm_sync.controller.gauges import region_gauges
from acm_sync.controller.kubeapi import JsonObj, ObjectRef
from acm_sync.controller.ports import Ports
from acm_sync.controller.view import WatchView
from acm_sync.controller.workqueue import Key
from acm_sync.core.reasons import EventType, Reason
from acm_sync.core.state import RegionOutcome


def object_ref(obj: JsonObj) -> ObjectRef:
    """The Event reference of an AcmCertificate body (the watch's bodies carry their kind)."""
    return ObjectRef.of({**obj, "kind": obj.get("kind") or "AcmCertificate"})


class StatusWriter:
    """Conditions and records (conditional on resourceVersion), Events, per-object metrics."""

    def __init__(self, ports: Ports, view: WatchView) -> None:
        self.ports = ports
        self.view = view

    async def write_sync(
        self, key: Key, obj: JsonObj, result: decision.SyncResult, now: datetime
    ) -> bool:
        """Write what a sync pass found; False when a newer status than ``obj``'s is in place
        (nothing written, no Event: the caller looks again)."""
        old = obj.get("status") or {}
        generation = obj.get("metadata", {}).get("generation")
        days = self.ports.config.expiry_warning_days
        new = decision.new_status(old, result, generation, now, days, obj.get("spec"))
        patch = st.merge_patch(old, new)
        if patch:
            kube = self.ports.kube
            written = await self.ports.in_kube_pool(kube.patch_status_over, obj, patch)
            if written is None:
                # A newer status than the one this run started from is in place: keep it,
                # post no Event about a state that is not the object's.
                return False
            # The next pass starts from what was written, not from a watch event still due.
            self.view.absorb(written)
        old_entries = st.pair_entries(old)
        notices = [*nt.sync_notices(result.outcomes or [], old_entries), *result.notices]
        old_conditions = st.conditions_by_type(old)
        notices += [
            nt.at_failing_pairs(n, result.outcomes)
            for n in nt.condition_events(old_conditions, st.conditions_by_type(new))
        ]
        if result.warnings is not None:
            notices += nt.warning_events(result.warnings, old_conditions.get(st.WARNINGS))
        await self.say(key, obj, nt.with_accounts(notices, self._accounts(result)))
        self._export(key, new, result)
        return True

    async def write_deletion_blocked(
        self, key: Key, obj: JsonObj, remaining: Sequence[RegionOutcome], message: str
    ) -> None:
        """Ready=False ``DeletionBlocked`` with the regions still to delete; the Event once."""
        status = obj.get("status") or {}
        generation = obj.get("metadata", {}).get("generation")
        now = self.ports.clock()
        new_status = decision.deletion_status(status, remaining, message, generation, now)
        patch = st.merge_patch({k: status.get(k) for k in new_status}, new_status)
        if patch:
            await self.ports.in_kube_pool(self.ports.kube.patch_acmcert_status, *key, patch)
        old_ready = st.conditions_by_type(status).get(st.READY) or {}
        if old_ready.get("reason") != specs.DELETION_BLOCKED:
            ready = st.conditions_by_type(new_status)[st.READY]
            blocked = nt.Notice(EventType.WARNING, specs.DELETION_BLOCKED, ready["message"])
            located = nt.at_failing_pairs(blocked, remaining)
            await self.say(key, obj, nt.with_accounts([located], {}))

    async def say(self, key: Key, obj: JsonObj, notices: Sequence[nt.Notice]) -> None:
        """Log and post ``notices`` about ``obj`` (it exists until its finalizer releases it).

        Every line is logged before the first Event is posted: the log holds a pass's whole
        story by the time its Events can be seen.
        """
        for notice in notices:
            nt.log_notice(key[0], key[1], notice)
        await self._post(obj, [(n.type, n.reason, n.message) for n in notices])

    def _accounts(self, result: decision.SyncResult) -> dict[str, str]:
        """target -> account ("" the operator's own), for the notices' account field."""
        return {"": self.ports.metrics.own_account, **(result.accounts or {})}

    def forget(self, key: Key) -> None:
        """The object is gone: its per-object metrics go too."""
        self.ports.metrics.forget(key[0], key[1])

    async def _post(self, obj: JsonObj, events: Sequence[tuple[str, str, str]]) -> None:
        ref = object_ref(obj)
        for kind, reason, message in events:
            await self.ports.in_kube_pool(self.ports.kube.post_event, ref, kind, reason, message)

    def count(self, result: decision.SyncResult, seconds: float) -> None:
        """Count a finished pass (written or not) and how long it took."""
        metrics = self.ports.metrics
        accounts = self._accounts(result)
        quota = [
            (tg.account_of_outcome(o, accounts), o.region)
            for o in result.outcomes or []
            if o.reason == Reason.QUOTA_EXCEEDED
        ]
        metrics.count_sync(result.verdict.ready, result.verdict.reason, quota)
        metrics.reconcile_duration.observe(seconds)

    def _export(self, key: Key, status: JsonObj, result: decision.SyncResult) -> None:
        """Per region: notAfter of what ACM holds, and whether it is the Secret's certificate."""
        reason = result.verdict.reason
        secret_known = reason != specs.SECRET_NOT_FOUND
        gauges = region_gauges(status, reason, secret_known=secret_known)
        self.ports.metrics.export_object(key[0], key[1], gauges)
