"""Write: the one place an AcmCertificate's status, its Events and its metrics are written.

Used by the sync path (:meth:`StatusWriter.write_sync`) and by the finalizer
(:meth:`StatusWriter.write_deletion_blocked`, :meth:`StatusWriter.say`). The status to write
is computed by the pure :func:`new_status` and :func:`deletion_status` (from ``status``'s
records and conditions), then patched where it differs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from acm_sync.controller.platform.kubeapi import LAST_RESYNC, JsonObj, ObjectRef
from acm_sync.controller.sync import acmtargets as tg
from acm_sync.controller.sync import notices as nt
from acm_sync.controller.sync import statusfields as st
from acm_sync.controller.sync.decide import SyncResult, region_list
from acm_sync.controller.sync.gauges import region_gauges
from acm_sync.controller.sync.ports import Ports
from acm_sync.controller.sync.statuslayout import pack, unpack
from acm_sync.controller.watch.view import WatchView
from acm_sync.controller.watch.workqueue import Key
from acm_sync.core.reasons import ConditionType, EventType, Reason
from acm_sync.core.state import RegionOutcome, RegionState


def object_ref(obj: JsonObj) -> ObjectRef:
    """The Event reference of an AcmCertificate body (the watch's bodies carry their kind)."""
    return ObjectRef.of({**obj, "kind": obj.get("kind") or "AcmCertificate"})


class StatusWriter:
    """Conditions and records (conditional on resourceVersion), Events, per-object metrics."""

    def __init__(self, ports: Ports, view: WatchView) -> None:
        self.ports = ports
        self.view = view

    async def write_sync(self, key: Key, obj: JsonObj, result: SyncResult, now: datetime) -> bool:
        """Write what a sync pass found; False when a newer status than ``obj``'s is in place
        (nothing written, no Event: the caller looks again)."""
        old = obj.get("status") or {}
        generation = obj.get("metadata", {}).get("generation")
        days = self.ports.config.expiry_warning_days
        new = new_status(old, result, generation, now, days, obj.get("spec"))
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
            notices += nt.warning_events(
                result.warnings, old_conditions.get(ConditionType.WARNINGS)
            )
        await self.say(key, obj, nt.with_accounts(notices, self._accounts(result)))
        self._export(key, new, result)
        return True

    async def write_consumers(
        self, obj: JsonObj, consumers: Sequence[JsonObj], omitted: int = 0
    ) -> bool:
        """Set ``status.consumers`` (wiring: where this object's ARN was written) and
        ``status.consumersOmitted`` (how many more there are than it lists); False when a
        newer status than ``obj``'s is in place (nothing written: look again)."""
        status = obj.get("status") or {}
        if (
            list(status.get("consumers") or []) == list(consumers)
            and (status.get("consumersOmitted") or 0) == omitted
        ):
            return True
        patch: JsonObj = {
            "consumers": list(consumers) or None,
            "consumersOmitted": omitted or None,
        }
        written = await self.ports.in_kube_pool(self.ports.kube.patch_status_over, obj, patch)
        if written is None:
            return False
        self.view.absorb(written)
        return True

    async def write_deletion_blocked(
        self, key: Key, obj: JsonObj, remaining: Sequence[RegionOutcome], message: str
    ) -> None:
        """Ready=False ``DeletionBlocked`` with the regions still to delete; the Event once."""
        status = obj.get("status") or {}
        generation = obj.get("metadata", {}).get("generation")
        now = self.ports.clock()
        new_status = deletion_status(status, remaining, message, generation, now)
        patch = st.merge_patch({k: status.get(k) for k in new_status}, new_status)
        if patch:
            await self.ports.in_kube_pool(self.ports.kube.patch_acmcert_status, *key, patch)
        old_ready = st.conditions_by_type(status).get(ConditionType.READY) or {}
        if old_ready.get("reason") != Reason.DELETION_BLOCKED:
            ready = st.conditions_by_type(new_status)[ConditionType.READY]
            blocked = nt.Notice(EventType.WARNING, Reason.DELETION_BLOCKED, ready["message"])
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

    def _accounts(self, result: SyncResult) -> dict[str, str]:
        """target -> account ("" the operator's own), for the notices' account field."""
        return {"": self.ports.metrics.own_account, **(result.accounts or {})}

    def forget(self, key: Key) -> None:
        """The object is gone: its per-object metrics go too."""
        self.ports.metrics.forget(key[0], key[1])

    async def _post(self, obj: JsonObj, events: Sequence[tuple[str, str, str]]) -> None:
        ref = object_ref(obj)
        for kind, reason, message in events:
            await self.ports.in_kube_pool(self.ports.kube.post_event, ref, kind, reason, message)

    def count(self, result: SyncResult, seconds: float) -> None:
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

    def _export(self, key: Key, status: JsonObj, result: SyncResult) -> None:
        """Per region: notAfter of what ACM holds, and whether it is the Secret's certificate."""
        reason = result.verdict.reason
        secret_known = reason != Reason.SECRET_NOT_FOUND
        gauges = region_gauges(status, reason, secret_known=secret_known)
        self.ports.metrics.export_object(key[0], key[1], gauges)


def new_status(
    old: Mapping[str, Any],
    result: SyncResult,
    generation: int | None,
    now: datetime,
    expiry_warning_days: int,
    spec: Mapping[str, Any] | None = None,
) -> JsonObj:
    """The whole status after a pass, in the stored layout (compare with ``old`` for the
    patch); ``old`` in either layout."""
    old = unpack(old)
    spec = spec or {}
    new: JsonObj = {}
    new.update(st.secret_fields(result.facts, old))
    if result.facts is not None and result.content_hash:
        new["secret"]["contentHash"] = result.content_hash
    if generation is not None:
        new["observedGeneration"] = generation
    if last_resync := result.resync or old.get(LAST_RESYNC):
        new[LAST_RESYNC] = last_resync
    if old.get("consumers"):
        # The wiring's record of the load balancers it wired: a sync never rewrites it.
        new["consumers"] = old["consumers"]
        if old.get("consumersOmitted"):
            new["consumersOmitted"] = old["consumersOmitted"]
    old_entries = st.pair_entries(old)
    if regions := region_list(spec):
        new["regionList"] = regions
    # The TARGETS column: shown only where spec.targets is used (an object in its own
    # account alone has READY for that).
    uses_targets = bool(spec.get("targets"))
    if result.outcomes is None:
        if old.get("regions"):
            new["regions"] = old["regions"]
        if old.get("pairs") and uses_targets:
            new["pairs"] = old["pairs"]
    else:
        accounts = result.accounts or {}
        new["regions"] = [
            st.region_entry(
                o, old_entries.get((o.target, o.region)), now, accounts.get(o.target, "")
            )
            for o in result.outcomes
        ]
        synced = sum(1 for o in result.outcomes if o.state is RegionState.SYNCED and o.arn)
        if uses_targets:
            new["pairs"] = f"{min(synced, result.wanted)}/{result.wanted}"
    # The top-level notAfter (the printer column) is what ACM serves, soonest first.
    served = st.served_not_after(new)
    if served is not None:
        new["notAfter"] = st.format_time(served)
    old_conditions = st.conditions_by_type(old)
    verdict = result.verdict
    ready = st.condition(
        ConditionType.READY,
        "True" if verdict.ready else "False",
        verdict.reason,
        verdict.message,
        generation,
        old_conditions.get(ConditionType.READY),
        now,
    )
    expiring = st.expiring_condition(
        st.expiry_basis(new),
        expiry_warning_days,
        generation,
        old_conditions.get(ConditionType.EXPIRING),
        now,
    )
    warnings = st.warnings_condition(
        result.warnings, generation, old_conditions.get(ConditionType.WARNINGS), now
    )
    new["conditions"] = [ready, expiring, warnings]
    return pack(new)


def deletion_status(
    old: Mapping[str, Any],
    remaining: Sequence[RegionOutcome],
    message: str,
    generation: int | None,
    now: datetime,
) -> JsonObj:
    """The regions and conditions of an object whose deletion waits (``DeletionBlocked``)."""
    old = unpack(old)
    old_conditions = st.conditions_by_type(old)
    ready = st.condition(
        ConditionType.READY,
        "False",
        Reason.DELETION_BLOCKED,
        message,
        generation,
        old_conditions.get(ConditionType.READY),
        now,
    )
    old_entries = st.pair_entries(old)
    new = pack(
        {
            **old,
            "regions": [
                st.region_entry(o, old_entries.get((o.target, o.region)), now) for o in remaining
            ],
            "conditions": [ready]
            + [c for t, c in old_conditions.items() if t != ConditionType.READY],
        }
    )
    return {k: new[k] for k in ("regions", "conditions", "internal")}
