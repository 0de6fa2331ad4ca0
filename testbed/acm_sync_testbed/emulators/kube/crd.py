"""CustomResourceDefinitions: validation, the served resource types, schema pruning/defaults."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Mapping
from typing import Any

from acm_sync_testbed.emulators.kube.errors import ApiError
from acm_sync_testbed.emulators.kube.resources import Column, ResourceType

JSON = dict[str, Any]

_ROOT_FIELDS = ("apiVersion", "kind", "metadata")


def _crd_invalid(name: str, field: str, message: str) -> ApiError:
    details = {
        "name": name,
        "group": "apiextensions.k8s.io",
        "kind": "CustomResourceDefinition",
        "causes": [{"reason": "FieldValueInvalid", "message": message, "field": field}],
    }
    return ApiError(
        422,
        f'CustomResourceDefinition.apiextensions.k8s.io "{name}" is invalid: {field}: {message}',
        details=details,
    )


def validate_crd(crd: JSON) -> None:
    """Reject the CRDs the API server rejects for reasons a user is likely to hit."""
    name = crd["metadata"].get("name", "")
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    for field in ("group", "scope"):
        if not spec.get(field):
            raise _crd_invalid(name, f"spec.{field}", "Required value")
    for field in ("plural", "kind"):
        if not names.get(field):
            raise _crd_invalid(name, f"spec.names.{field}", "Required value")
    if name != f"{names['plural']}.{spec['group']}":
        raise _crd_invalid(name, "metadata.name", 'must be spec.names.plural+"."+spec.group')
    if spec["scope"] not in ("Namespaced", "Cluster"):
        raise _crd_invalid(
            name, "spec.scope", 'Unsupported value: supported values: "Cluster", "Namespaced"'
        )
    versions = spec.get("versions") or []
    if not versions:
        raise _crd_invalid(name, "spec.versions", "Required value")
    if sum(bool(v.get("storage")) for v in versions) != 1:
        raise _crd_invalid(
            name, "spec.versions", "must have exactly one version marked as storage version"
        )


def crd_status(crd: JSON) -> JSON:
    """The status a healthy API server reports shortly after a CRD is created."""
    names = dict(crd["spec"]["names"])
    names.setdefault("singular", names["kind"].lower())
    names.setdefault("listKind", names["kind"] + "List")
    now = crd["metadata"]["creationTimestamp"]
    conditions = [
        {"type": t, "status": "True", "reason": r, "message": m, "lastTransitionTime": now}
        for t, r, m in (
            ("NamesAccepted", "NoConflicts", "no conflicts found"),
            ("Established", "InitialNamesAccepted", "the initial names have been accepted"),
        )
    ]
    storage = [v["name"] for v in crd["spec"]["versions"] if v.get("storage")]
    return {"acceptedNames": names, "conditions": conditions, "storedVersions": storage}


def crd_types(crd: JSON) -> list[ResourceType]:
    """One served resource type per served version of the CRD."""
    spec = crd["spec"]
    names = spec["names"]
    served = []
    for version in spec["versions"]:
        if not version.get("served", True):
            continue
        columns = tuple(
            Column(
                name=c["name"],
                type=c.get("type", "string"),
                json_path=c.get("jsonPath", ""),
                description=c.get("description", ""),
                priority=int(c.get("priority", 0)),
                format=c.get("format", ""),
            )
            for c in version.get("additionalPrinterColumns") or []
        ) or (Column("Age", "date", ".metadata.creationTimestamp"),)
        schema = (version.get("schema") or {}).get("openAPIV3Schema")
        served.append(
            ResourceType(
                group=spec["group"],
                version=version["name"],
                kind=names["kind"],
                plural=names["plural"],
                namespaced=spec["scope"] == "Namespaced",
                short_names=tuple(names.get("shortNames") or ()),
                categories=tuple(names.get("categories") or ()),
                columns=columns,
                status_subresource="status" in (version.get("subresources") or {}),
                has_generation=True,
                schema=schema,
                custom=True,
            )
        )
    return served


_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "object": (dict,),
    "array": (list,),
}


def _check_type(schema: Mapping[str, Any], value: Any, path: str, errors: list[str]) -> bool:
    expected = schema.get("type")
    if value is None:
        if not schema.get("nullable"):
            errors.append(
                f'{path}: Invalid value: "null": {path} in body must be of type '
                f"{expected or 'object'}"
            )
        return False
    if (
        schema.get("x-kubernetes-int-or-string")
        and isinstance(value, (int, str))
        and not isinstance(value, bool)
    ):
        return True
    if expected in _TYPES:
        ok = isinstance(value, _TYPES[expected]) and not (
            expected != "boolean" and isinstance(value, bool)
        )
        if not ok:
            errors.append(
                f"{path}: Invalid value: {value!r}: {path} in body must be of type {expected}"
            )
            return False
    if "enum" in schema and value not in schema["enum"]:
        allowed = ", ".join(f'"{v}"' for v in schema["enum"])
        errors.append(f"{path}: Unsupported value: {value!r}: supported values: {allowed}")
    if isinstance(value, str) and "pattern" in schema and not _matches(schema["pattern"], value):
        errors.append(
            f"{path}: Invalid value: {value!r}: {path} in body should match '{schema['pattern']}'"
        )
    _check_bounds(schema, value, path, errors)
    return True


def _matches(pattern: str, value: str) -> bool:
    try:
        return re.search(pattern, value) is not None
    except re.error:
        return True  # An RE2-only construct (e.g. \\p{L}): not checked rather than wrongly refused.


_BOUNDS: tuple[tuple[str, Callable[[Any], Any], str, str], ...] = (
    ("minimum", lambda v: v, ">=", "should be greater than or equal to"),
    ("maximum", lambda v: v, "<=", "should be less than or equal to"),
    ("minLength", len, ">=", "should be at least {} chars long"),
    ("maxLength", len, "<=", "may not be more than {} bytes"),
    ("minItems", len, ">=", "should have at least {} items"),
    ("maxItems", len, "<=", "must have at most {} items"),
    ("minProperties", len, ">=", "should have at least {} properties"),
    ("maxProperties", len, "<=", "must have at most {} properties"),
)
_BOUND_TYPES = {
    "minimum": (int, float),
    "maximum": (int, float),
    "minLength": (str,),
    "maxLength": (str,),
    "minItems": (list,),
    "maxItems": (list,),
    "minProperties": (dict,),
    "maxProperties": (dict,),
}


def _check_bounds(schema: Mapping[str, Any], value: Any, path: str, errors: list[str]) -> None:
    if isinstance(value, bool):
        return
    for keyword, measure, op, text in _BOUNDS:
        if keyword not in schema or not isinstance(value, _BOUND_TYPES[keyword]):
            continue
        limit, size = schema[keyword], measure(value)
        if (op == ">=" and size < limit) or (op == "<=" and size > limit):
            wording = text.format(limit) if "{}" in text else f"{text} {limit}"
            errors.append(f"{path}: Invalid value: {value!r}: {path} in body {wording}")
    if isinstance(value, list) and schema.get("x-kubernetes-list-type") == "set":
        seen: list[Any] = []
        for item in value:
            if item in seen:
                errors.append(f"{path}: Duplicate value: {item!r}")
            seen.append(item)


def apply_schema(
    schema: Mapping[str, Any], value: Any, path: str, errors: list[str], unknown: list[str]
) -> Any:
    """Prune unknown fields, fill defaults and collect validation errors, structurally.

    ``unknown`` collects the pruned field paths (for ``fieldValidation=Strict``).
    """
    if not _check_type(schema, value, path, errors):
        return value
    if isinstance(value, dict):
        properties: Mapping[str, Any] = schema.get("properties") or {}
        additional = schema.get("additionalProperties")
        preserve = bool(schema.get("x-kubernetes-preserve-unknown-fields"))
        result: JSON = {}
        for key, item in value.items():
            child = f"{path}.{key}"
            if key in properties:
                result[key] = apply_schema(properties[key], item, child, errors, unknown)
            elif isinstance(additional, dict):
                result[key] = apply_schema(additional, item, child, errors, unknown)
            elif preserve or additional is True:
                result[key] = item
            else:
                unknown.append(child)
        for key, sub in properties.items():
            if key not in result and "default" in sub:
                result[key] = apply_schema(
                    sub, copy.deepcopy(sub["default"]), f"{path}.{key}", errors, unknown
                )
        for key in schema.get("required") or ():
            if key not in result:
                errors.append(f"{path}.{key}: Required value")
        return result
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [
            apply_schema(schema["items"], v, f"{path}[{i}]", errors, unknown)
            for i, v in enumerate(value)
        ]
    return value


def structural(rtype: ResourceType, obj: JSON) -> tuple[JSON, list[str], list[str]]:
    """Apply the CRD schema to a custom resource: (pruned object, errors, unknown fields)."""
    if rtype.schema is None:
        return obj, [], []
    errors: list[str] = []
    unknown: list[str] = []
    body = {k: v for k, v in obj.items() if k not in _ROOT_FIELDS}
    schema = dict(rtype.schema)
    schema.pop("required", None)  # Root-level "required" is checked below, without metadata.
    result = apply_schema(schema, body, "", errors, unknown)
    for key in rtype.schema.get("required") or ():
        if key not in result and key not in _ROOT_FIELDS:
            errors.append(f"{key}: Required value")
    pruned = {k: obj[k] for k in _ROOT_FIELDS if k in obj}
    pruned.update(result)
    return pruned, [e.lstrip(".") for e in errors], [u.lstrip(".") for u in unknown]
