"""The last-resort data relay's budget: a byte-rate cap per room.

Relay frames are routed like any other signaling message (signaling/service.py); what is
special about them is their volume, which this caps so one room cannot starve the others.
"""

from __future__ import annotations

import time

from signaling.limits import Clock, KeyedBuckets


class RelayCap:
    """Per-room token buckets counted in payload bytes."""

    def __init__(
        self,
        bytes_per_second: float,
        burst_bytes: int,
        max_rooms: int,
        clock: Clock = time.monotonic,
    ) -> None:
        self._buckets = KeyedBuckets(bytes_per_second, burst_bytes, max_rooms, clock)

    def allow(self, code: str, payload_bytes: int) -> bool:
        """Spend ``payload_bytes`` of room ``code``'s budget; False when over the cap."""
        return self._buckets.take(code, payload_bytes)

    def forget(self, code: str) -> None:
        """Drop a closed room's budget."""
        self._buckets.forget(code)
