"""``acmsync.io/import: "true"`` on an Ingress: an AcmCertificate per ``spec.tls[].secretName``.

The same machinery as a Secret's annotations (watch/annotations.py): the AcmCertificate is
named after the Secret it reads, labelled generated, its spec built by the same parser (the
wiring region; ``acmsync.io/deletion-policy`` and ``acmsync.io/on-key-change`` from the
Ingress, the CRD's defaults otherwise), refused where the operator's annotation mode refuses
annotations; an unusable value is told and changes nothing. It is owned by the Ingress, so the
Ingress's deletion collects it. Another Ingress importing the same Secret becomes a co-owner
(an ownerReference of its own, not the controller): the garbage collector then deletes the
AcmCertificate only once every importing Ingress is gone, and only the controlling Ingress
sets its spec. An AcmCertificate of that name that acm-sync did not generate for an Ingress is
used as it is when it reads the same Secret, and never changed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus

from acm_sync.controller.platform.kubeapi import JsonObj
from acm_sync.controller.platform.kubeerrors import KubeError
from acm_sync.controller.sync.ports import Ports
from acm_sync.controller.watch import annotations as ann
from acm_sync.controller.watch.view import WatchView
from acm_sync.controller.wiring.consumerview import ConsumerRecord
from acm_sync.core.limits import DEFAULT_WIRING_LIMITS
from acm_sync.core.reasons import EventReason
from acm_sync.core.wiring import valid_name

# Conflicting writes to a co-owned AcmCertificate's owners come from acm-sync's own status
# writes: a few tries outlast them.
OWNER_TRIES = 5


@dataclass
class Imported:
    """The AcmCertificates an import gives (in ``spec.tls`` order), the problems to tell, and
    the generated ones no longer wanted (deleted once the consumer no longer uses them)."""

    names: list[str] = field(default_factory=list)
    problems: list[tuple[EventReason, str]] = field(default_factory=list)
    stale: list[tuple[str, str, str]] = field(default_factory=list)  # namespace, name, uid


def owner_reference(record: ConsumerRecord, controller: bool = True) -> JsonObj:
    """The ownerReference tying a generated AcmCertificate to its Ingress."""
    return {
        "apiVersion": record.consumer.api,
        "kind": record.consumer.kind,
        "name": record.name,
        "uid": record.uid,
        "controller": controller,
        "blockOwnerDeletion": False,
    }


def _refs(obj: JsonObj) -> list[JsonObj]:
    return list((obj.get("metadata") or {}).get("ownerReferences") or [])


def controls(obj: JsonObj, kind: str, uid: str) -> bool:
    """Whether the object of ``kind`` and ``uid`` sets the generated ``obj``'s spec: its
    controlling owner, or, once the garbage collector removed that one, the first left."""
    owners = [r for r in _refs(obj) if r.get("kind") == kind]
    chosen = next((r for r in owners if r.get("controller")), owners[0] if owners else None)
    return chosen is not None and chosen.get("uid") == uid


def imported_by(obj: JsonObj, kind: str) -> bool:
    """Whether ``obj`` is an AcmCertificate acm-sync generated for some object of ``kind``."""
    return ann.is_generated(obj) and any(r.get("kind") == kind for r in _refs(obj))


async def ensure(ports: Ports, view: WatchView, record: ConsumerRecord) -> Imported:
    """Create or update the AcmCertificates ``record``'s import asks for."""
    result = Imported()
    namespace, kind = record.namespace, record.consumer.kind
    wanted = record.tls_secrets if record.imports else ()
    if len(wanted) > DEFAULT_WIRING_LIMITS.certificates:
        # More than a load balancer serves: nothing is created, nothing given up; the plan
        # blocks on the count (TOO_MANY) and the consumer keeps what it has.
        result.names = list(wanted)
        return result
    labels = None
    if wanted and ports.config.annotation_mode == "selector":
        labels = await ports.in_kube_pool(ports.kube.namespace_labels, namespace)
    if wanted and (refusal := ann.mode_refusal(ports.config, namespace, labels)):
        result.problems.append((EventReason.ANNOTATIONS_IGNORED, refusal))
        # As for a Secret: the refusal stops what the annotations would create or change, not
        # what they made before (a namespace label dropped must not delete ARNs in use).
        result.names = [s for s in wanted if _generated(view, namespace, s, record) is not None]
        wanted = ()
    owner = owner_reference(record)
    annotations = {ann.REGIONS_ANNOTATION: ports.config.wiring_region}
    for choice in ann.CHOICE_ANNOTATIONS:
        if value := record.annotations.get(choice):
            annotations[choice] = value
    kube = ports.kube
    for secret in wanted:
        if not valid_name(secret):
            continue  # cannot be an AcmCertificate's name: the plan says so (INVALID_NAME)
        meta = ann.SecretMeta(
            namespace, secret, record.uid, record.resource_version, "", annotations
        )
        spec: JsonObj | None
        try:
            spec = ann.desired_spec(meta)
        except ann.AnnotationError as exc:
            result.problems.append((EventReason.INVALID_ANNOTATIONS, str(exc)))
            # A typo must not cost the certificate (under Delete, its ARNs): what exists
            # stays as it is, and stays wired; nothing is created from it.
            spec = None
        existing = view.acmcert((namespace, secret))
        if existing is None:
            existing = await ports.in_kube_pool(kube.get_acmcert, namespace, secret)
        try:
            if existing is None:
                if spec is None:
                    continue
                created = await ports.in_kube_pool(
                    kube.create_acmcert, namespace, ann.manifest(meta, spec, owner)
                )
                if created is not None:
                    view.absorb(created)
            elif ann.generated_for(existing, kind, record.uid):
                if (
                    spec is not None
                    and controls(existing, kind, record.uid)
                    and (patch := ann.spec_patch(existing, spec, meta, owner))
                ):
                    view.absorb(
                        await ports.in_kube_pool(kube.patch_acmcert, namespace, secret, patch)
                    )
            elif (
                imported_by(existing, kind)
                and (existing.get("spec") or {}).get("secretName") == secret
            ):
                # Another Ingress's import of the same Secret: co-owned, so that Ingress's
                # deletion does not collect it under this one.
                await set_owners(
                    ports, view, existing, lambda refs: [*refs, owner_reference(record, False)]
                )
            elif (existing.get("spec") or {}).get("secretName") != secret:
                result.problems.append(
                    (
                        EventReason.ACMCERTIFICATE_EXISTS,
                        f"AcmCertificate {secret} already exists and reads another Secret; "
                        "it is left as it is and not wired",
                    )
                )
                continue
        except KubeError as exc:
            if exc.status != HTTPStatus.UNPROCESSABLE_ENTITY:
                raise
            message = str(exc).removeprefix(f"HTTP {exc.status}: ")
            result.problems.append(
                (EventReason.INVALID_ANNOTATIONS, f"AcmCertificate {secret} refused: {message}")
            )
            if _generated(view, namespace, secret, record) is None:
                continue  # a refused change keeps the last usable spec, wired
        result.names.append(secret)
    wired = record.wired
    for name in {*record.tls_secrets, *(wired.names if wired else ())} - set(result.names):
        if (obj := _generated(view, namespace, name, record)) is not None:
            result.stale.append((namespace, name, str((obj.get("metadata") or {}).get("uid"))))
    return result


