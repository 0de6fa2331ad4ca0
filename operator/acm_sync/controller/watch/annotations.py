"""Annotation mode: a TLS Secret annotated with ``acmsync.io/regions`` (or
``acmsync.io/targets``) gets an AcmCertificate.

The generated AcmCertificate has the Secret's name, an ownerReference to the Secret and the
``acmsync.io/generated`` label. Only the metadata of a Secret is kept here, never its data.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from acm_sync.controller.platform.flags import OperatorConfig
from acm_sync.controller.platform.kubeapi import API_VERSION, KIND, JsonObj
from acm_sync.core.labelselector import parse_selector
from acm_sync.core.regions import validate_region
from acm_sync.core.tags import validate_tags
from acm_sync.core.targets import parse_targets_annotation, selector_matches

ANNOTATION_PREFIX = "acmsync.io/"
REGIONS_ANNOTATION = "acmsync.io/regions"
TAGS_ANNOTATION = "acmsync.io/tags"
DELETION_POLICY_ANNOTATION = "acmsync.io/deletion-policy"
ON_KEY_CHANGE_ANNOTATION = "acmsync.io/on-key-change"
# Other accounts: ``edge=us-east-1;shared=us-west-2+eu-west-1`` (AcmTarget=regions joined by +).
TARGETS_ANNOTATION = "acmsync.io/targets"
GENERATED_LABEL = "acmsync.io/generated"
MANAGED_FIELDS = ("secretName", "regions", "targets", "tags", "deletionPolicy", "onKeyChange")
# Annotation -> (spec field, the values it takes; the first is the CRD's default). An absent
# annotation means the default, so removing one puts the field back.
CHOICE_ANNOTATIONS = {
    DELETION_POLICY_ANNOTATION: ("deletionPolicy", ("Retain", "Delete")),
    ON_KEY_CHANGE_ANNOTATION: ("onKeyChange", ("Block", "ImportNew")),
}
DEFAULTED_FIELDS = {field: values[0] for field, values in CHOICE_ANNOTATIONS.values()}
# Either of these makes a Secret ask for a generated AcmCertificate.
TRIGGER_ANNOTATIONS = (REGIONS_ANNOTATION, TARGETS_ANNOTATION)


class AnnotationError(ValueError):
    """The annotations cannot be turned into a spec."""


@dataclass(frozen=True, slots=True)
class SecretMeta:
    """What annotation mode needs from a Secret event: metadata only."""

    namespace: str
    name: str
    uid: str
    resource_version: str
    secret_type: str
    annotations: Mapping[str, str]
    deleted: bool = False

    @classmethod
    def of(cls, body: Mapping[str, Any], deleted: bool = False) -> SecretMeta:
        """Copy the metadata out of a Secret body (the data is not kept)."""
        meta = body.get("metadata") or {}
        return cls(
            namespace=str(meta.get("namespace", "")),
            name=str(meta.get("name", "")),
            uid=str(meta.get("uid", "")),
            resource_version=str(meta.get("resourceVersion", "")),
            secret_type=str(body.get("type", "")),
            # Only our own annotations: kubectl's last-applied-configuration holds the data.
            annotations={
                k: str(v)
                for k, v in (meta.get("annotations") or {}).items()
                if k.startswith(ANNOTATION_PREFIX)
            },
            deleted=deleted,
        )

    @property
    def wants_certificate(self) -> bool:
        """Whether the Secret asks for a generated AcmCertificate."""
        return not self.deleted and any(a in self.annotations for a in TRIGGER_ANNOTATIONS)


def parse_tags(text: str) -> dict[str, str]:
    """``k=v,k2=v2`` -> dict; ``k=`` is an empty value, an entry without ``=`` is an error."""
    tags: dict[str, str] = {}
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep:
            raise AnnotationError(
                f"{TAGS_ANNOTATION}: {item!r} has no '=' (write {item}=VALUE, or {item}= for an "
                "empty value)"
            )
        if not key:
            raise AnnotationError(f"{TAGS_ANNOTATION}: {item!r} has no key")
        tags[key] = value.strip()
    return tags


def parse_regions(text: str) -> list[str]:
    """``us-east-1,eu-west-1`` -> unique region names in order; raises for a bad name."""
    regions = list(dict.fromkeys(r.strip() for r in text.split(",") if r.strip()))
    if not regions:
        raise AnnotationError(f"{REGIONS_ANNOTATION} names no region")
    problems = [p for p in map(validate_region, regions) if p is not None]
    if problems:
        raise AnnotationError(f"{REGIONS_ANNOTATION}: " + "; ".join(problems))
    return regions


def parse_targets(text: str) -> list[JsonObj]:
    """``edge=us-east-1;shared=us-west-2+eu-west-1`` -> spec.targets; raises for a bad one."""
    try:
        refs = parse_targets_annotation(text)
    except ValueError as exc:
        raise AnnotationError(f"{TARGETS_ANNOTATION}: {exc}") from None
    return [{"target": ref.target, "regions": list(ref.regions)} for ref in refs]


def desired_spec(meta: SecretMeta) -> JsonObj:
    """The spec the annotations ask for; raises AnnotationError when they are unusable."""
    targets = parse_targets(meta.annotations.get(TARGETS_ANNOTATION, ""))
    if REGIONS_ANNOTATION in meta.annotations or not targets:
        regions = parse_regions(meta.annotations.get(REGIONS_ANNOTATION, ""))
    else:
        regions = []
    spec: JsonObj = {"secretName": meta.name, "regions": regions}
    if targets:
        spec["targets"] = targets
    tags = parse_tags(meta.annotations.get(TAGS_ANNOTATION, ""))
    if problems := validate_tags(tags, with_targets=bool(targets)):
        raise AnnotationError(f"{TAGS_ANNOTATION}: " + "; ".join(problems))
    if tags:
        spec["tags"] = tags
    for annotation, (field, values) in CHOICE_ANNOTATIONS.items():
        value = meta.annotations.get(annotation, "").strip()
        if not value:
            continue
        if value not in values:
            raise AnnotationError(f"{annotation} must be {' or '.join(values)}, not {value!r}")
        spec[field] = value
    return spec


def owner_reference(meta: SecretMeta) -> JsonObj:
    """The ownerReference that ties a generated AcmCertificate to its Secret."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "name": meta.name,
        "uid": meta.uid,
        "controller": True,
        "blockOwnerDeletion": False,
    }


