"""Token buckets in Redis: budgets that hold for a client (or a room) across every node.

Used for what an attacker could multiply by spreading over nodes: room creation, joins and
failed guesses per IP (checked exactly, one Lua script per check), and each room's relay
byte rate. A relay frame is too small to pay a round trip each, so relay budgets are
*leased*: a node takes a slice of the room's bucket (up to ``lease_chunk`` bytes, never
more than is there) and spends it locally for up to ``lease_s``. The room as a whole can
never exceed its cap; a slice a node leased but did not use is simply lost, so the cap is
at worst slightly stricter than configured (by the slices outstanding on other nodes).
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable

import redis.asyncio as aioredis

from signaling import redis_scripts as scripts
from signaling.redis_batch import Batcher
from signaling.redis_store import REDIS_DOWN


class RedisLimiter:
    """:class:`~signaling.backend.Limiter` whose buckets live in Redis."""

    def __init__(
        self,
        client: aioredis.Redis,
        batcher: Batcher,
        keys: scripts.Keys,
        kind: str,
        rate: float,
        burst: float,
        *,
        lease_chunk: float = 0.0,
        lease_s: float = 1.0,
        max_leases: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._redis = client
        self._batch = batcher
        self._keys = keys
        self._kind = kind
        self._rate = rate
        self._burst = burst
        # A bucket untouched for this long is full again: Redis may forget it.
        self._ttl_ms = int(math.ceil(burst / rate) * 1000) + 1000
        self._script = batcher.register(scripts.TOKEN_BUCKET)
        self._lease_chunk = lease_chunk
        self._lease_s = lease_s
        self._max_leases = max_leases
        self._clock = clock
        self._leases: OrderedDict[str, tuple[float, float]] = OrderedDict()  # key -> left, until

    async def _grant(self, key: str, least: float, most: float, take: bool) -> float:
        granted = await self._batch.script(
            self._script,
            [self._keys.bucket(self._kind, key)],
            [repr(self._rate), repr(self._burst), repr(least), repr(most), int(take),
             self._ttl_ms],
        )
        return float(granted)

    async def take(self, key: str, amount: float = 1.0) -> bool:
        """See :meth:`~signaling.backend.Limiter.take`."""
        if self._lease_chunk <= 0:
            return await self._grant(key, amount, amount, True) > 0
        now = self._clock()
        left, until = self._leases.get(key, (0.0, 0.0))
        if until < now:
            left = 0.0
        if left >= amount:
            self._leases[key] = (left - amount, until)
            return True
        need = amount - left
        granted = await self._grant(key, need, max(need, self._lease_chunk), True)
        if granted <= 0:
            return False
        self._leases[key] = (left + granted - amount, now + self._lease_s)
        self._leases.move_to_end(key)
        while len(self._leases) > self._max_leases:
            self._leases.popitem(last=False)
        return True

    async def has(self, key: str, amount: float = 1.0) -> bool:
        """See :meth:`~signaling.backend.Limiter.has`."""
        return await self._grant(key, amount, amount, False) > 0

    async def forget(self, key: str) -> None:
        """See :meth:`~signaling.backend.Limiter.forget` (best effort: it expires anyway)."""
        self._leases.pop(key, None)
        try:
            await self._redis.delete(self._keys.bucket(self._kind, key))
        except REDIS_DOWN:
            pass
