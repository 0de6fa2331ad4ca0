"""Patch formats: JSON merge patch (RFC 7386), JSON patch (RFC 6902), strategic merge patch.

Strategic merge patch is implemented for what kubectl sends: maps merge, ``null`` deletes,
``$patch: replace|delete`` directives, ``$setElementOrder``/``$retainKeys`` are accepted, and
lists of objects merge by their merge key (``name`` and a few known keys), other lists replace.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from acm_sync_testbed.emulators.kube.errors import ApiError

if TYPE_CHECKING:
    from acm_sync_testbed.emulators.kube.resources import ResourceType
    from acm_sync_testbed.emulators.kube.store import Store

JSON = dict[str, Any]
MERGE = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"
APPLY = "application/apply-patch+yaml"

# Merge keys of the list fields we may meet (the real ones come from Go struct tags).
_MERGE_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "volumes": "name",
    "env": "name",
    "imagePullSecrets": "name",
    "ports": "containerPort",
    "volumeMounts": "mountPath",
    "conditions": "type",
    "ownerReferences": "uid",
    "tolerations": "key",
}


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge recursively, ``null`` removes, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def strategic_merge_patch(target: Any, patch: Any) -> Any:
    """Apply a strategic merge patch as kubectl builds them for built-in kinds."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    directive = patch.get("$patch")
    if directive == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    if directive == "delete":
        return None
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if key.startswith("$setElementOrder/") or key in ("$retainKeys", "$patch"):
            continue
        if key.startswith("$deleteFromPrimitiveList/"):
            field = key.split("/", 1)[1]
            result[field] = [v for v in result.get(field) or [] if v not in value]
            continue
        if value is None:
            result.pop(key, None)
        elif isinstance(value, list) and key in _MERGE_KEYS and isinstance(result.get(key), list):
            result[key] = _merge_list(result[key], value, _MERGE_KEYS[key])
        elif isinstance(value, dict):
            merged = strategic_merge_patch(result.get(key), value)
            if merged is None:
                result.pop(key, None)
            else:
                result[key] = merged
        else:
            result[key] = copy.deepcopy(value)
    if "$retainKeys" in patch:
        keep = set(patch["$retainKeys"])
        result = {k: v for k, v in result.items() if k in keep}
    return result