def manifest(meta: SecretMeta, spec: JsonObj, owner: JsonObj | None = None) -> JsonObj:
    """A generated AcmCertificate for ``meta``, owned by its Secret (or by ``owner``: the
    Ingress that asked for it with acmsync.io/import)."""
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {
            "name": meta.name,
            "namespace": meta.namespace,
            "labels": {GENERATED_LABEL: "true"},
            "ownerReferences": [owner or owner_reference(meta)],
        },
        "spec": spec,
    }


def is_generated(obj: Mapping[str, Any]) -> bool:
    """Whether an AcmCertificate was generated from a Secret's annotations."""
    labels = (obj.get("metadata") or {}).get("labels") or {}
    return labels.get(GENERATED_LABEL) == "true"


def generated_from(obj: Mapping[str, Any], secret_name: str) -> bool:
    """Generated, and owned by the Secret named ``secret_name`` (not a user's object)."""
    if not is_generated(obj):
        return False
    refs = (obj.get("metadata") or {}).get("ownerReferences") or []
    return any(r.get("kind") == "Secret" and r.get("name") == secret_name for r in refs)


def generated_for(obj: Mapping[str, Any], kind: str, uid: str) -> bool:
    """Generated for the object of ``kind`` with ``uid`` (an Ingress's acmsync.io/import)."""
    if not is_generated(obj):
        return False
    refs = (obj.get("metadata") or {}).get("ownerReferences") or []
    return any(r.get("kind") == kind and r.get("uid") == uid for r in refs)


def spec_patch(
    obj: Mapping[str, Any], spec: JsonObj, meta: SecretMeta, owner: JsonObj | None = None
) -> JsonObj | None:
    """The merge patch that brings a generated AcmCertificate in line, or None if it is
    (``owner``: the Ingress it is generated for, instead of the Secret ``meta``)."""
    current = obj.get("spec") or {}
    spec_changes: JsonObj = {}
    for field in MANAGED_FIELDS:
        if field in DEFAULTED_FIELDS and field not in spec:
            # The CRD defaults it; an absent annotation means "the default".
            default = DEFAULTED_FIELDS[field]
            if current.get(field, default) != default:
                spec_changes[field] = default
            continue
        if field == "tags" and current.get(field) and spec.get(field):
            if current[field] != spec[field]:
                # A merge patch keeps the keys it does not mention: null removes a dropped tag.
                removed = dict.fromkeys(k for k in current[field] if k not in spec[field])
                spec_changes[field] = {**removed, **spec[field]}
            continue
        if current.get(field) != spec.get(field):
            spec_changes[field] = spec.get(field)
    patch: JsonObj = {}
    if spec_changes:
        patch["spec"] = spec_changes
    refs = (obj.get("metadata") or {}).get("ownerReferences") or []
    wanted = owner or owner_reference(meta)
    if not any(r.get("uid") == wanted["uid"] for r in refs):
        patch["metadata"] = {"ownerReferences": [wanted]}
    return patch or None


def unusable(
    obj: Mapping[str, Any],
    secret_name: str | None,
    annotations: Mapping[str, str],
    refused: str | None = None,
) -> str | None:
    """Why the annotations of the Secret a generated AcmCertificate comes from cannot be used
    (the bad value named), or None: also for an AcmCertificate that is no generated one.

    ``refused`` is what the API server said of the spec they describe (secretwatch.py), which
    the parser here cannot know: the CRD's schema is stricter in places.
    """
    if not secret_name or not generated_from(obj, secret_name):
        return None
    meta = SecretMeta("", secret_name, "", "", "", annotations)
    try:
        desired_spec(meta)
    except AnnotationError as exc:
        return str(exc)
    return refused


def mode_refusal(
    config: OperatorConfig, namespace: str, labels: Mapping[str, str] | None
) -> str | None:
    """Why the operator's annotation mode ignores annotations in ``namespace``, or None.

    Annotation mode (a Secret's acmsync.io/regions, an Ingress's acmsync.io/import) lets
    whoever may write the object have AcmCertificates created under the operator's identity:
    a capability the platform team grants, to all namespaces, to those its selector picks,
    or to none. ``labels`` are the namespace's (None: unknown, or not read).
    """
    if config.annotation_mode == "off":
        return (
            "acmsync.io/* annotations are ignored: this operator runs with "
            "--annotation-mode=off; create an AcmCertificate instead"
        )
    if config.annotation_mode != "selector":
        return None
    selector = parse_selector(config.annotation_namespace_selector)
    if labels is not None and selector_matches(selector, labels):
        return None
    return (
        f"acmsync.io/* annotations are ignored in namespace {namespace}: it does not match "
        f"the operator's --annotation-namespace-selector "
        f"{config.annotation_namespace_selector!r}; create an AcmCertificate instead"
    )
