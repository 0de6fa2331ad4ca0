"""Decoding of the protobuf request bodies that client-go's typed clients send.

kubectl (``create secret``, ``create namespace``...) and Helm (its release Secrets) write
built-in kinds with ``Content-Type: application/vnd.kubernetes.protobuf``. Responses can stay
JSON (clients accept both), but request bodies must be understood. Only the kinds those
tools write through typed clients are described here; others answer 415 as before.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any, Union

from acm_sync_testbed.emulators.kube.errors import ApiError

MAGIC = b"k8s\x00"

# field number -> (JSON name, kind). A kind is a scalar name, a nested schema, or ("list", kind).
Kind = Union[str, "Schema", tuple[str, Any]]
Schema = dict[int, tuple[str, Kind]]

TIME: Schema = {1: ("seconds", "int"), 2: ("nanos", "int")}
OWNER_REFERENCE: Schema = {
    1: ("kind", "string"),
    3: ("name", "string"),
    4: ("uid", "string"),
    5: ("apiVersion", "string"),
    6: ("controller", "bool"),
    7: ("blockOwnerDeletion", "bool"),
}
OBJECT_META: Schema = {
    1: ("name", "string"),
    2: ("generateName", "string"),
    3: ("namespace", "string"),
    5: ("uid", "string"),
    6: ("resourceVersion", "string"),
    7: ("generation", "int"),
    8: ("creationTimestamp", "time"),
    9: ("deletionTimestamp", "time"),
    10: ("deletionGracePeriodSeconds", "int"),
    11: ("labels", "map_string"),
    12: ("annotations", "map_string"),
    13: ("ownerReferences", ("list", OWNER_REFERENCE)),
    14: ("finalizers", ("list", "string")),
}
OBJECT_REFERENCE: Schema = {
    1: ("kind", "string"),
    2: ("namespace", "string"),
    3: ("name", "string"),
    4: ("uid", "string"),
    5: ("apiVersion", "string"),
    6: ("resourceVersion", "string"),
    7: ("fieldPath", "string"),
}
KINDS: dict[str, Schema] = {
    "Secret": {
        1: ("metadata", OBJECT_META),
        2: ("data", "map_bytes"),
        3: ("type", "string"),
        4: ("stringData", "map_string"),
        5: ("immutable", "bool"),
    },
    "ConfigMap": {
        1: ("metadata", OBJECT_META),
        2: ("data", "map_string"),
        3: ("binaryData", "map_bytes"),
        4: ("immutable", "bool"),
    },
    "Namespace": {
        1: ("metadata", OBJECT_META),
        2: ("spec", {1: ("finalizers", ("list", "string"))}),
    },
    "ServiceAccount": {
        1: ("metadata", OBJECT_META),
        2: ("secrets", ("list", OBJECT_REFERENCE)),
        3: ("imagePullSecrets", ("list", {1: ("name", "string")})),
        4: ("automountServiceAccountToken", "bool"),
    },
    "DeleteOptions": {
        1: ("gracePeriodSeconds", "int"),
        2: ("preconditions", {1: ("uid", "string"), 2: ("resourceVersion", "string")}),
        3: ("orphanDependents", "bool"),
        4: ("propagationPolicy", "string"),
        5: ("dryRun", ("list", "string")),
    },
}
_UNKNOWN: Schema = {
    1: ("typeMeta", {1: ("apiVersion", "string"), 2: ("kind", "string")}),
    2: ("raw", "raw"),
}


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(data):
            raise ApiError(400, "truncated protobuf body")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def _fields(data: bytes) -> list[tuple[int, int | bytes]]:
    fields: list[tuple[int, int | bytes]] = []
    pos = 0
    while pos < len(data):
        tag, pos = _varint(data, pos)
        number, wire = tag >> 3, tag & 7
        if wire == 0:
            value, pos = _varint(data, pos)
            fields.append((number, value))
        elif wire == 2:
            length, pos = _varint(data, pos)
            fields.append((number, data[pos : pos + length]))
            pos += length
        elif wire in (1, 5):
            pos += 8 if wire == 1 else 4
        else:
            raise ApiError(400, f"unsupported protobuf wire type {wire}")
    return fields


def _scalar(kind: Kind, value: int | bytes) -> Any:
    if isinstance(kind, dict):
        return _message(kind, value if isinstance(value, bytes) else b"")
    if kind == "string":
        return value.decode() if isinstance(value, bytes) else str(value)
    if kind == "bool":
        return bool(value)
    if kind == "int":
        number = int(value) if not isinstance(value, bytes) else 0
        return number - (1 << 64) if number >= 1 << 63 else number
    if kind == "time":
        seconds = _message(TIME, value if isinstance(value, bytes) else b"").get("seconds", 0)
        if not seconds:
            return None
        return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return value


def _message(schema: Schema, data: bytes) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for number, value in _fields(data):
        if number not in schema:
            continue
        name, kind = schema[number]
        if kind in ("map_string", "map_bytes"):
            entry = dict(_fields(value if isinstance(value, bytes) else b""))
            key = entry.get(1, b"")
            raw = entry.get(2, b"")
            key_text = key.decode() if isinstance(key, bytes) else str(key)
            raw_bytes = raw if isinstance(raw, bytes) else b""
            decoded = (
                raw_bytes.decode() if kind == "map_string" else base64.b64encode(raw_bytes).decode()
            )
            result.setdefault(name, {})[key_text] = decoded
        elif isinstance(kind, tuple):
            result.setdefault(name, []).append(_scalar(kind[1], value))
        else:
            scalar = _scalar(kind, value)
            # Go's zero values are "not set" in the JSON form (omitempty).
            if scalar is not None and (scalar is True or scalar not in ("", 0)):
                result[name] = scalar
    return result


def decode(body: bytes, kind_hint: str = "") -> dict[str, Any]:
    """Decode one ``k8s\\0``-framed protobuf object into its JSON form."""
    if not body.startswith(MAGIC):
        raise ApiError(400, "protobuf body without the k8s magic prefix")
    envelope = _message(_UNKNOWN, body[len(MAGIC) :])
    type_meta = envelope.get("typeMeta") or {}
    kind = type_meta.get("kind") or kind_hint
    schema = KINDS.get(kind)
    if schema is None:
        raise ApiError(415, f"the body of the request was in an unknown format: protobuf {kind}")
    obj = _message(schema, envelope.get("raw", b""))
    if type_meta.get("apiVersion"):
        obj["apiVersion"] = type_meta["apiVersion"]
    obj["kind"] = kind
    return obj