def _generated(
    view: WatchView, namespace: str, name: str, record: ConsumerRecord
) -> JsonObj | None:
    """AcmCertificate ``name`` as the view holds it, if acm-sync generated it for ``record``."""
    obj = view.acmcert((namespace, name))
    return (
        obj
        if obj is not None and ann.generated_for(obj, record.consumer.kind, record.uid)
        else None
    )


async def set_owners(
    ports: Ports,
    view: WatchView,
    obj: JsonObj,
    change: Callable[[list[JsonObj]], list[JsonObj]],
) -> None:
    """Set ``obj``'s ownerReferences to ``change(current ones)``; each try conditional on the
    version it read (the status changes under it as consumers come and go)."""
    meta = obj.get("metadata") or {}
    namespace, name = str(meta.get("namespace")), str(meta.get("name"))
    for _ in range(OWNER_TRIES):
        refs = _refs(obj)
        wanted = change(refs)
        if wanted == refs:
            return
        patch: JsonObj = {
            "metadata": {
                "resourceVersion": (obj.get("metadata") or {}).get("resourceVersion"),
                "ownerReferences": wanted,
            }
        }
        try:
            view.absorb(await ports.in_kube_pool(ports.kube.patch_acmcert, namespace, name, patch))
            return
        except KubeError as exc:
            if exc.status == HTTPStatus.NOT_FOUND:
                return
            if exc.status != HTTPStatus.CONFLICT:
                raise
        fresh = await ports.in_kube_pool(ports.kube.get_acmcert, namespace, name)
        if fresh is None:
            return
        obj = fresh


def without(
    record: ConsumerRecord, heir: ConsumerRecord | None
) -> Callable[[list[JsonObj]], list[JsonObj]]:
    """The owners once ``record`` let go: the others, one of them (or ``heir``, an Ingress
    importing the same Secret that is not an owner yet) the controller."""

    def change(refs: list[JsonObj]) -> list[JsonObj]:
        left = [dict(r) for r in refs if r.get("uid") != record.uid]
        if not any(r.get("kind") == record.consumer.kind for r in left) and heir is not None:
            left.append(owner_reference(heir, False))
        if left and not any(r.get("controller") for r in left):
            left[0]["controller"] = True
        return left

    return change
