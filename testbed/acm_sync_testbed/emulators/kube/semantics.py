"""Per-kind rules applied on every write: what makes a Secret, Namespace or CRD behave as one."""

from __future__ import annotations

import base64
import binascii
import re
from datetime import UTC, datetime
from typing import Any

from acm_sync_testbed.emulators.kube import crd as crds
from acm_sync_testbed.emulators.kube.errors import ApiError, invalid, too_long
from acm_sync_testbed.emulators.kube.resources import ResourceType

JSON = dict[str, Any]


def now_rfc3339() -> str:
    """The API server's timestamp format: UTC, second precision."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
# Kinds whose names are DNS labels rather than subdomains.
_LABEL_NAMED = {"Namespace", "Service"}
# RBAC object names are path segments: anything without '/' or '%'.
_PATH_NAMED = {"Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding"}


def validate_metadata(rtype: ResourceType, obj: JSON) -> None:
    """Name and label syntax, as the API server checks them (422 Invalid)."""
    meta = obj["metadata"]
    name = meta.get("name", "")
    if rtype.kind in _PATH_NAMED:
        ok = bool(name) and "/" not in name and "%" not in name and name not in (".", "..")
        pattern = "may not contain '/' or '%'"
    elif rtype.kind in _LABEL_NAMED:
        ok = len(name) <= 63 and bool(_DNS_LABEL.match(name))
        pattern = (
            "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-'"
        )
    else:
        ok = len(name) <= 253 and bool(_DNS_SUBDOMAIN.match(name))
        pattern = (
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, "
            "'-' or '.', and must start and end with an alphanumeric character"
        )
    if not ok:
        raise invalid(
            rtype.kind, name, "metadata.name", f'Invalid value: "{name}": {pattern}', rtype.group
        )
    for key, value in (meta.get("labels") or {}).items():
        if not isinstance(value, str) or len(value) > 63 or not _LABEL_VALUE.match(value):
            raise invalid(
                rtype.kind,
                name,
                "metadata.labels",
                f'Invalid value: "{value}": a valid label must be an empty string or consist of '
                "alphanumeric characters, '-', '_' or '.'",
                rtype.group,
            )
        if not key or len(key.split("/")[-1]) > 63:
            raise invalid(
                rtype.kind, name, "metadata.labels", f'Invalid value: "{key}"', rtype.group
            )
    for key, value in (meta.get("annotations") or {}).items():
        if not isinstance(value, str):
            raise ApiError(400, f"annotation {key!r} must be a string")


# metav1.MicroTime as kube-apiserver parses it: RFC 3339 with exactly six fraction digits.
_MICRO_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}(Z|[+-]\d\d:\d\d)$")


def _check_event_time(rtype: ResourceType, obj: JSON) -> None:
    """An Event's eventTime is a MicroTime: without the six fraction digits it is a 400."""
    value = obj.get("eventTime")
    if value is None or (isinstance(value, str) and _MICRO_TIME.match(value)):
        return
    raise ApiError(
        400,
        f'Event in version "{rtype.version}" cannot be handled as a Event: parsing time '
        f'"{value}" as "2006-01-02T15:04:05.000000Z07:00": cannot parse it as a MicroTime',
    )


# core.MaxSecretSize: the sum of a Secret's decoded data values, or of a ConfigMap's data and
# binaryData values, may not exceed 1 MiB (kubernetes pkg/apis/core/validation).
MAX_SECRET_SIZE = 1024 * 1024


def _normalize_secret(obj: JSON) -> None:
    string_data = obj.pop("stringData", None) or {}
    data = dict(obj.get("data") or {})
    for key, value in data.items():
        try:
            base64.b64decode(str(value), validate=True)
        except (binascii.Error, ValueError):
            raise ApiError(400, f"illegal base64 data in Secret data key {key!r}") from None
    for key, value in string_data.items():
        data[key] = base64.b64encode(str(value).encode()).decode()
    if data or "data" in obj:
        obj["data"] = data
    # Counted after stringData is folded in, on the decoded bytes, as the API server does.
    if sum(len(base64.b64decode(str(v))) for v in data.values()) > MAX_SECRET_SIZE:
        raise too_long("Secret", obj["metadata"]["name"], "data", MAX_SECRET_SIZE)
    obj.setdefault("type", "Opaque")
    if obj["type"] == "kubernetes.io/tls":
        for key in ("tls.crt", "tls.key"):
            if key not in data:
                raise invalid("Secret", obj["metadata"]["name"], f"data[{key}]", "Required value")


def _check_config_map(obj: JSON) -> None:
    name = obj["metadata"]["name"]
    size = 0
    for key, value in (obj.get("data") or {}).items():
        if not isinstance(value, str):
            raise invalid("ConfigMap", name, f"data[{key}]", "must be a string")
        size += len(value.encode())
    for key, value in (obj.get("binaryData") or {}).items():
        try:
            size += len(base64.b64decode(str(value), validate=True))
        except (binascii.Error, ValueError):
            raise ApiError(
                400, f"illegal base64 data in ConfigMap binaryData key {key!r}"
            ) from None
    if size > MAX_SECRET_SIZE:
        # The real validation reports the whole object, whose field path prints as "[]".
        raise too_long("ConfigMap", name, "[]", MAX_SECRET_SIZE)


def normalize(rtype: ResourceType, obj: JSON, field_validation: str = "") -> JSON:
    """Apply the kind's write rules to ``obj`` (already a private copy) and return it."""
    group, kind = rtype.group, rtype.kind
    if group == "" and kind == "Secret":
        _normalize_secret(obj)
    elif group == "" and kind == "Namespace":
        status = obj.setdefault("status", {})
        status["phase"] = "Terminating" if obj["metadata"].get("deletionTimestamp") else "Active"
        obj.setdefault("spec", {"finalizers": ["kubernetes"]})
        obj["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = obj["metadata"][
            "name"
        ]
    elif kind == "Event" and group in ("", "events.k8s.io"):
        _check_event_time(rtype, obj)
    elif group == "apiextensions.k8s.io" and kind == "CustomResourceDefinition":
        crds.validate_crd(obj)
        obj["status"] = crds.crd_status(obj)
    elif group == "" and kind == "ConfigMap":
        _check_config_map(obj)
    elif rtype.custom:
        pruned, errors, unknown = crds.structural(rtype, obj)
        name = obj["metadata"].get("name", "")
        if unknown and field_validation == "Strict":
            fields = ", ".join(f'unknown field "{u}"' for u in unknown)
            raise ApiError(
                400,
                f'{kind} in version "{rtype.version}" cannot be handled as a {kind}: '
                f"strict decoding error: {fields}",
            )
        if errors:
            causes = [
                {"reason": "FieldValueInvalid", "message": e, "field": e.split(":")[0]}
                for e in errors
            ]
            raise ApiError(
                422,
                f'{kind}.{group} "{name}" is invalid: [{", ".join(errors)}]'
                if len(errors) > 1
                else f'{kind}.{group} "{name}" is invalid: {errors[0]}',
                details={"name": name, "group": group, "kind": kind, "causes": causes},
            )
        return pruned
    return obj
