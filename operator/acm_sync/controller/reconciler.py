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

from acm_sync.controller import act, decide, gather
from acm_sync.controller import annotations as ann
from acm_sync.controller import resync as rs
from acm_sync.controller import targets as tg
from acm_sync.controller.decide import SyncResult
from acm_sync.controller.kubeapi import JsonObj
from acm_sync.controller.ports import Ports
from acm_sync.controller.statuslayout import unpack
from acm_sync.controller.view import WatchView, content_hash
from acm_sync.controller.workqueue import Key, WorkQueue
from acm_sync.controller.write import StatusWriter
from acm_sync.core.planner import Drift

log = logging.getLogger(__name__)

# How long, and how often, an object waits for its Secret to be listed before reading it.
LISTING_WAIT = 1.0
LISTING_WAITS = 10


class Reconciler:
    """Owns the work queue of AcmCertificates and the state a reconcile carries between passes."""

    def __init__(self, ports: Ports, view: WatchView, writer: StatusWriter | None = None) -> None:
        self.ports = ports
        self.view = view
        self.writer = writer or StatusWriter(ports, view)
        self.queue = WorkQueue(self._reconcile, concurrency=ports.concurrency)
        # What the sweep asked of each object's next pass (re-verify a pair, record facts).
        self._asked: dict[Key, act.Asked] = {}
        self._failures: dict[Key, int] = {}
        # Objects looked at before their Secret was listed (a start): how often they waited.
        self._listing_waits: dict[Key, int] = {}
        # AcmTarget name -> AcmCertificates naming it (an AcmTarget change re-syncs them).
        self.target_users = tg.TargetUsers()

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
        self._failures.pop(key, None)
        self._listing_waits.pop(key, None)
        self.target_users.forget(key)
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

    def _wait_for_listing(self, key: Key, obj: JsonObj) -> bool:
        """Whether to look again shortly rather than GET a Secret the watch has not shown.

        At a start the Secrets' listing and the AcmCertificates' arrive side by side; an
        object whose status proves a Secret's content (contentHash) most likely only outran
        its Secret's listing, which shows it within moments and spares the GET. A few waits,
        then the GET (a Secret deleted while the operator was down).
        """
        recorded = unpack(obj.get("status")).get("secret")
        if not isinstance(recorded, dict) or not recorded.get("contentHash"):
            return False
        waited = self._listing_waits.get(key, 0)
        if waited >= LISTING_WAITS:
            return False
        self._listing_waits[key] = waited + 1
        return True

    async def _reconcile(self, key: Key) -> float | None:
        started = time.monotonic()
        ports, view = self.ports, self.view
        namespace, _ = key
        # -- gather: what the watch shows
        obj = await gather.the_object(ports, view, key)
        if obj is None:
            self.forget(key)
            return None
        if obj.get("metadata", {}).get("deletionTimestamp"):
            return None  # the finalizer owns it now
        spec = obj.get("spec") or {}
        secret_name = spec.get("secretName") if isinstance(spec.get("secretName"), str) else None
        view.register(key, secret_name)
        seen = view.secret(namespace, secret_name) if secret_name else None
        if secret_name and seen is None and self._wait_for_listing(key, obj):
            return LISTING_WAIT
        self._listing_waits.pop(key, None)
        asked = self._asked.pop(key, None) or act.Asked()
        # A resync asked for: no record is trusted, every pair is read from ACM again.
        if (resync := rs.requested(obj)) is not None:
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
                return None
            view.mark_read(key, seen.resource_version)
            self._failures.pop(key, None)
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
                return None
            result = await ports.in_aws_pool(
                act.sync, ports, key, obj, read.secret, asked, now, read.ctx
            )
            if read.secret is not None:
                result = replace(result, content_hash=content_hash(read.secret.get("data")))
            del read  # key material lives no longer than this pass
            result = self._with_retry(key, result)
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
        # -- write
        if not await self.writer.write_sync(key, obj, result, now):
            # Another writer's status is in place (a new leader): look again from it, not from
            # the view, which the watch may not have brought up to date yet.
            current = await ports.in_kube_pool(ports.kube.get_acmcert, *key)
            if current is not None:
                view.absorb(current)
            self.queue.trigger(key)
        self.writer.count(result, time.monotonic() - started)
        return result.retry

    @staticmethod
    def _annotations_removed(obj: JsonObj, secret_name: str | None, triggers: bool) -> bool:
        return bool(secret_name) and ann.generated_from(obj, str(secret_name)) and not triggers

    async def _delete_generated(self, key: Key, obj: JsonObj) -> None:
        uid = obj.get("metadata", {}).get("uid")
        await self.ports.in_kube_pool(self.ports.kube.delete_acmcert, *key, uid)
        log.info("%s/%s: the Secret's annotations are gone; generated object deleted", *key)

    def _with_retry(self, key: Key, result: SyncResult) -> SyncResult:
        """``result`` with its retry delay; counts consecutive failed passes."""
        failures = self._failures.get(key, 0)
        if result.crashed:
            failures += 1
            retry: float | None = min(2.0**failures, decide.MAX_BACKOFF)
        elif result.outcomes is not None:
            retry, failures = decide.retry_delay(result.outcomes, failures)
        else:
            return result
        if failures:
            self._failures[key] = failures
        else:
            self._failures.pop(key, None)
        return replace(result, retry=retry)
