"""Watch streams: resume from any resourceVersion still in the event log, without a race.

A stream reads the event log from its position, then waits for a wake-up; it clears its
wake-up before reading, so an event appended at any moment is either read now or wakes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from acm_sync_testbed.emulators.kube.errors import ApiError
from acm_sync_testbed.emulators.kube.eventlog import WatchEvent
from acm_sync_testbed.emulators.kube.resources import ResourceType
from acm_sync_testbed.emulators.kube.selectors import Matcher
from acm_sync_testbed.emulators.kube.store import Store

JSON = dict[str, Any]
DEFAULT_TIMEOUT = 1800.0


@dataclass(eq=False)
class Watcher:
    """One open watch stream, as the fault hooks see it."""

    wake: asyncio.Event = field(default_factory=asyncio.Event)
    dropped: bool = False
    transport: Any = None


class WatchHub:
    """The open watch streams of one server, and the bookmark cadence."""

    def __init__(self, bookmark_interval: float = 5.0) -> None:
        self.watchers: set[Watcher] = set()
        self.bookmark_interval = bookmark_interval

    def wake_all(self) -> None:
        """Wake every stream (called on the loop after each stored change)."""
        for watcher in self.watchers:
            watcher.wake.set()

    def drop_all(self) -> int:
        """Cut every open watch connection, as a network failure or an API server restart would."""
        count = 0
        for watcher in list(self.watchers):
            watcher.dropped = True
            if watcher.transport is not None:
                watcher.transport.close()
            watcher.wake.set()
            count += 1
        return count


@dataclass(frozen=True)
class WatchRequest:
    """What one watch asks for."""

    rtype: ResourceType
    namespace: str | None
    matches: Matcher
    resource_version: str
    timeout: float
    bookmarks: bool
    initial_events: bool


def _line(event_type: str, obj: JSON) -> bytes:
    return json.dumps({"type": event_type, "object": obj}, separators=(",", ":")).encode() + b"\n"


async def serve_watch(
    request: web.Request,
    store: Store,
    hub: WatchHub,
    spec: WatchRequest,
    render: Callable[[JSON], JSON],
) -> web.StreamResponse:
    """Stream watch events until the timeout, a drop, or the client going away."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + spec.timeout
    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    response.enable_chunked_encoding()
    await response.prepare(request)
    watcher = Watcher(transport=request.transport)
    hub.watchers.add(watcher)
    rtype = spec.rtype

    def translate(event: WatchEvent) -> str | None:
        """The event type this watch sees, or None when the change is not its business."""
        if event.key != rtype.key or (
            spec.namespace is not None and event.namespace != spec.namespace
        ):
            return None
        matches_now = spec.matches(event.obj)
        if event.type != "MODIFIED":
            return event.type if matches_now else None
        matched_before = event.prev is not None and spec.matches(event.prev)
        if matches_now:
            return "MODIFIED" if matched_before else "ADDED"
        return "DELETED" if matched_before else None

    try:
        if spec.resource_version in ("", "0"):
            with store.lock:
                initial, position = store.list(rtype, spec.namespace)
            for obj in initial:
                if spec.matches(obj):
                    await response.write(_line("ADDED", render(obj)))
            if spec.initial_events and spec.bookmarks:
                marker = {
                    "resourceVersion": str(position),
                    "annotations": {"k8s.io/initial-events-end": "true"},
                }
                await response.write(_line("BOOKMARK", _bookmark(rtype, marker)))
        else:
            try:
                position = int(spec.resource_version)
            except ValueError:
                raise ApiError(
                    400, f"invalid resource version: {spec.resource_version!r}"
                ) from None
        next_bookmark = loop.time() + hub.bookmark_interval
        while not watcher.dropped:
            watcher.wake.clear()
            try:
                events = store.events_after(position)
            except ApiError as error:
                await response.write(_line("ERROR", error.status()))
                break
            for event in events:
                position = event.rv
                seen_as = translate(event)
                if seen_as is not None:
                    await response.write(_line(seen_as, render(event.obj)))
            now = loop.time()
            if now >= deadline:
                break
            if spec.bookmarks and now >= next_bookmark:
                await response.write(
                    _line("BOOKMARK", _bookmark(rtype, {"resourceVersion": str(position)}))
                )
                next_bookmark = now + hub.bookmark_interval
            wait = min(deadline, next_bookmark) - now if spec.bookmarks else deadline - now
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(watcher.wake.wait(), timeout=max(wait, 0.0))
        if not watcher.dropped:
            await response.write_eof()
    except ConnectionResetError:
        pass  # The client went away (or a fault hook cut the connection).
    finally:
        hub.watchers.discard(watcher)
    return response


def _bookmark(rtype: ResourceType, metadata: JSON) -> JSON:
    return {"kind": rtype.kind, "apiVersion": rtype.api_version, "metadata": metadata}
