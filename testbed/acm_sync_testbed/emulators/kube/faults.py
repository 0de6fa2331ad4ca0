"""Faults the Kubernetes API emulator injects: error answers and latency, aimed at requests.

A fault matches every request by default, or only those whose path contains ``path`` and
whose method is ``verb``: a 500 on the cluster-id lookup, a burst of 429s on status patches,
a slow Event POST, as a real API server under load or restarting produces them.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

STATUSES = (429, 500, 503, 504)


@dataclass
class KubeFault:
    """``remaining`` matching requests get ``status`` (None: answered normally) after ``delay``."""

    remaining: int
    status: int | None
    delay: float = 0.0
    path: str | None = None  # a substring of the request path
    verb: str | None = None  # GET, POST, PUT, PATCH, DELETE

    def matches(self, method: str, path: str) -> bool:
        """Whether a request is aimed at by this fault."""
        return (self.verb is None or self.verb.upper() == method.upper()) and (
            self.path is None or self.path in path
        )


class KubeFaults:
    """Pending faults, consumed first come first served; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: list[KubeFault] = []

    def add(self, fault: KubeFault) -> int:
        """Queue ``fault``; returns how many faults are pending."""
        if fault.status is not None and fault.status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}")
        if fault.remaining < 1 or fault.delay < 0:
            raise ValueError("count must be at least 1 and delay not negative")
        with self._lock:
            self._pending.append(fault)
            return len(self._pending)

    def clear(self) -> None:
        """Forget every pending fault."""
        with self._lock:
            self._pending.clear()

    def take(self, method: str, path: str) -> tuple[int | None, float] | None:
        """The (status, delay) for this request, consuming one use of the first matching fault."""
        with self._lock:
            for fault in self._pending:
                if fault.matches(method, path):
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._pending.remove(fault)
                    return fault.status, fault.delay
            return None

    @property
    def pending(self) -> int:
        """How many faults are still queued."""
        with self._lock:
            return len(self._pending)
