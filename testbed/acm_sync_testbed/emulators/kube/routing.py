"""Request paths: the documents served at fixed paths, or the resource a verb acts on.

Version, health, discovery (legacy and aggregated) and OpenAPI are answered here from the
served types; any other path is parsed into a :class:`Target` for the verbs in handlers.py.
An unknown path is 404, as the API server answers it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web

from acm_sync_testbed.emulators.kube import discovery, openapi_pb
from acm_sync_testbed.emulators.kube.errors import ApiError
from acm_sync_testbed.emulators.kube.resources import ResourceType
from acm_sync_testbed.emulators.kube.responses import json_response
from acm_sync_testbed.emulators.kube.store import Store

_NOT_FOUND = "the server could not find the requested resource"


@dataclass(frozen=True)
class Target:
    """A parsed resource URL."""

    rtype: ResourceType
    namespace: str | None
    name: str
    subresource: str
    watch_path: bool


def route(
    path: str, accept: str, store: Store, address: Callable[[], str]
) -> web.Response | Target:
    """The document served at ``path``, or the resource target a verb on ``path`` acts on.

    ``address`` gives the server's host:port, which legacy discovery reports.
    """
    path = path.rstrip("/") or "/"
    types = list(store.types.values())
    if path == "/version":
        return json_response(discovery.KUBE_VERSION)
    if path in ("/healthz", "/livez", "/readyz"):
        return web.Response(text="ok")
    if path in ("/api", "/apis") and discovery.wants_aggregated(accept):
        body = discovery.aggregated(types, legacy=path == "/api")
        return json_response(body, content_type=discovery.AGGREGATED_V2)
    if path == "/api":
        return json_response(discovery.api_versions(address()))
    if path == "/apis":
        return json_response(discovery.api_group_list(types))
    if path.startswith("/openapi/"):
        return _openapi(path, accept, types)
    parts = path.strip("/").split("/")
    if parts[0] == "apis" and len(parts) == 2:
        group_doc = discovery.api_group(types, parts[1])
        if group_doc is None:
            raise ApiError(404, _NOT_FOUND)
        return json_response(group_doc)
    gv = _group_version(parts)
    if gv is None:
        raise ApiError(404, _NOT_FOUND)
    group, version, rest = gv
    if not rest:
        listing = discovery.resource_list(types, group, version)
        if listing is None:
            raise ApiError(404, _NOT_FOUND)
        return json_response(listing)
    return _target(store, group, version, rest)


def _openapi(path: str, accept: str, types: list[ResourceType]) -> web.Response:
    if path == "/openapi/v3":
        return json_response(discovery.openapi_v3_index(types))
    if path == "/openapi/v2":
        document = discovery.openapi_v2(types)
        if openapi_pb.wants_protobuf(accept):
            return web.Response(
                body=openapi_pb.encode_document(document),
                headers={"Content-Type": openapi_pb.CONTENT_TYPE},
            )
        if "json" not in accept and accept not in ("", "*/*"):
            raise ApiError(406, "only application/json and protobuf are served")
        return json_response(document)
    rest = path.removeprefix("/openapi/v3/").split("/")
    doc = None
    if rest[0] == "api" and len(rest) == 2:
        doc = discovery.openapi_v3_document(types, "", rest[1])
    elif rest[0] == "apis" and len(rest) == 3:
        doc = discovery.openapi_v3_document(types, rest[1], rest[2])
    if doc is None:
        raise ApiError(404, _NOT_FOUND)
    return json_response(doc)


def _group_version(parts: list[str]) -> tuple[str, str, list[str]] | None:
    if len(parts) >= 2 and parts[0] == "api" and parts[1] == "v1":
        return "", "v1", parts[2:]
    if len(parts) >= 3 and parts[0] == "apis":
        return parts[1], parts[2], parts[3:]
    return None


def _target(store: Store, group: str, version: str, rest: list[str]) -> Target:
    watch_path = rest[0] == "watch"
    if watch_path:
        rest = rest[1:]
    namespace: str | None = None
    is_namespace_object = (
        group == ""
        and rest[:1] == ["namespaces"]
        and (len(rest) <= 2 or (len(rest) == 3 and rest[2] in ("status", "finalize")))
    )
    if len(rest) >= 3 and rest[0] == "namespaces" and not is_namespace_object:
        namespace, rest = rest[1], rest[2:]
    if not rest or len(rest) > 3:
        raise ApiError(404, _NOT_FOUND)
    rtype = store.find_type(group, version, rest[0])
    if rtype is None or (namespace is not None and not rtype.namespaced):
        raise ApiError(404, _NOT_FOUND)
    name = rest[1] if len(rest) > 1 else ""
    subresource = rest[2] if len(rest) > 2 else ""
    known = (subresource == "status" and rtype.status_subresource) or (
        subresource == "finalize" and rtype.plural == "namespaces"
    )
    if subresource and not known:
        raise ApiError(404, _NOT_FOUND)
    return Target(rtype, namespace, name, subresource, watch_path)
