"""Counts of the API requests the emulator served, by verb and resource (for benchmarks).

A warm restart's cost is in which requests it makes (a LIST per resource, or a GET per
object); counting them by Kubernetes verb tells the two apart without a log of every request.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Mapping

_VERBS = {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}


def classify(method: str, path: str, query: Mapping[str, str]) -> str:
    """``"<verb> <resource>[/<subresource>]"`` of a request, e.g. ``"get secrets"``.

    Verbs as Kubernetes names them: ``get`` (one object), ``list``, ``watch``, ``create``,
    ``update``, ``patch``, ``delete``; paths outside ``/api`` and ``/apis`` count as
    ``other <path>``.
    """
    parts = [p for p in path.split("/") if p]
    if parts[:1] == ["api"]:
        rest = parts[2:]
    elif parts[:1] == ["apis"]:
        rest = parts[3:]
    else:
        return f"other {path}"
    if len(rest) >= 3 and rest[0] == "namespaces":
        rest = rest[2:]  # a namespaced resource; "namespaces/NAME" alone is a Namespace
    if not rest:
        return f"other {path}"
    resource = rest[0] + (f"/{rest[2]}" if len(rest) >= 3 else "")
    if method == "GET":
        if query.get("watch") in ("true", "1"):
            verb = "watch"
        else:
            verb = "get" if len(rest) >= 2 else "list"
    else:
        verb = _VERBS.get(method, method.lower())
    return f"{verb} {resource}"


class RequestCounts:
    """Requests served so far, by :func:`classify`; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()

    def note(self, method: str, path: str, query: Mapping[str, str]) -> None:
        """Count one request."""
        key = classify(method, path, query)
        with self._lock:
            self._counts[key] += 1

    def snapshot(self) -> dict[str, int]:
        """The counts so far (a copy: subtract two snapshots for a window's requests)."""
        with self._lock:
            return dict(self._counts)
