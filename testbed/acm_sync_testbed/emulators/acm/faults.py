"""Faults the ACM emulator injects on demand: lost responses, 5xx answers, regions down,
errors after a write committed, and latency.

A fault aimed at ``api`` matches that API; ``ImportCertificate:new`` and
``ImportCertificate:reimport`` tell a first import from a reimport (one with an ARN).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar


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


# The calls that change ACM: the ones whose answer can be lost after they took effect.
WRITE_APIS = frozenset(
    {"ImportCertificate", "AddTagsToCertificate", "RemoveTagsFromCertificate", "DeleteCertificate"}
)


def api_variant(api: str, params: dict[str, Any]) -> str:
    """``ImportCertificate:new`` or ``:reimport`` for an import, else the API's name."""
    if api != "ImportCertificate":
        return api
    return f"{api}:{'reimport' if params.get('CertificateArn') else 'new'}"


class CommittedError(Exception):
    """Answer an error although the call took effect (a 5xx after the commit)."""

    def __init__(self, status: int, error: str, arn: str | None) -> None:
        super().__init__(error)
        self.status = status
        self.error = error
        self.arn = arn


@dataclass
class _Failure:
    remaining: int
    status: int
    error: str
    api: str | None
    region: str | None

    def matches(self, region: str, api: str, variant: str) -> bool:
        return self.api in (None, api, variant) and self.region in (None, region)


@dataclass
class _AfterCommit:
    """``remaining`` matching writes take effect, then answer nothing (lost) or an error."""

    remaining: int
    lost: bool
    status: int
    error: str
    api: str | None
    region: str | None

    def matches(self, region: str, api: str, variant: str) -> bool:
        return (
            api in WRITE_APIS and self.api in (None, api, variant) and self.region in (None, region)
        )


@dataclass
class _Latency:
    remaining: int
    seconds: float
    api: str | None
    region: str | None

    def matches(self, region: str, api: str, variant: str) -> bool:
        return self.api in (None, api, variant) and self.region in (None, region)


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
            self._after_commit: list[_AfterCommit] = []
            self._latency: list[_Latency] = []
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

    def lose_responses(
        self, count: int = 1, *, api: str | None = None, region: str | None = None
    ) -> None:
        """Commit the next ``count`` matching writes (any write API by default), then drop the
        connection: the client cannot tell whether the call took effect."""
        with self._lock:
            self._after_commit.append(_AfterCommit(count, True, 0, "", api, region))

    def fail_after_commit(
        self,
        count: int = 1,
        *,
        status: int = 500,
        error: str = "InternalFailure",
        api: str | None = None,
        region: str | None = None,
    ) -> None:
        """Commit the next ``count`` matching writes, then answer ``error`` (a 5xx)."""
        with self._lock:
            self._after_commit.append(_AfterCommit(count, False, status, error, api, region))

    def add_latency(
        self, count: int, seconds: float, *, api: str | None = None, region: str | None = None
    ) -> None:
        """Answer the next ``count`` matching calls ``seconds`` late (after they took effect):
        past the client's read timeout, a write is a timeout that committed."""
        with self._lock:
            self._latency.append(_Latency(count, seconds, api, region))

    def after_commit(self, region: str, api: str, params: dict[str, Any], arn: str | None) -> None:
        """Called once a call took effect: raise the pending after-commit fault, if any."""
        variant = api_variant(api, params)
        with self._lock:
            fault = _take(self._after_commit, lambda f: f.matches(region, api, variant))
        if fault is None:
            return
        if fault.lost:
            raise DropConnection("response lost after commit", committed=True, arn=arn)
        raise CommittedError(fault.status, fault.error, arn)

    def latency(self, region: str, api: str, params: dict[str, Any]) -> float:
        """Seconds to hold this call's answer (0 when no latency is pending)."""
        variant = api_variant(api, params)
        with self._lock:
            fault = _take(self._latency, lambda f: f.matches(region, api, variant))
        return fault.seconds if fault is not None else 0.0

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
                "after_commit": [f.__dict__.copy() for f in self._after_commit],
                "latency": [f.__dict__.copy() for f in self._latency],
                "regions_down": sorted(self._down),
            }

    def before_call(
        self, region: str, api: str, params: dict[str, Any] | None = None
    ) -> tuple[int, str] | None:
        """Raise DropConnection for a region that is down; return an error to answer."""
        variant = api_variant(api, params or {})
        with self._lock:
            if region in self._down:
                raise DropConnection("region down", committed=False)
            failure = _take(self._failures, lambda f: f.matches(region, api, variant))
            return (failure.status, failure.error) if failure is not None else None

    def after_import(self, region: str, arn: str) -> None:
        """Called once a new import is committed: drop its answer if one is pending."""
        with self._lock:
            for key in (region, None):
                if self._lost_imports.get(key, 0) > 0:
                    self._lost_imports[key] -= 1
                    raise DropConnection("response lost after commit", committed=True, arn=arn)


F = TypeVar("F", _Failure, _AfterCommit, _Latency)


def _take(pending: list[F], match: Callable[[F], bool]) -> F | None:
    """Use up one count of the first matching fault (removed when spent); the caller locks."""
    for fault in pending:
        if match(fault):
            fault.remaining -= 1
            if fault.remaining <= 0:
                pending.remove(fault)
            return fault
    return None
