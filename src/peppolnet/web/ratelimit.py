"""A per-client token bucket for lookups, on the injected clock.

Each lookup asks the SML and an SMP that other people run; a page open on the internet (or a
script behind one account) must not turn into a flood. A bucket per client - the authenticated
user, else the peer address - holds ``burst`` tokens and refills at ``per_minute``; a lookup
takes one. Time comes from :class:`peppolnet.clock.Clock` so tests move it by hand.
"""

from __future__ import annotations

import dataclasses
import math
import threading

from peppolnet.clock import Clock
from peppolnet.i18n import _

__all__ = ["RateLimiter"]

# Buckets untouched for this long are full again and dropped, so memory stays bounded.
_IDLE_SECONDS = 3600.0
_SWEEP_EVERY = 1024


@dataclasses.dataclass
class _Bucket:
    tokens: float
    stamp: float


class RateLimiter:
    """``take(client)`` -> 0.0 when allowed, else the seconds until a token is free."""

    def __init__(self, per_minute: float, burst: int, clock: Clock) -> None:
        if per_minute <= 0 or burst < 1:
            raise ValueError(_("a rate limit needs per_minute > 0 and burst >= 1"))
        self.rate = per_minute / 60.0
        self.burst = float(burst)
        self.clock = clock
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()
        self._takes = 0

    def take(self, client: str) -> float:
        """Spend one token of ``client``'s bucket; the wait in seconds when it is empty."""
        now = self.clock.monotonic()
        with self._lock:
            self._takes += 1
            if self._takes % _SWEEP_EVERY == 0:
                self._sweep(now)
            bucket = self._buckets.setdefault(client, _Bucket(self.burst, now))
            bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.stamp) * self.rate)
            bucket.stamp = now
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return 0.0
            return (1.0 - bucket.tokens) / self.rate

    def retry_after(self, wait: float) -> str:
        """The ``Retry-After`` header value (whole seconds, at least 1)."""
        return str(max(1, math.ceil(wait)))

    def _sweep(self, now: float) -> None:
        idle = [key for key, b in self._buckets.items() if now - b.stamp > _IDLE_SECONDS]
        for key in idle:
            del self._buckets[key]
