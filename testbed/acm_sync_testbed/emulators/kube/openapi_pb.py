"""``GET /openapi/v2`` as protobuf: the gnostic ``openapi.v2.Document`` message.

kubectl 1.32 asks for OpenAPI v2 only as
``application/com.github.proto-openapi.spec.v2@v1.0+protobuf`` (when validating a kind that the
v3 documents do not describe, e.g. a cert-manager Certificate without its CRD). The real API
server (kube-openapi's handler) accepts that subtype or the same with ``.v1.0`` instead of
``@v1.0``, and answers with the latter (Go's mime parser refuses the ``@``), its body the
serialized message without the ``k8s\\0`` envelope of API objects.
Only the part of the message the emulator's v2 document uses is encoded: the swagger version,
the info, and definitions with a type and ``x-kubernetes-group-version-kind``.

Field numbers: github.com/google/gnostic openapiv2/OpenAPIv2.proto.
"""

from __future__ import annotations

from typing import Any

CONTENT_TYPE = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
_ACCEPTED = (
    "com.github.proto-openapi.spec.v2@v1.0+protobuf",
    "com.github.proto-openapi.spec.v2.v1.0+protobuf",
)

# Document
_SWAGGER, _INFO, _DEFINITIONS = 1, 2, 9
# Info
_TITLE, _VERSION = 1, 2
# Definitions.additional_properties, NamedSchema/NamedAny name and value
_ADDITIONAL_PROPERTIES, _NAME, _VALUE = 1, 1, 2
# Schema
_SCHEMA_TYPE, _SCHEMA_VENDOR_EXTENSION = 22, 31
# TypeItem.value
_TYPE_VALUE = 1
# Any.yaml
_ANY_YAML = 2


def wants_protobuf(accept: str) -> bool:
    """Whether the Accept header asks for the protobuf form of OpenAPI v2 (before JSON)."""
    for clause in accept.split(","):
        media = clause.split(";")[0].strip()
        if media in ("application/json", "application/*", "*/*"):
            return False
        if media.removeprefix("application/") in _ACCEPTED:
            return True
    return False


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _field(number: int, payload: bytes | str) -> bytes:
    """A length-delimited field (strings and embedded messages)."""
    data = payload.encode() if isinstance(payload, str) else payload
    return _varint(number << 3 | 2) + _varint(len(data)) + data


def _yaml(value: Any, indent: str = "") -> str:
    """YAML for the lists of flat string maps that vendor extensions hold here."""
    if isinstance(value, list):
        lines = []
        for item in value:
            if isinstance(item, dict):
                pairs = [f"{k}: {_scalar(v)}" for k, v in sorted(item.items())]
                lines.append(f"{indent}- " + f"\n{indent}  ".join(pairs))
            else:
                lines.append(f"{indent}- {_scalar(item)}")
        return "\n".join(lines) + "\n"
    return _scalar(value) + "\n"


def _scalar(value: Any) -> str:
    # Double-quoted so that "" (the core group) and "v1" stay strings.
    text = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'


def _schema(schema: dict[str, Any]) -> bytes:
    out = b""
    if isinstance(schema.get("type"), str):
        out += _field(_SCHEMA_TYPE, _field(_TYPE_VALUE, schema["type"]))
    for name, value in schema.items():
        if name.startswith("x-"):
            any_message = _field(_ANY_YAML, _yaml(value))
            out += _field(
                _SCHEMA_VENDOR_EXTENSION, _field(_NAME, name) + _field(_VALUE, any_message)
            )
    return out


def encode_document(document: dict[str, Any]) -> bytes:
    """The protobuf encoding of an OpenAPI v2 document of the emulator's (small) shape."""
    info = document.get("info") or {}
    out = _field(_SWAGGER, str(document.get("swagger", "2.0")))
    out += _field(
        _INFO,
        _field(_TITLE, str(info.get("title", ""))) + _field(_VERSION, str(info.get("version", ""))),
    )
    named = b"".join(
        _field(_ADDITIONAL_PROPERTIES, _field(_NAME, name) + _field(_VALUE, _schema(schema)))
        for name, schema in (document.get("definitions") or {}).items()
    )
    return out + _field(_DEFINITIONS, named)
