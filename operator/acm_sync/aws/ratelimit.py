"""Client-side rate limiting per region and API.

Each (region, API) pair hands out evenly spaced time slots at its rate; a caller sleeps
until its slot. Spacing (rather than bursting) keeps the client under ACM's own limits, and
first come is first served.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from acm_sync.aws.settings import AwsSettings


class RateLimiter:
    """Thread-safe slot scheduler; ``acquire`` blocks until the caller may send."""

    def __init__(
        self,
        settings: AwsSettings,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._settings = settings
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._next: dict[tuple[str, str], float] = {}

    def reserve(self, region: str, api: str) -> float:
        """Book the next slot and return how long to wait for it (seconds)."""
        rate = self._settings.rate(api)
        if rate is None:
            return 0.0
        with self._lock:
            now = self._clock()
            slot = max(now, self._next.get((region, api), now))
            self._next[(region, api)] = slot + 1.0 / rate
            return slot - now

    def acquire(self, region: str, api: str) -> float:
        """Wait for a slot; returns the time waited."""
        wait = self.reserve(region, api)
        if wait > 0:
            self._sleep(wait)
        return wait
