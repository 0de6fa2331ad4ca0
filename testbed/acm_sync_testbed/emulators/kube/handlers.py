"""HTTP handlers: the generic verbs on every served resource type.

Which path names which resource, and the documents served at fixed paths (discovery,
OpenAPI), are in routing.py; the JSON and ``Status`` answers in responses.py.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import traceback
from collections.abc import Callable
from typing import Any

import yaml
from aiohttp import web

from acm_sync_testbed.emulators.kube import protobuf, table
from acm_sync_testbed.emulators.kube.errors import ApiError, gone, not_found
from acm_sync_testbed.emulators.kube.patch import APPLY, patch_object
from acm_sync_testbed.emulators.kube.resources import ResourceType
from acm_sync_testbed.emulators.kube.responses import error_response, json_response
from acm_sync_testbed.emulators.kube.routing import Target, route
from acm_sync_testbed.emulators.kube.selectors import field_matcher, label_matcher
from acm_sync_testbed.emulators.kube.store import Store
from acm_sync_testbed.emulators.kube.watch import (
    DEFAULT_TIMEOUT,
    WatchHub,
    WatchRequest,
    serve_watch,
)

JSON = dict[str, Any]
log = logging.getLogger(__name__)
# The API server's MaxRequestBodyBytes: a create, update or patch body over it is refused
# before it is decoded.
MAX_REQUEST_BODY_BYTES = 3 * 1024 * 1024


class Api:
    """The API server's routes over one :class:`Store`."""

    def __init__(self, store: Store, hub: WatchHub, address: Callable[[], str]) -> None:
        self.store = store
        self.hub = hub
        self.address = address

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Entry point for every request that is not a fault-hook control request."""
        try:
            return await self._route(request)
        except ApiError as error:
            return error_response(error)
        except (ConnectionResetError, asyncio.CancelledError):
            raise
        except Exception as error:
            # A bug here must look like an API server's 500, not a hung or text/plain answer.
            # Only the exception type is reported: a message could quote request data.
            log.error(
                "kube emulator: unexpected %s on %s %s\n%s",
                type(error).__name__,
                request.method,
                request.path,
                "".join(traceback.format_tb(error.__traceback__)),
            )
            return error_response(ApiError(500, f"internal error ({type(error).__name__})"))

    async def _route(self, request: web.Request) -> web.StreamResponse:
        routed = route(request.path, request.headers.get("Accept", ""), self.store, self.address)
        if isinstance(routed, web.Response):
            return routed
        return await self._verb(request, routed)

    # ---- verbs -------------------------------------------------------------------------

    async def _verb(self, request: web.Request, target: Target) -> web.StreamResponse:
        method = request.method
        query = request.query
        if method == "GET" and (query.get("watch") in ("true", "1") or target.watch_path):
            return await self._watch(request, target)
        if method == "GET":
            return self._get_or_list(request, target)
        dry_run = query.get("dryRun") == "All"
        validation = query.get("fieldValidation", "")
        if method == "POST" and not target.name:
            body = await self._body(request, target.rtype.kind)
            self._check_kind(target.rtype, body)
            created = self.store.create(
                target.rtype,
                target.namespace or "",
                body,
                dry_run=dry_run,
                field_validation=validation,
            )
            return json_response(self._render(target.rtype, created), 201)
        if method == "PUT" and target.name:
            body = await self._body(request, target.rtype.kind)
            self._check_kind(target.rtype, body)
            updated = self.store.update(
                target.rtype,
                target.namespace or "",
                target.name,
                body,
                subresource=target.subresource,
                dry_run=dry_run,
                field_validation=validation,
            )
            return json_response(self._render(target.rtype, updated))
        if method == "PATCH" and target.name:
            return await self._patch(request, target, dry_run=dry_run, validation=validation)
        if method == "DELETE":
            return await self._delete(request, target, dry_run=dry_run)
        raise ApiError(
            405, f"the server does not allow this method on the requested resource: {method}"
        )

    def _render(self, rtype: ResourceType, obj: JSON) -> JSON:
        # No conversion between the versions of a CRD (strategy None): only apiVersion changes.
        if obj.get("apiVersion") != rtype.api_version:
            return {**obj, "apiVersion": rtype.api_version}
        return obj

    @staticmethod
    def _check_kind(rtype: ResourceType, body: Any) -> None:
        if not isinstance(body, dict):
            raise ApiError(400, "the body of the request was in an unknown format")
        if body.get("kind") not in (None, rtype.kind):
            raise ApiError(
                400, f"the kind in the data ({body.get('kind')}) does not match {rtype.kind}"
            )

    @staticmethod
    async def _body(request: web.Request, kind_hint: str = "") -> Any:
        raw = await request.read()
        if len(raw) > MAX_REQUEST_BODY_BYTES:
            raise ApiError(413, f"Request entity too large: limit is {MAX_REQUEST_BODY_BYTES}")
        content_type = request.content_type
        if content_type == "application/vnd.kubernetes.protobuf":
            return protobuf.decode(raw, kind_hint)
        if "protobuf" in content_type or "cbor" in content_type:
            raise ApiError(415, f"the body of the request was in an unknown format: {content_type}")
        try:
            if content_type == APPLY:
                return yaml.safe_load(raw)
            return json.loads(raw) if raw else {}
        except (ValueError, yaml.YAMLError) as error:
            raise ApiError(
                400, f"the body of the request was in an unknown format: {error}"
            ) from None

    def _matcher(self, request: web.Request, target: Target) -> Callable[[JSON], bool]:
        labels = label_matcher(request.query.get("labelSelector"))
        fields = field_matcher(request.query.get("fieldSelector"))
        name = target.name
        return lambda obj: (
            labels(obj) and fields(obj) and (not name or obj["metadata"]["name"] == name)
        )

    def _get_or_list(self, request: web.Request, target: Target) -> web.Response:
        rtype = target.rtype
        accept = request.headers.get("Accept", "")
        include = request.query.get("includeObject", "")
        if target.name:
            obj = self._render(rtype, self.store.get(rtype, target.namespace or "", target.name))
            if table.wants_table(accept) and not target.subresource:
                return json_response(
                    table.to_table(rtype, [obj], obj["metadata"]["resourceVersion"], include)
                )
            if table.wants_metadata(accept) and not target.subresource:
                return json_response(table.metadata_only(obj))
            return json_response(obj)
        self._check_list_version(request)
        items, rv = self.store.list(rtype, target.namespace)
        matches = self._matcher(request, target)
        items = [self._render(rtype, o) for o in items if matches(o)]
        items, next_token = _paginate(
            items, request.query.get("limit"), request.query.get("continue")
        )
        if table.wants_table(accept):
            body = table.to_table(rtype, items, str(rv), include)
        else:
            body = {
                "kind": f"{rtype.kind}List",
                "apiVersion": rtype.api_version,
                "metadata": {"resourceVersion": str(rv)},
                "items": items,
            }
        if next_token:
            body["metadata"]["continue"] = next_token
        return json_response(body)

    def _check_list_version(self, request: web.Request) -> None:
        """An exact list at a resourceVersion the log no longer reaches is 410 Gone.

        The emulator keeps no history of object states: an exact list at a version it still
        reaches is answered with the current state.
        """
        version = request.query.get("resourceVersion", "")
        if request.query.get("resourceVersionMatch") != "Exact" or not version:
            return
        if not version.isdigit():
            raise ApiError(400, f"invalid resource version: {version!r}")
        with self.store.lock:
            if int(version) < self.store.log.oldest_resumable():
                raise gone(f"too old resource version: {version}")

    async def _watch(self, request: web.Request, target: Target) -> web.StreamResponse:
        query = request.query
        timeout = float(query.get("timeoutSeconds") or DEFAULT_TIMEOUT)
        spec = WatchRequest(
            rtype=target.rtype,
            namespace=target.namespace,
            matches=self._matcher(request, target),
            resource_version=query.get("resourceVersion", ""),
            timeout=timeout,
            bookmarks=query.get("allowWatchBookmarks") == "true",
            initial_events=query.get("sendInitialEvents") == "true",
        )
        rtype = target.rtype
        if not table.wants_table(request.headers.get("Accept", "")):
            return await serve_watch(
                request, self.store, self.hub, spec, lambda o: self._render(rtype, o)
            )
        include = query.get("includeObject", "")
        first = [True]

        def as_table(obj: JSON) -> JSON:
            # `kubectl get --watch` asks for Tables; columns are described in the first only.
            rendered = table.to_table(
                rtype, [self._render(rtype, obj)], obj["metadata"]["resourceVersion"], include
            )
            if not first[0]:
                rendered["columnDefinitions"] = []
            first[0] = False
            return rendered

        return await serve_watch(request, self.store, self.hub, spec, as_table)

    async def _patch(
        self, request: web.Request, target: Target, *, dry_run: bool, validation: str
    ) -> web.Response:
        body = await self._body(request)
        result, created = patch_object(
            self.store,
            target.rtype,
            target.namespace or "",
            target.name,
            target.subresource,
            request.content_type,
            body,
            field_manager=request.query.get("fieldManager", ""),
            dry_run=dry_run,
            validation=validation,
        )
        return json_response(self._render(target.rtype, result), 201 if created else 200)

    async def _delete(self, request: web.Request, target: Target, *, dry_run: bool) -> web.Response:
        rtype = target.rtype
        options = await self._body(request, "DeleteOptions") if request.can_read_body else {}
        options = options if isinstance(options, dict) else {}
        propagation = (
            request.query.get("propagationPolicy")
            or options.get("propagationPolicy")
            or "Background"
        )
        dry_run = dry_run or "All" in (options.get("dryRun") or [])
        if not target.name:
            items, _rv = self.store.list(rtype, target.namespace)
            matches = self._matcher(request, target)
            deleted = []
            for obj in items:
                if matches(obj):
                    meta = obj["metadata"]
                    try:
                        deleted.append(
                            self.store.delete(
                                rtype, meta.get("namespace", ""), meta["name"], dry_run=dry_run
                            )
                        )
                    except ApiError:
                        continue
            body = {
                "kind": f"{rtype.kind}List",
                "apiVersion": rtype.api_version,
                "metadata": {},
                "items": deleted,
            }
            return json_response(body)
        if target.subresource:
            raise not_found(rtype.plural, target.name, rtype.group)
        gone = self.store.delete(
            rtype,
            target.namespace or "",
            target.name,
            preconditions=options.get("preconditions"),
            propagation=propagation,
            dry_run=dry_run,
        )
        still_there = (gone["metadata"].get("namespace", ""), target.name) in self.store.objects[
            rtype.key
        ]
        if still_there or rtype.custom or rtype.kind == "Pod":
            return json_response(self._render(rtype, gone))
        # Most built-in kinds answer an immediate delete with a Success Status, not the object.
        details = {"name": target.name, "kind": rtype.plural, "uid": gone["metadata"]["uid"]}
        if rtype.group:
            details["group"] = rtype.group
        return json_response(
            {
                "kind": "Status",
                "apiVersion": "v1",
                "metadata": {},
                "status": "Success",
                "details": details,
            }
        )


def _paginate(items: list[JSON], limit: str | None, token: str | None) -> tuple[list[JSON], str]:
    start = 0
    if token:
        try:
            start = int(base64.urlsafe_b64decode(token.encode()).decode())
        except ValueError:
            raise ApiError(400, "invalid continue token") from None
    if not limit or int(limit) <= 0:
        return items[start:], ""
    end = start + int(limit)
    following = base64.urlsafe_b64encode(str(end).encode()).decode() if end < len(items) else ""
    return items[start:end], following
