"""Where the service keeps what nodes share: rooms, routing, and the budgets that must hold
across nodes. One :class:`Backend` bundles them.

:class:`InMemoryBackend` (the default, what ``quibble host`` embeds) keeps everything in this
process and needs nothing else. ``signaling.redis_backend.RedisBackend`` (``quibble signal
--redis URL``) keeps rooms, seats, tokens, who is connected on which node, the create/join
guessing budgets and each room's relay byte budget in Redis, and carries messages between
nodes over Redis pub/sub, so any node can serve any client.

Per-socket and per-IP *message* rates stay per node on purpose: they protect this node's
event loop, and a shared counter would cost a Redis round trip per frame.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Literal, Protocol

import msgspec

from signaling.limits import Clock, KeyedBuckets
from signaling.metrics import SignalingMetrics
from signaling.rooms import InMemoryRoomStore, RoomStore
from signaling.routing import InMemoryRouter, Router
from signaling.settings import SignalingSettings

# Called when a backend finds that a client's node is gone (its socket with it): the service
# then tells the other side of the room, as if the socket had closed on this node.
PeerLost = Callable[[str, int], Awaitable[None]]


class BackendUnavailable(ConnectionError):
    """The shared backend (Redis) cannot be reached; the operation did not happen."""


class BackendHealth(msgspec.Struct, frozen=True, omit_defaults=True):
    """What ``/healthz`` says about the backend."""

    backend: Literal["memory", "redis"]
    ok: bool
    node: str = ""
    detail: str = ""


class Limiter(Protocol):
    """Token buckets by key (an IP address, a room code)."""

    async def take(self, key: str, amount: float = 1.0) -> bool:
        """Spend ``amount`` from ``key``'s bucket; False (nothing spent) when short."""
        ...

    async def has(self, key: str, amount: float = 1.0) -> bool:
        """Whether ``key``'s bucket holds ``amount`` (spends nothing)."""
        ...

    async def forget(self, key: str) -> None:
        """Drop ``key``'s bucket (e.g. a closed room's relay budget)."""
        ...


class Backend(Protocol):
    """Store, router and shared budgets for one node, plus their lifecycle."""

    @property
    def name(self) -> Literal["memory", "redis"]:
        """Which backend ("memory" or "redis")."""
        ...

    @property
    def node_id(self) -> str:
        """This node's id (in logs, metrics and /healthz)."""
        ...

    @property
    def store(self) -> RoomStore:
        """Rooms, seats and tokens."""
        ...

    @property
    def router(self) -> Router:
        """Delivery to sockets on any node."""
        ...

    def limiter(self, kind: str, rate: float, burst: float, max_keys: int) -> Limiter:
        """The bucket family ``kind`` ("create", "join", "guess", "relay")."""
        ...

    async def start(self, metrics: SignalingMetrics, peer_lost: PeerLost) -> None:
        """Connect; raises :class:`BackendUnavailable` when the backend cannot be reached."""
        ...

    async def close(self) -> None:
        """Stop background work and disconnect (idempotent)."""
        ...

    async def hand_over(self, codes: list[str]) -> None:
        """This node is leaving while these rooms wait for their host (grace running here):
        let another node keep the grace period."""
        ...

    async def health(self) -> BackendHealth:
        """Whether the backend is usable right now."""
        ...


class LocalLimiter:
    """:class:`~signaling.limits.KeyedBuckets` behind the async :class:`Limiter` interface."""

    def __init__(self, rate: float, burst: float, max_keys: int, clock: Clock) -> None:
        self._buckets = KeyedBuckets(rate, burst, max_keys, clock)

    async def take(self, key: str, amount: float = 1.0) -> bool:
        """See :meth:`Limiter.take`."""
        return self._buckets.take(key, amount)

    async def has(self, key: str, amount: float = 1.0) -> bool:
        """See :meth:`Limiter.has`."""
        return self._buckets.has(key, amount)

    async def forget(self, key: str) -> None:
        """See :meth:`Limiter.forget`."""
        self._buckets.forget(key)


class InMemoryBackend:
    """Everything in this process: one node, no dependencies."""

    name: Literal["memory", "redis"] = "memory"

    def __init__(
        self,
        store: RoomStore | None = None,
        router: Router | None = None,
        clock: Clock = time.monotonic,
    ) -> None:
        self.node_id = "local"
        self.store: RoomStore = store or InMemoryRoomStore()
        self.router: Router = router or InMemoryRouter()
        self._clock = clock

    def limiter(self, kind: str, rate: float, burst: float, max_keys: int) -> Limiter:
        """See :meth:`Backend.limiter`."""
        return LocalLimiter(rate, burst, max_keys, self._clock)

    async def start(self, metrics: SignalingMetrics, peer_lost: PeerLost) -> None:
        """Nothing to connect."""

    async def close(self) -> None:
        """Nothing to disconnect."""

    async def hand_over(self, codes: list[str]) -> None:
        """No other node: the rooms close with this process."""

    async def health(self) -> BackendHealth:
        """Always usable."""
        return BackendHealth(backend="memory", ok=True)


def backend_for(settings: SignalingSettings) -> Backend:
    """In memory, or Redis when ``settings.redis_url`` is set (imports redis only then)."""
    if settings.redis_url is None:
        return InMemoryBackend()
    from signaling.redis_backend import RedisBackend

    return RedisBackend(
        settings.redis_url,
        prefix=settings.redis_prefix,
        # Rooms outlive a quiet spell up to the idle timeout, plus time for the host's grace.
        room_ttl=settings.idle_timeout + settings.host_grace + 60,
        node_heartbeat=settings.node_heartbeat,
        node_timeout=settings.node_timeout,
        flush_period=min(1.0, settings.idle_timeout / 4),
    )
