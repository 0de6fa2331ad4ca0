"""Wiring: one more consumer of a pair's ARN, beside the status.

Each opted-in Ingress or Service is worked on in its own turn of a work queue (serialised per
object): the AcmCertificates it names (or, for ``acmsync.io/import``, generates from its TLS
Secrets), their own-account pair in the wiring region from the watch's view, the pure decision
(core/wiring.py), one conditional annotation patch when something changed, its Events. Each
AcmCertificate's ``status.consumers`` is then derived from the consumers' records and written
through the status writer, one AcmCertificate at a time.
"""

from __future__ import annotations

import logging
from typing import Any

from acm_sync.controller.platform.kubeapi import JsonObj, ObjectRef
from acm_sync.controller.platform.kubeerrors import Conflict, KubeError
from acm_sync.controller.sync import notices as nt
from acm_sync.controller.sync import statusfields as st
from acm_sync.controller.sync.ports import Ports
from acm_sync.controller.sync.write import StatusWriter
from acm_sync.controller.watch.view import WatchView
from acm_sync.controller.watch.workqueue import DONE, Key, Next, WorkQueue
from acm_sync.controller.wiring import ingressimport
from acm_sync.controller.wiring.consumers import CONSUMERS, WIRED_ANNOTATION, Consumer
from acm_sync.controller.wiring.consumerview import ConsumerRecord, ConsumerView
from acm_sync.core.reasons import EventReason, EventType
from acm_sync.core.regions import region_of_arn
from acm_sync.core.state import RegionState
from acm_sync.core.wiring import Blocker, PairState, WiringPlan, bounded_consumers, plan_wiring

log = logging.getLogger(__name__)


def pair_state(obj: JsonObj | None, region: str) -> PairState | None:
    """The own-account pair of ``region`` as the status shows it; None: no such object (or
    one being deleted, whose ARN is on its way out)."""
    if obj is None or (obj.get("metadata") or {}).get("deletionTimestamp"):
        return None
    entry = st.pair_entries(obj.get("status")).get(("", region)) or {}
    arn = entry.get("arn") if isinstance(entry.get("arn"), str) else None
    return PairState(arn=arn or None, synced=entry.get("state") == RegionState.SYNCED.value)