def _merge_list(current: list[Any], patch: list[Any], merge_key: str) -> list[Any]:
    result = [copy.deepcopy(item) for item in current]
    for item in patch:
        if not isinstance(item, dict) or merge_key not in item:
            result.append(copy.deepcopy(item))
            continue
        index = next(
            (
                i
                for i, old in enumerate(result)
                if isinstance(old, dict) and old.get(merge_key) == item[merge_key]
            ),
            None,
        )
        if item.get("$patch") == "delete":
            if index is not None:
                del result[index]
        elif index is None:
            result.append({k: v for k, v in item.items() if k != "$patch"})
        else:
            result[index] = strategic_merge_patch(result[index], item)
    return result


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise ApiError(422, f"invalid JSON pointer {path!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _walk(doc: Any, parts: list[str]) -> Any:
    for part in parts:
        if isinstance(doc, dict) and part in doc:
            doc = doc[part]
        elif isinstance(doc, list) and part.isdigit() and int(part) < len(doc):
            doc = doc[int(part)]
        else:
            raise ApiError(
                422, f"the server rejected our request: path /{'/'.join(parts)} not found"
            )
    return doc


def _add(doc: Any, parts: list[str], value: Any, *, replace: bool) -> Any:
    if not parts:
        return copy.deepcopy(value)
    parent = _walk(doc, parts[:-1])
    last = parts[-1]
    if isinstance(parent, dict):
        if replace and last not in parent:
            raise ApiError(
                422, f"replace operation does not apply: doc is missing key: /{'/'.join(parts)}"
            )
        parent[last] = copy.deepcopy(value)
    elif isinstance(parent, list):
        if last == "-":
            parent.append(copy.deepcopy(value))
        elif last.isdigit() and int(last) <= len(parent) - (1 if replace else 0):
            if replace:
                parent[int(last)] = copy.deepcopy(value)
            else:
                parent.insert(int(last), copy.deepcopy(value))
        else:
            raise ApiError(422, f"invalid index in JSON patch path /{'/'.join(parts)}")
    else:
        raise ApiError(422, f"doc is missing path: /{'/'.join(parts)}")
    return doc


def _remove(doc: Any, parts: list[str]) -> Any:
    if not parts:
        raise ApiError(422, "cannot remove the whole document")
    parent = _walk(doc, parts[:-1])
    last = parts[-1]
    if isinstance(parent, dict) and last in parent:
        return parent.pop(last)
    if isinstance(parent, list) and last.isdigit() and int(last) < len(parent):
        return parent.pop(int(last))
    raise ApiError(422, f"remove operation does not apply: doc is missing path: /{'/'.join(parts)}")


def json_patch(target: Any, operations: Any) -> Any:
    """RFC 6902 operations; a failed ``test`` or a missing path answers 422 like the API server."""
    if not isinstance(operations, list):
        raise ApiError(400, "json patch must be a list of operations")
    doc = copy.deepcopy(target)
    for op in operations:
        if not isinstance(op, dict) or "op" not in op or "path" not in op:
            raise ApiError(400, f"invalid JSON patch operation: {op!r}")
        kind, parts = op["op"], _pointer(str(op["path"]))
        if kind == "add":
            doc = _add(doc, parts, op.get("value"), replace=False)
        elif kind == "replace":
            doc = _add(doc, parts, op.get("value"), replace=True)
        elif kind == "remove":
            _remove(doc, parts)
        elif kind in ("move", "copy"):
            source = _pointer(str(op.get("from", "")))
            value = _remove(doc, source) if kind == "move" else copy.deepcopy(_walk(doc, source))
            doc = _add(doc, parts, value, replace=False)
        elif kind == "test":
            if _walk(doc, parts) != op.get("value"):
                raise ApiError(
                    422,
                    f"the server rejected our request due to an error in our request: "
                    f"testing value /{'/'.join(parts)} failed",
                )
        else:
            raise ApiError(400, f"unknown JSON patch operation {kind!r}")
    return doc


def _patched(
    rtype: ResourceType, current: JSON, content_type: str, patch: Any, field_manager: str
) -> Any:
    if content_type == MERGE:
        return merge_patch(current, patch)
    if content_type == JSON_PATCH:
        return json_patch(current, patch)
    if content_type == STRATEGIC:
        if rtype.custom:
            raise ApiError(
                415,
                "the body of the request was in an unknown format - accepted media types include: "
                f"{JSON_PATCH}, {MERGE}, {APPLY}",
            )
        return strategic_merge_patch(current, patch)
    if content_type == APPLY:
        if not field_manager:
            raise ApiError(400, "PATCH with apply requires a fieldManager")
        # Server-side apply without field ownership: the applied fields are merged in.
        return (merge_patch if rtype.custom else strategic_merge_patch)(current, patch)
    raise ApiError(415, f"the body of the request was in an unknown format: {content_type}")


def patch_object(
    store: Store,
    rtype: ResourceType,
    namespace: str,
    name: str,
    subresource: str,
    content_type: str,
    patch: Any,
    *,
    field_manager: str = "",
    dry_run: bool = False,
    validation: str = "",
) -> tuple[JSON, bool]:
    """PATCH one object (or create it, for server-side apply); returns (object, created)."""
    with store.lock:
        try:
            current = store.get(rtype, namespace, name)
        except ApiError as error:
            if error.code != 404 or content_type != APPLY or subresource:
                raise
            if not isinstance(patch, dict):
                raise ApiError(400, "apply patch must be an object") from None
            created = store.create(
                rtype, namespace, patch, dry_run=dry_run, field_validation=validation
            )
            return created, True
        new = _patched(rtype, current, content_type, patch, field_manager)
        if not isinstance(new, dict) or not isinstance(new.get("metadata"), dict):
            raise ApiError(422, "the patched object is not a Kubernetes object")
        # A resourceVersion carried by a merge-style patch is a precondition, as on a real cluster.
        wanted = ""
        if content_type in (MERGE, STRATEGIC) and isinstance(patch, dict):
            wanted = str((patch.get("metadata") or {}).get("resourceVersion") or "")
        new = {
            **new,
            "metadata": {
                **new["metadata"],
                "resourceVersion": wanted or current["metadata"]["resourceVersion"],
            },
        }
        updated = store.update(
            rtype,
            namespace,
            name,
            new,
            subresource=subresource,
            dry_run=dry_run,
            field_validation=validation,
            require_rv=False,
        )
        return updated, False
