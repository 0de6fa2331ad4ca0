"""Faults the ACM emulator injects on demand: lost responses, 5xx answers, regions down."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any


class DropConnection(Exception):
    """Close the client's connection without an answer.

    ``committed`` says whether the call took effect first (a lost response) or not (a region
    that is down); ``arn`` is what a lost ImportCertificate created.
    """

    def __init__(self, reason: str, *, committed: bool, arn: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.committed = committed
        self.arn = arn


@dataclass
class _Failure:
    remaining: int
    status: int
    error: str
    api: str | None
    region: str | None


class Faults:
    """Pending faults; every method is thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.clear()

    def clear(self) -> None:
        """Forget every pending fault."""
        with self._lock:
            self._lost_imports: dict[str | None, int] = {}
            self._failures: list[_Failure] = []
            self._down: set[str] = set()

    def lose_import_responses(self, count: int = 1, region: str | None = None) -> None:
        """Commit the next ``count`` new imports (in ``region``, or any) but drop the answer."""
        with self._lock:
            self._lost_imports[region] = self._lost_imports.get(region, 0) + count

    def fail_next(
        self,
        count: int,
        *,
        status: int = 500,
        error: str = "InternalFailure",
        api: str | None = None,
        region: str | None = None,
    ) -> None:
        """Answer the next ``count`` matching calls with an error (a 5xx by default)."""
        with self._lock:
            self._failures.append(_Failure(count, status, error, api, region))

    def set_region_down(self, region: str, down: bool = True) -> None:
        """Make every call to ``region`` fail at the connection level (or heal it)."""
        with self._lock:
            (self._down.add if down else self._down.discard)(region)

    def snapshot(self) -> dict[str, Any]:
        """The pending faults, for the control API."""
        with self._lock:
            return {
                "lost_imports": {k or "*": v for k, v in self._lost_imports.items()},
                "failures": [f.__dict__.copy() for f in self._failures],
                "regions_down": sorted(self._down),
            }

    def before_call(self, region: str, api: str) -> tuple[int, str] | None:
        """Raise DropConnection for a region that is down; return an error to answer."""
        with self._lock:
            if region in self._down:
                raise DropConnection("region down", committed=False)
            for failure in self._failures:
                if failure.api in (None, api) and failure.region in (None, region):
                    failure.remaining -= 1
                    if failure.remaining <= 0:
                        self._failures.remove(failure)
                    return failure.status, failure.error
            return None

    def after_import(self, region: str, arn: str) -> None:
        """Called once a new import is committed: drop its answer if one is pending."""
        with self._lock:
            for key in (region, None):
                if self._lost_imports.get(key, 0) > 0:
                    self._lost_imports[key] -= 1
                    raise DropConnection("response lost after commit", committed=True, arn=arn)