class Wirer:
    """Keeps the opted-in consumers' annotations and the AcmCertificates' status.consumers."""

    def __init__(
        self, ports: Ports, view: WatchView, writer: StatusWriter, syncs: WorkQueue
    ) -> None:
        self.ports = ports
        self.view = view
        self.writer = writer
        # The AcmCertificates' work queue: a consumer that let go of an ARN wakes its owner.
        self.syncs = syncs
        self.region = ports.config.wiring_region
        self.consumers = ConsumerView()
        self.queue = WorkQueue(self._wire, concurrency=4)
        self.statuses = WorkQueue(self._write_consumers, concurrency=4)
        # consumer key -> the Events (reason, message) its last pass had to say: each is
        # posted when it becomes true, not again on every pass while it stays true.
        self._said: dict[Key, set[tuple[str, str]]] = {}

    # -- events -----------------------------------------------------------------------------

    def on_consumer_event(self, consumer: Consumer, event_type: str | None, body: JsonObj) -> None:
        """An Ingress or Service event (the listing included)."""
        meta = body.get("metadata") or {}
        namespace = str(meta.get("namespace") or "")
        key = (namespace, f"{consumer.kind}/{meta.get('name')}")
        old = self.consumers.get(key)
        before = old.mentions() if old is not None else set()
        self.consumers.event(consumer, event_type, body)
        new = self.consumers.get(key)
        if old is None and new is None:
            return
        if new is not None:
            self.queue.trigger(key, urgent=event_type is not None)
        else:
            self._said.pop(key, None)
        for name in before | (new.mentions() if new is not None else set()):
            self.statuses.trigger((namespace, name))
        self._count()

    def on_acmcert_event(self, key: Key, body: JsonObj) -> None:
        """An AcmCertificate changed (its status): the consumers naming it look again."""
        users = self.consumers.of_certificate(key)
        for user in users:
            self.queue.trigger(user)
        if users or (body.get("status") or {}).get("consumers"):
            self.statuses.trigger(key)

    async def close(self) -> None:
        """Finish runs in flight (bounded)."""
        await self.queue.close()
        await self.statuses.close()

    # -- one consumer -----------------------------------------------------------------------

    async def _wire(self, key: Key) -> Next:
        record = self.consumers.get(key)
        if record is None:
            return DONE
        names = list(record.named)
        # Generated AcmCertificates follow the import opt-in (and are dropped with it).
        imported = await ingressimport.ensure(self.ports, self.view, record)
        names += [n for n in imported.names if n not in names]
        said: set[tuple[str, str]] = set()
        for reason, message in imported.problems:
            await self._say(record, said, EventType.WARNING, reason, message)
        certificates: dict[str, PairState] = {}
        for name in names:
            state = pair_state(self.view.acmcert((record.namespace, name)), self.region)
            if state is not None:
                certificates[name] = state
        annotation = record.consumer.annotation
        now = st.format_time(self.ports.clock())
        plan = plan_wiring(names, record.current, record.wired, certificates, annotation, now)
        if plan.write:
            try:
                await self._patch(record, plan)
            except Conflict:
                return Next(after=0.5)  # changed meanwhile: decide again on the new version
        await self._tell(record, plan, names, said)
        if (problem := record.unreadable) is not None and not plan.write:
            message = (
                f"{Blocker.FOREIGN}: {WIRED_ANNOTATION} was not written by acm-sync ({problem}); "
                f"{annotation} counts as not acm-sync's. Remove {WIRED_ANNOTATION} to let "
                "acm-sync decide afresh"
            )
            await self._say(record, said, EventType.WARNING, EventReason.WIRING_BLOCKED, message)
        self._said[key] = said
        # Only once the consumer no longer holds their ARNs.
        for namespace, name, uid in imported.stale:
            if name in names:
                continue
            users = [
                self.consumers.get(u) for u in self.consumers.of_certificate((namespace, name))
            ]
            heir = next(
                (u for u in users if u is not None and u.key != key and u.imports_from(name)), None
            )
            obj = self.view.acmcert((namespace, name))
            others = [
                r
                for r in (obj or {}).get("metadata", {}).get("ownerReferences") or []
                if r.get("kind") == record.consumer.kind and r.get("uid") != record.uid
            ]
            if obj is not None and (others or heir is not None):
                # Another Ingress imports the same Secret: the object stays, theirs alone,
                # instead of being deleted under it.
                change = ingressimport.without(record, heir)
                await ingressimport.set_owners(self.ports, self.view, obj, change)
                log.info("%s/%s: import opt-in gone; AcmCertificate %s kept", *key, name)
                continue
            await self.ports.in_kube_pool(self.ports.kube.delete_acmcert, namespace, name, uid)
            log.info("%s/%s: import opt-in gone; generated AcmCertificate deleted", *key)
        return DONE

    async def _patch(self, record: ConsumerRecord, plan: WiringPlan) -> None:
        consumer = record.consumer
        annotations: dict[str, Any] = {
            consumer.annotation: plan.value,
            WIRED_ANNOTATION: plan.wired.to_text() if plan.wired is not None else None,
        }
        patch = {
            "metadata": {"resourceVersion": record.resource_version, "annotations": annotations}
        }
        kube = self.ports.kube
        written = await self.ports.in_kube_pool(
            kube.patch_object, consumer.api, consumer.plural, record.namespace, record.name, patch
        )
        old_mentions = record.mentions()
        self.consumers.absorb(ConsumerRecord.of(consumer, written))
        new = self.consumers.get(record.key)
        for name in old_mentions | (new.mentions() if new is not None else set()):
            self.statuses.trigger((record.namespace, name))
        self._count()
        log.info(
            "%s %s/%s: %s %s",
            consumer.kind,
            record.namespace,
            record.name,
            consumer.annotation,
            f"set to {plan.value}" if plan.wired is not None else "given back",
        )

    async def _tell(
        self, record: ConsumerRecord, plan: WiringPlan, names: list[str], said: set[tuple[str, str]]
    ) -> None:
        annotation = record.consumer.annotation
        if plan.blocked:
            message = "; ".join(m for _, m in plan.blocked)
            if plan.write and plan.value:
                message += f" (written: {plan.value})"
            await self._say(record, said, EventType.WARNING, EventReason.WIRING_BLOCKED, message)
        elif plan.write and plan.wired is not None:
            message = (
                f"{annotation} set to {plan.value}: AcmCertificate "
                f"{', '.join(names)} in {self.region}"
            )
            await self._say(record, said, EventType.NORMAL, EventReason.CERTIFICATE_WIRED, message)
        elif plan.write:
            given = "the earlier value restored" if plan.value else "removed"
            message = f"opt-in removed: acm-sync's {annotation} {given}"
            await self._say(record, said, EventType.NORMAL, EventReason.CERTIFICATE_WIRED, message)

    async def _say(
        self,
        record: ConsumerRecord,
        said: set[tuple[str, str]],
        kind: EventType,
        reason: EventReason,
        message: str,
    ) -> None:
        said.add((reason, message))
        if (reason, message) in self._said.get(record.key, set()):
            return
        consumer = record.consumer
        notice = nt.Notice(kind, reason, message)
        nt.log_notice(record.namespace, record.name, notice, consumer.kind)
        ref = ObjectRef(consumer.api, consumer.kind, record.namespace, record.name, record.uid)
        await self.ports.in_kube_pool(self.ports.kube.post_event, ref, kind, reason, message)

    # -- status.consumers and the gauge -----------------------------------------------------

    def entries(self, key: Key) -> list[JsonObj]:
        """``status.consumers`` of AcmCertificate ``key``: every consumer holding its ARN as
        acm-sync wrote it."""
        found: list[JsonObj] = []
        for user in self.consumers.of_certificate(key):
            record = self.consumers.get(user)
            wired = record.ours if record is not None else None
            if record is None or wired is None:
                continue
            arn = wired.arn_of(key[1])
            if arn is None or region_of_arn(arn) != self.region:
                continue  # a crafted record: nothing acm-sync wrote to list or keep
            entry: JsonObj = {
                "kind": record.consumer.kind,
                "name": record.name,
                "annotation": record.consumer.annotation,
                "region": self.region,
                "arn": arn,
            }
            if wired.at:
                entry["wiredAt"] = wired.at
            found.append(entry)
        return sorted(found, key=lambda e: (e["kind"], e["name"]))

    async def _write_consumers(self, key: Key) -> Next:
        obj = self.view.acmcert(key)
        # Also while the object is being deleted: its finalizer waits (InUseByConsumer) until
        # no consumer names its ARNs, and only this write can tell it so.
        if obj is None:
            return DONE
        before = st.consumer_arns(obj.get("status"))
        records = st.pair_records(obj.get("status")).values()
        own = {a for r in records for a in (r.arn, r.previous_arn) if a}
        entries, omitted = bounded_consumers(self.entries(key), own)
        try:
            written = await self.writer.write_consumers(obj, entries, omitted)
        except KubeError as exc:
            if exc.status == 404:
                return DONE
            raise
        if not written:
            current = await self.ports.in_kube_pool(self.ports.kube.get_acmcert, *key)
            if current is not None:
                self.view.absorb(current)
            return Next(after=0.2)
        if st.consumer_arns({"consumers": entries}) != before:
            # An ARN no consumer names any more may now be retired or deleted; the write was
            # absorbed into the view, so the watch's echo of it shows no change to act on.
            self.syncs.trigger(key)
        return DONE

    def _count(self) -> None:
        for consumer in CONSUMERS:
            count = self.consumers.wired_count(consumer.kind)
            self.ports.metrics.wired_consumers.labels(kind=consumer.kind).set(count)
