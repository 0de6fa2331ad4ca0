"""Reconciling one AcmCertificate, in four named steps.

gather (``gather``: the object from the watch; the Secret and AcmTargets only for a full pass)
-> decide (``decide``: pure; whether the status already proves the object in sync, Ready,
the retry delay) -> act (``act``: the engine, once per account, for every pair) -> write
(``write``: the status, Events and metrics). The record of what is in ACM lives in
``status.regions``; a pass whose records already match the Secret makes no AWS call and, since
nothing changed, no status write.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace

from acm_sync.controller.platform.kubeapi import JsonObj
from acm_sync.controller.sync import acmtargets as tg
from acm_sync.controller.sync import act, decide, gather
from acm_sync.controller.sync import resyncrequest as rs
from acm_sync.controller.sync.ports import Ports
from acm_sync.controller.sync.statuslayout import unpack
from acm_sync.controller.sync.write import StatusWriter
from acm_sync.controller.watch import annotations as ann
from acm_sync.controller.watch.view import WatchView, content_hash
from acm_sync.controller.watch.workqueue import DONE, PARK, Key, Next, WorkQueue
from acm_sync.core.planner import Drift

log = logging.getLogger(__name__)


class Reconciler:
    """Owns the work queue of AcmCertificates and the state a reconcile carries between passes."""

    def __init__(self, ports: Ports, view: WatchView, writer: StatusWriter | None = None) -> None:
        self.ports = ports
        self.view = view
        self.writer = writer or StatusWriter(ports, view)
        self.queue = WorkQueue(self._reconcile, concurrency=ports.concurrency)
        # What the sweep asked of each object's next pass (re-verify a pair, record facts).
        self._asked: dict[Key, act.Asked] = {}
        # AcmTarget name -> AcmCertificates naming it (an AcmTarget change re-syncs them).
        self.target_users = tg.TargetUsers()
        self.resyncs = rs.ResyncPacer()

    async def close(self) -> None:
        """Finish runs in flight (bounded) and release the thread pools."""
        await self.queue.close()
        self.ports.close()

    def trigger(self, key: Key, urgent: bool = False) -> None:
        """Reconcile ``key`` soon (``urgent``: ahead of routine upkeep)."""
        self.queue.trigger(key, urgent=urgent)

    def forget(self, key: Key) -> None:
        """An AcmCertificate is gone: drop its bookkeeping and metrics."""
        self.view.forget(key)
        self._asked.pop(key, None)
        self.target_users.forget(key)
        self.resyncs.forget(key)
        self.queue.forget(key)
        self.writer.forget(key)

    def refresh(self, drift: Drift, target: str = "") -> None:
        """Record what the sweep read from ACM about a pair's certificate (no repair needed)."""
        key = (drift.owner.namespace, drift.owner.name)
        self._asked.setdefault(key, act.Asked()).fresh[(target, drift.region)] = drift
        self.queue.trigger(key)

    def force_verify(self, key: Key, region: str, target: str = "") -> None:
        """Make the next reconcile of ``key`` re-check a pair against ACM (drift repair)."""
        self._asked.setdefault(key, act.Asked()).forced.add((target, region))
        self.queue.trigger(key)

    # -- the reconcile ----------------------------------------------------------------------

    def _parks(self, obj: JsonObj) -> bool:
        """Whether to wait for the Secret's listing rather than GET a Secret not shown yet.

        At a start the Secrets' listing and the AcmCertificates' arrive side by side; an
        object whose status proves a Secret's content (contentHash) most likely only outran
        its Secret's listing, which shows it within moments (and triggers the object) and
        spares the GET. Past the queue's start-up deadline, the GET (a Secret deleted while
        the operator was down).
        """
        recorded = unpack(obj.get("status")).get("secret")
        return isinstance(recorded, dict) and bool(recorded.get("contentHash"))

    async def _reconcile(self, key: Key) -> Next:
        started = time.monotonic()
        ports, view = self.ports, self.view
        namespace, _ = key
        # -- gather: what the watch shows
        obj = await gather.the_object(ports, view, key)
        if obj is None:
            self.forget(key)
            return DONE
        if obj.get("metadata", {}).get("deletionTimestamp"):
            return DONE  # the finalizer owns it now
        spec = obj.get("spec") or {}
        secret_name = spec.get("secretName") if isinstance(spec.get("secretName"), str) else None
        view.register(key, secret_name)
        seen = view.secret(namespace, secret_name) if secret_name else None
        if secret_name and seen is None and self.queue.listing and self._parks(obj):
            return PARK
        asked = self._asked.pop(key, None) or act.Asked()
        # A resync asked for: no record is trusted, every pair is read from ACM again; one
        # asked for too soon after the last is answered once the interval has passed.
        resync = rs.requested(obj)
        too_soon = self.resyncs.wait(key) if resync is not None else 0.0
        if too_soon:
            resync = None
        if resync is not None:
            asked.forced |= rs.recorded_pairs(obj)
        names = self.target_users.note(key, spec)
        now = ports.clock()
        config = ports.config
        # -- decide: does the status already prove the object in sync?
        proven = (
            seen is not None
            and not asked
            and resync is None
            and decide.verified_by_status(
                obj,
                seen,
                now=now,
                expiry_warning_days=config.expiry_warning_days,
                allowed_regions=config.allowed_regions,
                adoption_enabled=config.adoption_enabled,
            )
        )
        if proven and seen is not None:
            if self._annotations_removed(obj, secret_name, seen.triggers):
                await self._delete_generated(key, obj)
                return DONE
            view.mark_read(key, seen.resource_version)
            result = decide.verified_result(obj)
        else:
            # -- gather what a full pass needs, then act
            read = await gather.for_full_pass(ports, view, key, secret_name, names)
            if read.secret is not None:
                triggers: bool | None = read.triggers
            else:
                triggers = seen.triggers if seen is not None else None
            if triggers is not None and self._annotations_removed(obj, secret_name, triggers):
                await self._delete_generated(key, obj)
                return DONE
            result = await ports.in_aws_pool(
                act.sync, ports, key, obj, read.secret, asked, now, read.ctx
            )
            if read.secret is not None:
                result = replace(result, content_hash=content_hash(read.secret.get("data")))
            del read  # key material lives no longer than this pass
        if seen is not None and (
            problem := ann.unusable(
                obj, secret_name, dict(seen.annotations), view.refused(namespace, secret_name or "")
            )
        ):
            result = replace(
                result, verdict=decide.with_annotation_problem(result.verdict, problem)
            )
        if resync is not None:
            result = rs.answered(result, resync)
            self.resyncs.answered(key)
        # -- write
        if not await self.writer.write_sync(key, obj, result, now):
            # Another writer's status is in place (a new leader): look again from it, not from
            # the view, which the watch may not have brought up to date yet.
            current = await ports.in_kube_pool(ports.kube.get_acmcert, *key)
            if current is not None:
                view.absorb(current)
            self.queue.trigger(key)
        self.writer.count(result, time.monotonic() - started)
        after, failed = decide.next_run(result)
        if too_soon:
            after = too_soon if after is None else min(after, too_soon)
        return Next(after, failed)

    @staticmethod
    def _annotations_removed(obj: JsonObj, secret_name: str | None, triggers: bool) -> bool:
        return bool(secret_name) and ann.generated_from(obj, str(secret_name)) and not triggers

    async def _delete_generated(self, key: Key, obj: JsonObj) -> None:
        uid = obj.get("metadata", {}).get("uid")
        await self.ports.in_kube_pool(self.ports.kube.delete_acmcert, *key, uid)
        log.info("%s/%s: the Secret's annotations are gone; generated object deleted", *key)
