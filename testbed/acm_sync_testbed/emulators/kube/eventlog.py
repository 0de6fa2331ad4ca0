"""The bounded history of changes that watches resume from.

Entries share the stored object dicts (objects are never mutated once stored), so the log
costs a reference per event, not a copy. It keeps at least ``size`` events; it trims in
batches (at ``2 * size``) so that appends stay O(1) amortised.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import Any

from acm_sync_testbed.emulators.kube.errors import gone

JSON = dict[str, Any]


@dataclass(frozen=True, slots=True)
class WatchEvent:
    """One change: its resourceVersion, ADDED/MODIFIED/DELETED, where, and the object."""

    rv: int
    type: str
    key: tuple[str, str]  # (group, plural)
    namespace: str
    obj: JSON
    # The version before this change: a watch with a selector turns "stopped matching" into
    # DELETED and "started matching" into ADDED, as the API server does.
    prev: JSON | None = None


class EventLog:
    """Events in resourceVersion order; not thread-safe (the store's lock guards it)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._events: list[WatchEvent] = []
        self._rvs: list[int] = []
        # Events with rv <= compacted_rv may be missing: watches from there get 410 Gone.
        self.compacted_rv = 0

    def append(self, event: WatchEvent) -> None:
        """Record one change (resourceVersions only grow)."""
        self._events.append(event)
        self._rvs.append(event.rv)
        if len(self._events) > 2 * self.size:
            drop = len(self._events) - self.size
            self.compacted_rv = self._rvs[drop - 1]
            del self._events[:drop]
            del self._rvs[:drop]

    def oldest_resumable(self) -> int:
        """The oldest resourceVersion a watch can resume from without a gap."""
        if len(self._events) > self.size:
            return self._rvs[len(self._events) - self.size - 1]
        return self.compacted_rv

    def after(self, rv: int) -> list[WatchEvent]:
        """Every event newer than ``rv``; 410 Gone when some of them are no longer kept."""
        oldest = self.oldest_resumable()
        if rv < oldest:
            raise gone(f"too old resource version: {rv} ({oldest + 1})")
        return self._events[bisect.bisect_right(self._rvs, rv) :]

    def compact(self, rv: int) -> None:
        """Forget everything up to ``rv`` (tests use it to force a 410)."""
        self.compacted_rv = rv
        self._events.clear()
        self._rvs.clear()
