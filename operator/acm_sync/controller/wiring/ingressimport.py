"""``acmsync.io/import: "true"`` on an Ingress: an AcmCertificate per ``spec.tls[].secretName``.

The same machinery as a Secret's annotations (watch/annotations.py): the AcmCertificate is
named after the Secret it reads, labelled generated, its spec built by the same parser (the
wiring region; ``acmsync.io/deletion-policy`` from the Ingress, Retain by default), refused
where the operator's annotation mode refuses annotations. It is owned by the Ingress, so the
Ingress's deletion collects it. An AcmCertificate of that name that acm-sync did not generate
for this Ingress is used as it is when it reads the same Secret, and never changed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from http import HTTPStatus

from acm_sync.controller.platform.kubeapi import JsonObj, KubeError
from acm_sync.controller.sync.ports import Ports
from acm_sync.controller.watch import annotations as ann
from acm_sync.controller.watch.view import WatchView
from acm_sync.controller.wiring.consumerview import ConsumerRecord
from acm_sync.core.limits import DEFAULT_WIRING_LIMITS
from acm_sync.core.reasons import EventReason
from acm_sync.core.wiring import valid_name

# Conflicting writes to a handed-over AcmCertificate come from acm-sync's own status writes:
# a few tries outlast them.
HAND_OVER_TRIES = 5


@dataclass
class Imported:
    """The AcmCertificates an import gives (in ``spec.tls`` order), the problems to tell, and
    the generated ones no longer wanted (deleted once the consumer no longer uses them)."""

    names: list[str] = field(default_factory=list)
    problems: list[tuple[EventReason, str]] = field(default_factory=list)
    stale: list[tuple[str, str, str]] = field(default_factory=list)  # namespace, name, uid


def owner_reference(record: ConsumerRecord) -> JsonObj:
    """The ownerReference tying a generated AcmCertificate to its Ingress."""
    return {
        "apiVersion": record.consumer.api,
        "kind": record.consumer.kind,
        "name": record.name,
        "uid": record.uid,
        "controller": True,
        "blockOwnerDeletion": False,
    }


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
        wanted = ()
    owner = owner_reference(record)
    annotations = {ann.REGIONS_ANNOTATION: ports.config.wiring_region}
    if policy := record.annotations.get(ann.DELETION_POLICY_ANNOTATION):
        annotations[ann.DELETION_POLICY_ANNOTATION] = policy
    kube = ports.kube
    for secret in wanted:
        if not valid_name(secret):
            continue  # cannot be an AcmCertificate's name: the plan says so (INVALID_NAME)
        meta = ann.SecretMeta(
            namespace, secret, record.uid, record.resource_version, "", annotations
        )
        try:
            spec = ann.desired_spec(meta)
        except ann.AnnotationError as exc:
            result.problems.append((EventReason.INVALID_ANNOTATIONS, str(exc)))
            continue
        existing = view.acmcert((namespace, secret))
        if existing is None:
            existing = await ports.in_kube_pool(kube.get_acmcert, namespace, secret)
        try:
            if existing is None:
                created = await ports.in_kube_pool(
                    kube.create_acmcert, namespace, ann.manifest(meta, spec, owner)
                )
                if created is not None:
                    view.absorb(created)
            elif ann.generated_for(existing, kind, record.uid):
                if patch := ann.spec_patch(existing, spec, meta, owner):
                    view.absorb(
                        await ports.in_kube_pool(kube.patch_acmcert, namespace, secret, patch)
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
            continue
        result.names.append(secret)
    wired = record.wired
    for name in {*record.tls_secrets, *(wired.names if wired else ())} - set(result.names):
        obj = view.acmcert((namespace, name))
        if obj is not None and ann.generated_for(obj, kind, record.uid):
            result.stale.append((namespace, name, str((obj.get("metadata") or {}).get("uid"))))
    return result


async def hand_over(
    ports: Ports, view: WatchView, obj: JsonObj, owner: ConsumerRecord, heir: ConsumerRecord
) -> None:
    """Make ``heir`` (another Ingress importing the same Secret) the owner of ``obj``, which
    acm-sync generated for ``owner``; each try conditional on the version it read (the status
    changes under it as the consumers let go)."""
    name = str((obj.get("metadata") or {}).get("name"))
    for _ in range(HAND_OVER_TRIES):
        patch: JsonObj = {
            "metadata": {
                "resourceVersion": (obj.get("metadata") or {}).get("resourceVersion"),
                "ownerReferences": [owner_reference(heir)],
            }
        }
        try:
            view.absorb(
                await ports.in_kube_pool(ports.kube.patch_acmcert, heir.namespace, name, patch)
            )
            return
        except KubeError as exc:
            if exc.status != HTTPStatus.CONFLICT:
                if exc.status == HTTPStatus.NOT_FOUND:
                    return
                raise
        fresh = await ports.in_kube_pool(ports.kube.get_acmcert, heir.namespace, name)
        if fresh is None or not ann.generated_for(fresh, owner.consumer.kind, owner.uid):
            return  # gone, or no longer the leaving Ingress's to give
        obj = fresh
