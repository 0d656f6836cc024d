"""The Redis backend: several `quibble signal --redis URL` nodes serving the same rooms.

Besides the store (signaling/redis_store.py), router (signaling/redis_router.py) and limiters
(signaling/redis_limits.py), a node runs three loops:

- its inbox: a pub/sub subscription to its own channel (re-subscribed after Redis returns);
- its heartbeat: a key that expires ``node_timeout`` after the node stops renewing it, and a
  look at the other nodes' keys. A node whose key is gone is dead: one surviving node
  claims it (SET NX) and takes its clients over: each of its players becomes
  ``peer-left{disconnected}`` for the host, each of its hosts starts the grace period here;
  those clients reconnect to any node with their tokens;
- the flush of room activity into the rooms' expiry (once per period, not per message).

Redis unreachable at start raises :class:`~signaling.backend.BackendUnavailable`; later, the
operations that need Redis answer ``error{unavailable}``, ``/healthz`` turns 503, and the
loops retry until it is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Awaitable
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff

from signaling import redis_scripts as scripts
from signaling.backend import BackendHealth, BackendUnavailable, Limiter, PeerLost
from signaling.metrics import SignalingMetrics
from signaling.redis_batch import Batcher
from signaling.redis_limits import RedisLimiter
from signaling.redis_router import RedisRouter
from signaling.redis_store import REDIS_DOWN, RedisRoomStore

log = logging.getLogger("quibble.signaling")

# A command to a hung Redis fails after this long (the client then gets error{unavailable}).
COMMAND_TIMEOUT = 3.0
# Redis connections per node (the pub/sub inbox holds one more).
MAX_CONNECTIONS = 32
# Each step of closing a node (stopping its loops, leaving Redis) waits at most this long.
CLOSE_STEP_S = 2.0


def redacted(url: str) -> str:
    """``url`` with any password replaced by ``***`` (for logs and error messages)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class RedisBackend:
    """:class:`~signaling.backend.Backend` for one node of a cluster sharing one Redis."""

    name: Literal["memory", "redis"] = "redis"

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "quibble:",
        room_ttl: float = 3 * 3600.0 + 120,
        node_heartbeat: float = 1.0,
        node_timeout: float = 4.0,
        flush_period: float = 1.0,
        node_id: str | None = None,
    ) -> None:
        self.url = url
        self.node_id = node_id or secrets.token_hex(6)
        self.keys = scripts.Keys(prefix)
        self._node_heartbeat = node_heartbeat
        self._node_timeout = node_timeout
        self._flush_period = flush_period
        # A bounded pool that queues: a burst of clients waits for a connection instead of
        # opening hundreds (or failing with "too many connections").
        pool = aioredis.BlockingConnectionPool.from_url(
            url,
            max_connections=MAX_CONNECTIONS,
            timeout=COMMAND_TIMEOUT,
            socket_connect_timeout=COMMAND_TIMEOUT,
            socket_timeout=COMMAND_TIMEOUT,
            retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), 2),
        )
        self._redis = aioredis.Redis.from_pool(pool)  # owns the pool: aclose() closes it
        self._batch = Batcher(self._redis, REDIS_DOWN)
        self.store = RedisRoomStore(self._redis, self._batch, self.keys, room_ttl)
        self.router = RedisRouter(self._redis, self._batch, self.keys, self.node_id, room_ttl)
        self._tasks: list[asyncio.Task[None]] = []
        self._peer_lost: PeerLost | None = None
        self.metrics = SignalingMetrics()
        self._subscribed = asyncio.Event()
        self._last_error = ""
        # When this node's heartbeats started succeeding without a gap (loop time), or None
        # while Redis is unreachable: see _heartbeat.
        self._healthy_since: float | None = None

    def limiter(self, kind: str, rate: float, burst: float, max_keys: int) -> Limiter:
        """See :meth:`~signaling.backend.Backend.limiter` (shared by every node)."""
        # Relay frames are many and small: lease slices of the room's byte budget (a 16th of
        # the burst, at most 64 KiB) instead of a round trip per frame.
        chunk = min(64 * 1024, burst / 16) if kind == "relay" else 0.0
        return RedisLimiter(
            self._redis, self._batch, self.keys, kind, rate, burst, lease_chunk=chunk
        )

    async def start(self, metrics: SignalingMetrics, peer_lost: PeerLost) -> None:
        """Reach Redis (or raise BackendUnavailable), announce this node, start the loops."""
        self.metrics = self.router.metrics = metrics
        self._peer_lost = peer_lost
        try:
            await self._redis.ping()
            await self._beat()
            self._healthy_since = asyncio.get_running_loop().time()
        except REDIS_DOWN as exc:
            await self._redis.aclose()
            raise BackendUnavailable(f"cannot reach Redis at {redacted(self.url)}: {exc}") from None
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._inbox()),
            loop.create_task(self._every(self._node_heartbeat, self._heartbeat)),
            loop.create_task(self._every(self._flush_period, self.store.flush_touches)),
        ]
        try:
            await asyncio.wait_for(self._subscribed.wait(), COMMAND_TIMEOUT)
        except TimeoutError:
            await self.close()
            raise BackendUnavailable(
                f"cannot subscribe at Redis {redacted(self.url)}: {self._last_error}"
            ) from None
        log.info("node %s on Redis %s", self.node_id, redacted(self.url))

    async def close(self) -> None:
        """Stop the loops and leave: other nodes take this node's clients over at once."""
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        # Shutdown is bounded: a loop stuck in a Redis read (a half-dead connection) must not
        # hold the node up; the other nodes reap it by its expired key all the same.
        if tasks:
            _, stuck = await asyncio.wait(tasks, timeout=CLOSE_STEP_S)
            if stuck:
                log.warning("node %s: %d loops did not stop in time", self.node_id, len(stuck))
        self._batch.cancel()
        with contextlib.suppress(*REDIS_DOWN, TimeoutError):
            async with asyncio.timeout(CLOSE_STEP_S):
                if tasks:
                    await self._redis.delete(self.keys.node(self.node_id))
                await self._redis.aclose()

    async def hand_over(self, codes: list[str]) -> None:
        """Mark each room's host seat as held here (unless held elsewhere): when this node's
        key goes, the node that takes over its clients starts the host's grace period."""
        for code in codes:
            try:
                await self.router.hold_if_free(code, 0)
            except BackendUnavailable:
                log.warning("node %s: cannot hand room %s over (Redis down)", self.node_id, code)

    async def health(self) -> BackendHealth:
        """Redis answers a PING within a second and this node's inbox is subscribed."""
        try:
            await asyncio.wait_for(self._redis.ping(), 1.0)
        except (*REDIS_DOWN, TimeoutError) as exc:
            return BackendHealth(
                backend="redis", ok=False, node=self.node_id, detail=f"Redis unreachable: {exc}"
            )
        if not self._subscribed.is_set():
            return BackendHealth(
                backend="redis", ok=False, node=self.node_id, detail="inbox not subscribed yet"
            )
        return BackendHealth(backend="redis", ok=True, node=self.node_id)

    # ---- loops --------------------------------------------------------------------------

    def _down(self, what: str, exc: BaseException) -> None:
        if self.metrics.backend_up:
            log.warning("node %s: Redis unreachable (%s): %s", self.node_id, what, exc)
        self.metrics.backend_up = False
        self._last_error = str(exc)

    def _up(self) -> None:
        if not self.metrics.backend_up:
            log.info("node %s: Redis reachable again", self.node_id)
        self.metrics.backend_up = True

    async def _every(self, period: float, step: Any) -> None:
        while True:
            try:
                await step()
                self._up()
            except (*REDIS_DOWN, BackendUnavailable) as exc:
                self._down(step.__name__, exc)
            except Exception:
                log.exception("node %s: %s failed", self.node_id, step.__name__)
            await asyncio.sleep(period)

    async def _inbox(self) -> None:
        backoff = 0.1
        while True:
            pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.keys.channel(self.node_id))
                self._subscribed.set()
                backoff = 0.1
                async for message in pubsub.listen():
                    if message["type"] == "message":
                        self.router.on_bus(message["data"])
            except REDIS_DOWN as exc:
                self._subscribed.clear()
                self._down("inbox", exc)
            finally:
                with contextlib.suppress(*REDIS_DOWN):
                    await pubsub.aclose()
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 2.0)

    async def _beat(self) -> bool:
        """Renew this node's key; True when another node had taken this one for dead."""
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.set(self.keys.node(self.node_id), "1", px=int(self._node_timeout * 1000))
            pipe.sadd(self.keys.nodes, self.node_id)
            pipe.getdel(self.keys.reap(self.node_id))
            _, _, reaped_by = await pipe.execute()
        return reaped_by is not None

    def _drop_local_clients(self) -> None:
        """This node was taken for dead (it stalled past node_timeout): its seats were
        handed over, so its sockets are stale. Close them (1012, "service restart"); the
        clients reconnect with their tokens, to this node or another."""
        outboxes = self.router.local_outboxes()
        log.warning(
            "node %s was taken for dead by the others; closing its %d socket(s)",
            self.node_id,
            len(outboxes),
        )
        self.router.forget_all()
        for outbox in outboxes:
            outbox.close(1012, "node restarted")

    async def _heartbeat(self) -> None:
        """Renew this node's key; take over the clients of any node whose key expired.

        Only a node that has itself reached Redis without a gap for ``node_timeout`` judges
        others: after Redis was away (or restarted), every live node's key may have expired,
        and each must get one heartbeat in before anyone is taken for dead.
        """
        loop = asyncio.get_running_loop()
        try:
            if await self._beat():
                self._drop_local_clients()
        except REDIS_DOWN:
            self._healthy_since = None
            raise
        if self._healthy_since is None:
            self._healthy_since = loop.time()
        if loop.time() - self._healthy_since < self._node_timeout + self._node_heartbeat:
            return
        others = [_text(n) for n in await self._redis.smembers(self.keys.nodes)]
        others = [n for n in others if n != self.node_id]
        if not others:
            return
        async with self._redis.pipeline(transaction=False) as pipe:
            for node in others:
                pipe.exists(self.keys.node(node))
            alive = await pipe.execute()
        for node, up in zip(others, alive, strict=True):
            if not up:
                await self._reap(node)

    async def _reap(self, dead: str) -> None:
        claim = await self._redis.set(
            self.keys.reap(dead), self.node_id, nx=True, px=int(self._node_timeout * 10_000)
        )
        if not claim:
            return  # another node is on it
        self.metrics.nodes_reaped += 1
        entries = await self._redis.smembers(self.keys.nodeconns(dead))
        log.info("node %s is gone; taking over its %d client(s)", dead, len(entries))
        for entry in entries:
            code, seat_text = _text(entry).split(" ", 1)
            seat = int(seat_text)
            if await self.router.release(code, seat, dead) and self._peer_lost is not None:
                await self._guard(self._peer_lost(code, seat), f"room {code} seat {seat}")
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.delete(self.keys.nodeconns(dead))
            pipe.srem(self.keys.nodes, dead)
            await pipe.execute()

    async def _guard(self, work: Awaitable[None], what: str) -> None:
        try:
            await work
        except BackendUnavailable:
            raise
        except Exception:
            log.exception("node %s: taking over %s failed", self.node_id, what)
