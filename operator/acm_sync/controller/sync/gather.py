"""Gather: what a reconcile reads, and only what it needs.

The object comes from the watch (``view.WatchView``), or one GET when a trigger outran it. The
Secret (the one read of key material) and the AcmTargets the spec names are read only for a
full pass, which the decide step asks for only when the status does not already prove the
object in sync.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from acm_sync.controller.platform.kubeapi import JsonObj
from acm_sync.controller.sync import acmtargets as tg
from acm_sync.controller.sync.ports import Ports
from acm_sync.controller.watch import annotations as ann
from acm_sync.controller.watch.view import WatchView
from acm_sync.controller.watch.workqueue import Key


async def the_object(ports: Ports, view: WatchView, key: Key) -> JsonObj | None:
    """The AcmCertificate as the watch shows it; None when it is gone."""
    obj = view.acmcert(key)
    if obj is None:
        # Not on the watch (yet): a trigger that outran it, or an object already gone.
        obj = await ports.in_kube_pool(ports.kube.get_acmcert, *key)
        if obj is not None:
            view.absorb(obj)
    return obj


@dataclass(frozen=True, slots=True)
class FullPassInput:
    """What a full pass reads besides the object: the Secret (its data lives for this pass
    only) and the AcmTargets the spec names."""

    secret: JsonObj | None
    ctx: tg.TargetContext

    @property
    def triggers(self) -> bool:
        """Whether the Secret carries an annotation that generates an AcmCertificate."""
        annotations = ((self.secret or {}).get("metadata") or {}).get("annotations") or {}
        return any(a in annotations for a in ann.TRIGGER_ANNOTATIONS)


async def for_full_pass(
    ports: Ports, view: WatchView, key: Key, secret_name: str | None, targets: Sequence[str]
) -> FullPassInput:
    """Read the Secret and the named AcmTargets (and remember which Secret version was read)."""
    namespace = key[0]
    secret = (
        await ports.in_kube_pool(ports.kube.get_secret, namespace, secret_name)
        if secret_name
        else None
    )
    view.mark_read(key, str((secret or {}).get("metadata", {}).get("resourceVersion", "")))
    ctx = tg.TargetContext(namespace, ports.targets_enabled)
    if targets and ctx.enabled:
        ctx = await ports.in_kube_pool(
            tg.load_context, ports.kube, namespace, targets, enabled=True
        )
    return FullPassInput(secret, ctx)
