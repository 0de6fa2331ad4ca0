"""Deleting an AcmCertificate: the ``acmsync.io/cleanup`` finalizer applies its deletion policy.

``Retain`` releases the object at once. So does the deletion of a generated AcmCertificate that
the garbage collector removes because its Secret was deleted, whatever its policy: deleting a
Secret is how cert-manager users force a re-issue, and the Secret that comes back must find the
same ARNs, which every load balancer and distribution names. ``Delete`` applies when the
annotations are removed from a live Secret, or the AcmCertificate itself is deleted.
``Delete`` deletes the certificate in every region; a
certificate still in use, or named by a load balancer acm-sync wired (``status.consumers[]``,
``InUseByConsumer``), keeps the object (Ready=False, ``DeletionBlocked``, saying by what)
until it is free or the policy is switched to ``Retain``. The finalizer holds the object's work
queue lock, so no sync of it runs meanwhile. It writes through the same ``StatusWriter`` as the
sync path and reads the object fresh (a deletion is rare; its status must not be stale).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from acm_sync.controller.platform.kubeapi import JsonObj
from acm_sync.controller.sync import accounts as ac
from acm_sync.controller.sync import acmtargets as tg
from acm_sync.controller.sync import notices as nt
from acm_sync.controller.sync import spec as specs
from acm_sync.controller.sync import statusfields as st
from acm_sync.controller.sync.ports import Ports
from acm_sync.controller.sync.write import StatusWriter
from acm_sync.controller.watch import annotations as ann
from acm_sync.controller.watch.workqueue import Key, WorkQueue
from acm_sync.core.state import DeletionPolicy, RegionRecord, RegionState

log = logging.getLogger(__name__)


class DeletionPending(Exception):
    """The finalizer must run again later (a certificate is still in use, or AWS failed)."""

    def __init__(self, message: str, delay: float) -> None:
        super().__init__(message)
        self.delay = delay


class Finalizer:
    """The deletion side of an AcmCertificate, serialised with its syncs by their work queue."""

    def __init__(
        self,
        ports: Ports,
        queue: WorkQueue,
        writer: StatusWriter,
        forget: Callable[[Key], None],
    ) -> None:
        self.ports = ports
        self.queue = queue
        self.writer = writer
        # Drops what the sync side keeps about an object once it is released.
        self.forget = forget

    async def finalize(self, key: Key) -> None:
        """Apply the deletion policy; raise :class:`DeletionPending` to be called again."""
        await self.queue.run_exclusive(key, lambda: self._finalize(key))

    async def _finalize(self, key: Key) -> None:
        ports = self.ports
        obj = await ports.in_kube_pool(ports.kube.get_acmcert, *key)
        if obj is None:
            self.forget(key)
            return
        records = self._pairs(obj)
        if specs.deletion_policy_of(obj) is DeletionPolicy.RETAIN:
            log.info("%s/%s deleted; Retain leaves its ACM certificates in place", *key)
            why = "the AcmCertificate was deleted"
            await self.writer.say(key, obj, nt.retained_notices(records.values(), why))
            self.forget(key)
            return
        if await self._secret_deleted(obj):
            log.info(
                "%s/%s: its Secret was deleted; the ACM certificates stay for the Secret's return",
                *key,
            )
            why = "the Secret this AcmCertificate was generated from was deleted"
            rule = "a deleted Secret never deletes from ACM:"
            await self.writer.say(key, obj, nt.retained_notices(records.values(), why, rule))
            self.forget(key)
            return
        names = sorted({target for target, _ in records if target})
        ctx = await ports.in_kube_pool(
            tg.load_context, ports.kube, key[0], names, enabled=ports.targets_enabled
        )
        held = st.consumer_arns(obj.get("status"))
        deleted = await ports.in_aws_pool(
            ac.delete_pairs, ports.accounts(ctx), ports.owner(key), records, held
        )
        outcomes = {st.pair_label(o): o for o in deleted}
        remaining = [o for o in outcomes.values() if o.state is not RegionState.SYNCED]
        if not remaining:
            done = "; ".join(f"{r}: {o.message}" for r, o in sorted(outcomes.items()))
            log.info("%s/%s: Delete policy applied: %s", *key, done)
            await self.writer.say(key, obj, nt.deletion_notices(outcomes.values(), records))
            self.forget(key)
            return
        # A ResourceInUse message names what holds the certificate (the engine asked ACM).
        detail = "; ".join(f"{st.pair_label(o)}: {o.reason}: {o.message}" for o in remaining)
        message = f"deleting the ACM certificates: {detail}"
        await self.writer.write_deletion_blocked(key, obj, remaining, message)
        # Regions already deleted leave the status now: say so once, as it happens.
        freed = [o for o in outcomes.values() if o.state is RegionState.SYNCED]
        await self.writer.say(key, obj, nt.deletion_notices(freed, records))
        hints = [o.retry_after for o in remaining if o.retry_after]
        raise DeletionPending(message, max(min(hints), 1.0) if hints else 0.0)

    async def _secret_deleted(self, obj: JsonObj) -> bool:
        """Whether ``obj`` is a generated AcmCertificate whose owning Secret is gone, going, or
        replaced by a new one of the same name: the garbage collector's deletion, not a user's.

        The collector deletes dependents only once their owner is gone from the API (background
        propagation) or marked for deletion (foreground), so this read cannot race it.
        """
        if not ann.is_generated(obj):
            return False
        meta = obj.get("metadata") or {}
        owners = [r for r in meta.get("ownerReferences") or () if r.get("kind") == "Secret"]
        if not owners:
            return False
        ports = self.ports
        name = str(owners[0].get("name", ""))
        secret = await ports.in_kube_pool(
            ports.kube.get_secret_metadata, meta.get("namespace", ""), name
        )
        if secret is None:
            return True
        secret_meta = secret.get("metadata") or {}
        return (
            secret_meta.get("uid") != owners[0].get("uid")
            or secret_meta.get("deletionTimestamp") is not None
        )

    @staticmethod
    def _pairs(obj: JsonObj) -> dict[ac.Pair, RegionRecord]:
        """Every pair that may hold a certificate: those recorded, and those the spec names
        (an import whose status write was lost, or a record lost, is found by owner tag)."""
        pairs = st.pair_records(obj.get("status"))
        spec = obj.get("spec") or {}
        named = [("", region) for region in spec.get("regions") or []]
        for item in spec.get("targets") or []:
            if isinstance(item, dict) and isinstance(item.get("target"), str):
                named.extend((item["target"], region) for region in item.get("regions") or [])
        for target, region in named:
            if isinstance(region, str):
                pairs.setdefault((target, region), RegionRecord(region, target=target))
        return pairs
