"""Token buckets: per-socket, per-IP and per-room budgets for messages, joins and bytes."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

Clock = Callable[[], float]


class TokenBucket:
    """``rate`` tokens per second up to ``burst``; :meth:`take` spends them if there."""

    __slots__ = ("_clock", "_last", "_tokens", "burst", "rate")

    def __init__(self, rate: float, burst: float, clock: Clock = time.monotonic) -> None:
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._tokens = float(burst)
        self._last = clock()

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
        self._last = now

    def take(self, amount: float = 1.0) -> bool:
        """Spend ``amount`` tokens; False (and nothing spent) when there are not enough."""
        self._refill()
        if self._tokens < amount:
            return False
        self._tokens -= amount
        return True

    def has(self, amount: float = 1.0) -> bool:
        """True when ``amount`` tokens are available (spends nothing)."""
        self._refill()
        return self._tokens >= amount

    @property
    def full(self) -> bool:
        """True when the bucket has refilled completely (forgetting it loses nothing)."""
        self._refill()
        return self._tokens >= self.burst


class KeyedBuckets:
    """One bucket per key (an IP, a room), at most ``max_keys`` of them, least recent evicted."""

    def __init__(
        self, rate: float, burst: float, max_keys: int, clock: Clock = time.monotonic
    ) -> None:
        self.rate = rate
        self.burst = burst
        self._max_keys = max_keys
        self._clock = clock
        self._buckets: OrderedDict[str, TokenBucket] = OrderedDict()

    def get(self, key: str) -> TokenBucket:
        """The bucket for ``key`` (a fresh, full one if unknown)."""
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self._max_keys:
                self._evict()
            bucket = self._buckets[key] = TokenBucket(self.rate, self.burst, self._clock)
        else:
            self._buckets.move_to_end(key)
        return bucket

    def take(self, key: str, amount: float = 1.0) -> bool:
        """Spend from ``key``'s bucket."""
        return self.get(key).take(amount)

    def has(self, key: str, amount: float = 1.0) -> bool:
        """Whether ``key``'s bucket holds ``amount``."""
        return self.get(key).has(amount)

    def forget(self, key: str) -> None:
        """Drop ``key``'s bucket (e.g. a closed room)."""
        self._buckets.pop(key, None)

    def _evict(self) -> None:
        # Prefer forgetting buckets that are full anyway; else the least recently used.
        for key in [k for k, b in self._buckets.items() if b.full][: max(1, self._max_keys // 10)]:
            del self._buckets[key]
        if len(self._buckets) >= self._max_keys:
            self._buckets.popitem(last=False)
