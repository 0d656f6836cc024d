"""The last-resort data relay's budget: a byte-rate cap per room.

Relay frames are routed like any other signaling message (signaling/service.py); what is
special about them is their volume, which this caps so one room cannot starve the others.
The buckets come from the backend, so with Redis the cap holds for the room as a whole,
whichever nodes its host and players are connected to.
"""

from __future__ import annotations

from signaling.backend import Limiter


class RelayCap:
    """Per-room token buckets counted in payload bytes."""

    def __init__(self, buckets: Limiter) -> None:
        self._buckets = buckets

    async def allow(self, code: str, payload_bytes: int) -> bool:
        """Spend ``payload_bytes`` of room ``code``'s budget; False when over the cap."""
        return await self._buckets.take(code, payload_bytes)

    async def forget(self, code: str) -> None:
        """Drop a closed room's budget."""
        await self._buckets.forget(code)
