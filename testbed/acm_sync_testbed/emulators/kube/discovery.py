"""Discovery (legacy and aggregated v2) and the OpenAPI v3/v2 documents clients ask for.

The OpenAPI documents carry no real schemas for built-in kinds: what clients need from them is
that every kind has a PATCH operation tagged with its group/version/kind and a
``fieldValidation`` query parameter. That makes kubectl and Helm use server-side field
validation (``fieldValidation=Strict``), which the emulator implements for custom resources.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Any

from acm_sync_testbed.emulators.kube.resources import ResourceType

JSON = dict[str, Any]

KUBE_VERSION = {
    "major": "1",
    "minor": "32",
    "gitVersion": "v1.32.0+acm-sync-emulator",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2026-01-01T00:00:00Z",
    "goVersion": "go1.23.0",
    "compiler": "gc",
    "platform": "linux/amd64",
}

AGGREGATED_V2 = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
_SUBRESOURCE_VERBS = ["get", "patch", "update"]


def wants_aggregated(accept: str) -> bool:
    """Whether the client asks for aggregated discovery (apidiscovery.k8s.io/v2)."""
    return any(
        "g=apidiscovery.k8s.io" in part and "v=v2" in part and "v=v2beta1" not in part
        for part in accept.split(",")
    )


def _groups(types: Iterable[ResourceType]) -> dict[str, dict[str, list[ResourceType]]]:
    groups: dict[str, dict[str, list[ResourceType]]] = {}
    for rtype in types:
        groups.setdefault(rtype.group, {}).setdefault(rtype.version, []).append(rtype)
    return groups


def api_versions(address: str) -> JSON:
    """``GET /api``."""
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": address}],
    }


def api_group_list(types: Iterable[ResourceType]) -> JSON:
    """``GET /apis``: every named group and its versions (the first one is preferred)."""
    groups = []
    for group, versions in _groups(types).items():
        if not group:
            continue
        entries = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
        groups.append({"name": group, "versions": entries, "preferredVersion": entries[0]})
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def api_group(types: Iterable[ResourceType], group: str) -> JSON | None:
    """``GET /apis/<group>``."""
    versions = _groups(types).get(group)
    if not versions:
        return None
    entries = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
    return {
        "kind": "APIGroup",
        "apiVersion": "v1",
        "name": group,
        "versions": entries,
        "preferredVersion": entries[0],
    }


def resource_list(types: Iterable[ResourceType], group: str, version: str) -> JSON | None:
    """``GET /api/v1`` or ``GET /apis/<group>/<version>``: the APIResourceList."""
    served = _groups(types).get(group, {}).get(version)
    if not served:
        return None
    resources: list[JSON] = []
    for rtype in served:
        entry: JSON = {
            "name": rtype.plural,
            "singularName": rtype.singular,
            "namespaced": rtype.namespaced,
            "kind": rtype.kind,
            "verbs": list(rtype.verbs),
        }
        if rtype.short_names:
            entry["shortNames"] = list(rtype.short_names)
        if rtype.categories:
            entry["categories"] = list(rtype.categories)
        resources.append(entry)
        if rtype.status_subresource:
            resources.append(
                {
                    "name": f"{rtype.plural}/status",
                    "singularName": "",
                    "namespaced": rtype.namespaced,
                    "kind": rtype.kind,
                    "verbs": _SUBRESOURCE_VERBS,
                }
            )
    group_version = f"{group}/{version}" if group else version
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version,
        "resources": resources,
    }


def aggregated(types: Iterable[ResourceType], *, legacy: bool) -> JSON:
    """``GET /api`` or ``/apis`` with aggregated discovery: every group, version and resource."""
    items = []
    for group, versions in _groups(types).items():
        if (group == "") != legacy:
            continue
        version_entries = []
        for version, served in versions.items():
            resources = []
            for rtype in served:
                kind = {"group": group, "version": version, "kind": rtype.kind}
                entry: JSON = {
                    "resource": rtype.plural,
                    "responseKind": kind,
                    "scope": "Namespaced" if rtype.namespaced else "Cluster",
                    "singularResource": rtype.singular,
                    "verbs": list(rtype.verbs),
                }
                if rtype.short_names:
                    entry["shortNames"] = list(rtype.short_names)
                if rtype.categories:
                    entry["categories"] = list(rtype.categories)
                if rtype.status_subresource:
                    entry["subresources"] = [
                        {"subresource": "status", "responseKind": kind, "verbs": _SUBRESOURCE_VERBS}
                    ]
                resources.append(entry)
            version_entries.append(
                {"version": version, "resources": resources, "freshness": "Current"}
            )
        metadata: JSON = {"creationTimestamp": None}
        if group:
            metadata["name"] = group
        items.append({"metadata": metadata, "versions": version_entries})
    return {
        "kind": "APIGroupDiscoveryList",
        "apiVersion": "apidiscovery.k8s.io/v2",
        "metadata": {},
        "items": items,
    }


def _gv_path(group: str, version: str) -> str:
    return f"api/{version}" if not group else f"apis/{group}/{version}"


def _schema_name(rtype: ResourceType) -> str:
    group = rtype.group or "core"
    return f"io.k8s.emulated.{group}.{rtype.version}.{rtype.kind}"


def openapi_v3_document(types: Iterable[ResourceType], group: str, version: str) -> JSON | None:
    """The OpenAPI v3 document of one group/version."""
    served = _groups(types).get(group, {}).get(version)
    if not served:
        return None
    paths: JSON = {}
    schemas: JSON = {}
    for rtype in served:
        gvk = {"group": group, "version": version, "kind": rtype.kind}
        ref = {"$ref": f"#/components/schemas/{_schema_name(rtype)}"}
        base = f"/{_gv_path(group, version)}/"
        base += f"namespaces/{{namespace}}/{rtype.plural}" if rtype.namespaced else rtype.plural
        response = {"200": {"description": "OK", "content": {"application/json": {"schema": ref}}}}
        validation = {
            "name": "fieldValidation",
            "in": "query",
            "schema": {"type": "string", "uniqueItems": True},
        }
        operation = {"x-kubernetes-group-version-kind": gvk, "responses": response}
        paths[base] = {
            "post": {**operation, "x-kubernetes-action": "post", "parameters": [validation]}
        }
        paths[base + "/{name}"] = {
            "get": {**operation, "x-kubernetes-action": "get"},
            "put": {**operation, "x-kubernetes-action": "put", "parameters": [validation]},
            "patch": {**operation, "x-kubernetes-action": "patch", "parameters": [validation]},
            "delete": {**operation, "x-kubernetes-action": "delete"},
        }
        schema: JSON = dict(rtype.schema) if rtype.schema else {"type": "object"}
        if not rtype.schema:
            schema["x-kubernetes-preserve-unknown-fields"] = True
        schema["x-kubernetes-group-version-kind"] = [gvk]
        schemas[_schema_name(rtype)] = schema
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": KUBE_VERSION["gitVersion"]},
        "paths": paths,
        "components": {"schemas": schemas},
    }


def document_hash(document: JSON) -> str:
    """A content hash, as the index's ``serverRelativeURL`` carries for client caches."""
    return hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()[:32].upper()


def openapi_v3_index(types: list[ResourceType]) -> JSON:
    """``GET /openapi/v3``: where each group/version's document lives."""
    paths = {}
    for group, versions in _groups(types).items():
        for version in versions:
            doc = openapi_v3_document(types, group, version)
            if doc is not None:
                path = _gv_path(group, version)
                paths[path] = {"serverRelativeURL": f"/openapi/v3/{path}?hash={document_hash(doc)}"}
    return {"paths": paths}


def openapi_v2(types: Iterable[ResourceType]) -> JSON:
    """``GET /openapi/v2`` as JSON: definitions tagged with their group/version/kind."""
    definitions = {}
    for rtype in types:
        gvk = {"group": rtype.group, "version": rtype.version, "kind": rtype.kind}
        definitions[_schema_name(rtype)] = {
            "type": "object",
            "x-kubernetes-group-version-kind": [gvk],
        }
    return {
        "swagger": "2.0",
        "info": {"title": "Kubernetes", "version": KUBE_VERSION["gitVersion"]},
        "paths": {},
        "definitions": definitions,
    }
