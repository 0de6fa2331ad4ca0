"""Annotation mode: the AcmCertificates generated from a Secret's acmsync.io/* annotations.

Secrets reach the operator only through kopf's event handler (see handlers.py), which stores
nothing on the Secret and itself triggers the AcmCertificates reading a changed Secret.
Nothing in this module writes to a Secret; Events about a Secret are separate objects.
"""

from __future__ import annotations

import logging
from http import HTTPStatus

from acm_sync.controller.platform.kubeapi import JsonObj, ObjectRef
from acm_sync.controller.platform.kubeerrors import KubeError, namespace_terminating
from acm_sync.controller.sync import notices as nt
from acm_sync.controller.sync.ports import Ports
from acm_sync.controller.watch import annotations as ann
from acm_sync.controller.watch.view import WatchView
from acm_sync.controller.watch.workqueue import DONE, Key, Next, WorkQueue
from acm_sync.core.reasons import EventReason, EventType

log = logging.getLogger(__name__)


class SecretWatcher:
    """Reacts to Secret events; generated AcmCertificates are managed one Secret at a time."""

    def __init__(self, ports: Ports, view: WatchView, syncs: WorkQueue) -> None:
        self.ports = ports
        self.view = view
        # The AcmCertificates' work queue: a generated object learns of a refused spec.
        self.syncs = syncs
        self.queue = WorkQueue(self._ensure_generated, concurrency=8)
        self._pending: dict[Key, ann.SecretMeta] = {}
        # Names of generated AcmCertificates seen on the watch (to notice removed annotations).
        self.generated: set[Key] = set()
        # (Secret key) -> resourceVersion already warned about, to post a conflict Event once.
        self._warned: dict[Key, str] = {}

    def on_event(self, event_type: str | None, body: JsonObj) -> None:
        """Called for every Secret event, the initial listing included (``event_type`` None)."""
        meta = ann.SecretMeta.of(body, deleted=event_type == "DELETED")
        key = (meta.namespace, meta.name)
        if meta.wants_certificate or key in self.generated:
            self._pending[key] = meta
            self.queue.trigger(key, urgent=True)

    def on_acmcert_event(self, event_type: str | None, body: JsonObj) -> None:
        """Track which AcmCertificates are generated ones."""
        meta = body.get("metadata") or {}
        key = (str(meta.get("namespace", "")), str(meta.get("name", "")))
        if event_type != "DELETED" and ann.is_generated(body):
            self.generated.add(key)
        else:
            self.generated.discard(key)

    async def _ensure_generated(self, key: Key) -> Next:
        meta = self._pending.pop(key, None)
        if meta is None or meta.deleted:
            # A deleted Secret's generated AcmCertificate goes through garbage collection
            # (ownerReference); its finalizer keeps the ACM certificates (finalizer.py).
            return DONE
        kube = self.ports.kube
        existing = await self.ports.in_kube_pool(kube.get_acmcert, *key)
        if existing is not None and (existing.get("metadata") or {}).get("deletionTimestamp"):
            # The old Secret's object is still being collected (its finalizer is running): the
            # new one can only be created once it is gone. Look again shortly, unless a newer
            # event for this Secret came meanwhile.
            self._pending.setdefault(key, meta)
            return Next(after=1.0)
        if not meta.wants_certificate:
            if existing is not None and ann.generated_from(existing, meta.name):
                uid = (existing.get("metadata") or {}).get("uid")
                await self.ports.in_kube_pool(kube.delete_acmcert, *key, uid)
                log.info("%s/%s: annotations removed, generated AcmCertificate deleted", *key)
            return DONE
        if refusal := await self._mode_refuses(meta.namespace):
            await self._warn(meta, EventReason.ANNOTATIONS_IGNORED, refusal)
            return DONE
        try:
            spec = ann.desired_spec(meta)
        except ann.AnnotationError as exc:
            # The generated AcmCertificate says so too: its reconcile parses the same
            # annotations (from the view), and a refusal by the API server no longer applies.
            self._refusal(key, None)
            await self._warn(meta, EventReason.INVALID_ANNOTATIONS, str(exc))
            return DONE
        if existing is None:
            try:
                created = await self.ports.in_kube_pool(
                    kube.create_acmcert, meta.namespace, ann.manifest(meta, spec)
                )
            except KubeError as exc:
                await self._refused(meta, exc)
                return DONE
            if created is None:
                return Next(after=1.0)  # created concurrently by someone else: look again
            log.info("%s/%s: AcmCertificate generated from the Secret's annotations", *key)
            self._refusal(key, None)
            return DONE
        if not ann.generated_from(existing, meta.name):
            await self._warn(
                meta,
                EventReason.ACMCERTIFICATE_EXISTS,
                f"AcmCertificate {meta.name} already exists and was not generated from this "
                "Secret; it is left as it is",
                also=existing,
            )
            return DONE
        patch = ann.spec_patch(existing, spec, meta)
        if patch is not None:
            try:
                await self.ports.in_kube_pool(kube.patch_acmcert, *key, patch)
            except KubeError as exc:
                await self._refused(meta, exc)
                return DONE
            log.info("%s/%s: generated AcmCertificate updated from annotations", *key)
        self._refusal(key, None)
        return DONE

    def _refusal(self, key: Key, message: str | None) -> None:
        """Note why the API server refused the annotations' spec (None: it did not), and have
        the generated AcmCertificate's Ready say so (reconciler.py reads it from the view)."""
        if self.view.note_refused(key, message):
            self.syncs.trigger(key, urgent=True)

    async def _mode_refuses(self, namespace: str) -> str | None:
        return await annotation_mode_refusal(self.ports, namespace)

    async def _refused(self, meta: ann.SecretMeta, exc: KubeError) -> None:
        """The API server refused the generated spec (422): tell the Secret's owner."""
        if namespace_terminating(exc):
            # The Secret goes with its namespace; there is nobody left to tell.
            log.info(
                "%s/%s: not generated, its namespace is being deleted", meta.namespace, meta.name
            )
            return
        if exc.status != HTTPStatus.UNPROCESSABLE_ENTITY:
            raise exc
        # The CRD's schema is stricter in places than the annotation parser (lengths, counts).
        message = str(exc).removeprefix(f"HTTP {exc.status}: ")
        self._refusal((meta.namespace, meta.name), f"the API server refused it: {message}")
        await self._warn(
            meta,
            EventReason.INVALID_ANNOTATIONS,
            f"the AcmCertificate generated from the annotations was refused: {message}",
        )

    async def _warn(
        self, meta: ann.SecretMeta, reason: EventReason, message: str, also: JsonObj | None = None
    ) -> None:
        key = (meta.namespace, meta.name)
        if self._warned.get(key) == meta.resource_version:
            return
        self._warned[key] = meta.resource_version
        nt.log_notice(
            meta.namespace, meta.name, nt.Notice(EventType.WARNING, reason, message), "Secret"
        )
        kube = self.ports.kube
        secret_ref = ObjectRef("v1", "Secret", meta.namespace, meta.name, meta.uid or None)
        await self.ports.in_kube_pool(
            kube.post_event, secret_ref, EventType.WARNING, reason, message
        )
        if also is not None:
            ref = ObjectRef.of({**also, "kind": also.get("kind", "AcmCertificate")})
            await self.ports.in_kube_pool(kube.post_event, ref, EventType.WARNING, reason, message)


async def annotation_mode_refusal(ports: Ports, namespace: str) -> str | None:
    """Why the operator's annotation mode ignores annotations in ``namespace``, or None
    (the namespace's labels read only when a selector decides)."""
    config, labels = ports.config, None
    if config.annotation_mode == "selector":
        labels = await ports.in_kube_pool(ports.kube.namespace_labels, namespace)
    return ann.mode_refusal(config, namespace, labels)
