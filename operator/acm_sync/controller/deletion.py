"""Deleting an AcmCertificate: the ``acmsync.io/cleanup`` finalizer applies its deletion policy.

``Retain`` releases the object at once. ``Delete`` deletes the certificate in every region; a
certificate still in use keeps the object (Ready=False, ``DeletionBlocked``, saying by what)
until it is free or the policy is switched to ``Retain``. The finalizer holds the object's work
queue lock, so no sync of it runs meanwhile.
"""

from __future__ import annotations

import logging

from acm_sync.controller import notices as nt
from acm_sync.controller import spec as specs
from acm_sync.controller import status as st
from acm_sync.controller import targets as tg
from acm_sync.controller.kubeapi import JsonObj, ObjectRef
from acm_sync.controller.reconciler import Reconciler
from acm_sync.controller.workqueue import Key
from acm_sync.core.state import DeletionPolicy, RegionOutcome, RegionRecord, RegionState

log = logging.getLogger(__name__)


class DeletionPending(Exception):
    """The finalizer must run again later (a certificate is still in use, or AWS failed)."""

    def __init__(self, message: str, delay: float) -> None:
        super().__init__(message)
        self.delay = delay


class Finalizer:
    """The deletion side of a :class:`Reconciler`."""

    def __init__(self, reconciler: Reconciler) -> None:
        self.rec = reconciler

    async def finalize(self, key: Key) -> None:
        """Apply the deletion policy; raise :class:`DeletionPending` to be called again."""
        await self.rec.queue.run_exclusive(key, lambda: self._finalize(key))

    async def _finalize(self, key: Key) -> None:
        obj = await self.rec.in_kube_pool(self.rec.kube.get_acmcert, *key)
        if obj is None:
            self.rec.forget(key)
            return
        status = obj.get("status") or {}
        records = st.records_from_status(status)
        if specs.deletion_policy_of(obj) is DeletionPolicy.RETAIN:
            log.info("%s/%s deleted; Retain leaves its ACM certificates in place", *key)
            why = "the AcmCertificate was deleted"
            await self._say(key, obj, nt.retained_notices(records.values(), why))
            self.rec.forget(key)
            return
        for region in (obj.get("spec") or {}).get("regions") or []:
            if isinstance(region, str) and region not in records:
                # Never synced here, or the record was lost: let the engine look up by owner tag.
                records[region] = RegionRecord(region=region)
        owner = self.rec.owner(key)
        by_region = await self.rec.in_aws_pool(self.rec.engine.delete, owner, records)
        outcomes = {st.pair_label(o): o for o in by_region.values()}
        for outcome in await self._delete_target_pairs(key, obj):
            outcomes[st.pair_label(outcome)] = outcome
        remaining = [o for o in outcomes.values() if o.state is not RegionState.SYNCED]
        if not remaining:
            done = "; ".join(f"{r}: {o.message}" for r, o in sorted(outcomes.items()))
            log.info("%s/%s: Delete policy applied: %s", *key, done)
            await self._say(key, obj, nt.deletion_notices(outcomes.values(), records))
            self.rec.forget(key)
            return
        now = self.rec.clock()
        # A ResourceInUse message names what holds the certificate (the engine asked ACM).
        detail = "; ".join(f"{st.pair_label(o)}: {o.reason}: {o.message}" for o in remaining)
        message = f"deleting the ACM certificates: {detail}"
        old_conditions = st.conditions_by_type(status)
        generation = obj.get("metadata", {}).get("generation")
        ready = st.condition(
            st.READY,
            "False",
            specs.DELETION_BLOCKED,
            message,
            generation,
            old_conditions.get(st.READY),
            now,
        )
        old_entries = st.pair_entries(status)
        new_status = {
            "regions": [
                st.region_entry(o, old_entries.get((o.target, o.region)), now) for o in remaining
            ],
            "conditions": [ready] + [c for t, c in old_conditions.items() if t != st.READY],
        }
        patch = st.merge_patch({k: status.get(k) for k in new_status}, new_status)
        if patch:
            await self.rec.in_kube_pool(self.rec.kube.patch_acmcert_status, *key, patch)
        if (old_conditions.get(st.READY) or {}).get("reason") != specs.DELETION_BLOCKED:
            ref = ObjectRef.of({**obj, "kind": obj.get("kind", "AcmCertificate")})
            await self.rec.in_kube_pool(
                self.rec.kube.post_event, ref, nt.WARNING, specs.DELETION_BLOCKED, ready["message"]
            )
        # Regions already deleted leave the status now: say so once, as it happens.
        freed = [o for o in outcomes.values() if o.state is RegionState.SYNCED]
        await self._say(key, obj, nt.deletion_notices(freed, records))
        hints = [o.retry_after for o in remaining if o.retry_after]
        raise DeletionPending(message, max(min(hints), 1.0) if hints else 0.0)

    async def _say(self, key: Key, obj: JsonObj, notices: list[nt.Notice]) -> None:
        """Log and post ``notices`` on the object being deleted (it exists until released)."""
        ref = ObjectRef.of({**obj, "kind": obj.get("kind", "AcmCertificate")})
        for notice in notices:
            nt.log_notice(key[0], key[1], notice)
            await self.rec.in_kube_pool(
                self.rec.kube.post_event, ref, notice.type, notice.reason, notice.message
            )

    async def _delete_target_pairs(self, key: Key, obj: JsonObj) -> list[RegionOutcome]:
        """Delete in the target accounts: recorded pairs, and those spec.targets names (an
        import whose status write was lost is found there by owner tag)."""
        pairs = {p: r for p, r in st.pair_records(obj.get("status")).items() if p[0]}
        for item in (obj.get("spec") or {}).get("targets") or []:
            if not isinstance(item, dict) or not isinstance(item.get("target"), str):
                continue
            name = str(item["target"])
            for region in item.get("regions") or []:
                if isinstance(region, str):
                    pairs.setdefault((name, region), RegionRecord(region, target=name))
        if not pairs:
            return []
        enabled = self.rec.targets is not None and self.rec.config.targets_enabled
        ctx = await self.rec.in_kube_pool(
            tg.load_context, self.rec.kube, key[0], [t for t, _ in pairs], enabled=enabled
        )
        engines = self.rec.targets or tg.NO_TARGETS
        return await self.rec.in_aws_pool(tg.delete_pairs, engines, ctx, self.rec.owner(key), pairs)
