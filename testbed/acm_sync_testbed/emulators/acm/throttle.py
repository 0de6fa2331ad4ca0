"""Per-API request rates of the emulated ACM: token buckets as AWS uses them."""

from __future__ import annotations

import time
from dataclasses import dataclass, field


def burst_of(rate: float) -> float:
    """Bucket size for a rate: AWS absorbs short bursts, so a client sending exactly at the
    rate is not throttled by network jitter; the long-run rate is still enforced."""
    return max(2.0, rate)


@dataclass
class Bucket:
    """Token bucket refilled at ``rate`` per second, holding at most ``burst_of(rate)``."""

    rate: float
    tokens: float
    stamp: float = field(default_factory=time.monotonic)

    def take(self) -> bool:
        """Spend one token if there is one; False means: answer ThrottlingException."""
        now = time.monotonic()
        self.tokens = min(burst_of(self.rate), self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False
