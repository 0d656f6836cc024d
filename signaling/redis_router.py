"""Delivery across nodes: the :class:`~signaling.routing.Router` on Redis.

Each node keeps its own sockets in memory, as the in-memory router does, and records in
Redis which node holds each (room, seat). A frame for a socket on this node is written
directly; one for a socket elsewhere goes, in one Lua script (look-up + PUBLISH), to that
node's pub/sub channel, where :meth:`RedisRouter.on_bus` writes it out. PUBLISH says how
many nodes received it, so a frame for a dead node's client is known undelivered at once.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import msgspec
import redis.asyncio as aioredis

from signaling import redis_scripts as scripts
from signaling.backend import BackendUnavailable
from signaling.metrics import SignalingMetrics
from signaling.redis_batch import Batcher
from signaling.redis_protocol import CloseSeat, Deliver, decode_bus, encode_bus
from signaling.routing import Outbox

log = logging.getLogger("quibble.signaling")


# Frames per DELIVER_MANY script call (a Lua call blocks Redis while it runs: keep it short).
_DELIVER_BATCH = 256


# A frame waiting for the next DELIVER_MANY: room, seat, bus item, and who awaits the count.
_Outgoing = tuple[str, int, bytes, "asyncio.Future[int]"]


def _member(code: str, seat: int) -> str:
    return f"{code} {seat}"


class RedisRouter:
    """:class:`~signaling.routing.Router` for one node of a Redis cluster."""

    def __init__(
        self,
        client: aioredis.Redis,
        batcher: Batcher,
        keys: scripts.Keys,
        node_id: str,
        ttl: float,
        metrics: SignalingMetrics | None = None,
    ) -> None:
        self._redis = client
        self._batch = batcher
        self._keys = keys
        self.node_id = node_id
        self._ttl_ms = int(ttl * 1000)
        self.metrics = metrics or SignalingMetrics()
        self._local: dict[str, dict[int, Outbox]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._attach = batcher.register(scripts.ATTACH)
        self._detach = batcher.register(scripts.DETACH)
        self._deliver_many = batcher.register(scripts.DELIVER_MANY)
        self._outgoing: list[_Outgoing] = []
        self._outgoing_scheduled = False
        self._close_seat = batcher.register(scripts.CLOSE_SEAT)

    # ---- this node's sockets ------------------------------------------------------------

    def _forget_local(self, code: str, seat: int) -> Outbox | None:
        members = self._local.get(code)
        if members is None:
            return None
        outbox = members.pop(seat, None)
        if not members:
            del self._local[code]
        return outbox

    def is_local(self, code: str, seat: int) -> bool:
        """See :meth:`~signaling.routing.Router.is_local`."""
        return seat in self._local.get(code, {})

    def local_outboxes(self) -> list[Outbox]:
        """Every socket this node holds."""
        return [o for members in self._local.values() for o in members.values()]

    def forget_all(self) -> None:
        """Forget every local socket (without touching Redis: another node owns them now)."""
        self._local.clear()

    # ---- the Router interface -----------------------------------------------------------

    async def attach(self, code: str, seat: int, outbox: Outbox, replaced: str) -> bool:
        """See :meth:`~signaling.routing.Router.attach` (the previous socket may be on any
        node; that node is told to close it)."""
        members = self._local.setdefault(code, {})
        previous = members.get(seat)
        members[seat] = outbox
        close = encode_bus(CloseSeat(code=code, seat=seat, frame=replaced))
        keys = [self._keys.conn(code), self._keys.nodeconns(self.node_id)]
        args: list[str | int | bytes] = [
            seat, self.node_id, _member(code, seat), self._ttl_ms,
            self._keys.channel_prefix, self._keys.nodeconns_prefix, close,
        ]
        try:
            remote = int(await self._batch.script(self._attach, keys, args))
        except BackendUnavailable:
            if members.get(seat) is outbox:
                if previous is None:
                    self._forget_local(code, seat)
                else:
                    members[seat] = previous
            raise
        if remote:
            self.metrics.bus["out"] += 1
        if previous is not None and previous is not outbox:
            previous.send(replaced)
            previous.close()
            return True
        return remote > 0

    async def detach(self, code: str, seat: int, outbox: Outbox) -> bool:
        """See :meth:`~signaling.routing.Router.detach`."""
        if self._local.get(code, {}).get(seat) is not outbox:
            return False
        self._forget_local(code, seat)
        return await self.release(code, seat, self.node_id)

    async def hold_if_free(self, code: str, seat: int) -> bool:
        """Record (code, seat) as held by this node if no node holds it (no socket here)."""
        member = _member(code, seat)
        conn, mine = self._keys.conn(code), self._keys.nodeconns(self.node_id)
        node = self.node_id

        def queue(pipe: Any) -> Any:
            return pipe.hsetnx(conn, seat, node)

        if not await self._batch.run(queue):
            return False
        ttl = self._ttl_ms
        await self._batch.run(lambda pipe: pipe.pexpire(conn, ttl))
        await self._batch.run(lambda pipe: pipe.sadd(mine, member))
        return True

    async def release(self, code: str, seat: int, node_id: str) -> bool:
        """Forget (code, seat)'s socket in Redis if ``node_id`` still holds it there."""
        keys = [self._keys.conn(code), self._keys.nodeconns(node_id)]
        args = [seat, node_id, _member(code, seat)]
        return bool(await self._batch.script(self._detach, keys, args))

    async def deliver(self, code: str, seat: int, frame: str) -> bool:
        """See :meth:`~signaling.routing.Router.deliver`."""
        outbox = self._local.get(code, {}).get(seat)
        if outbox is not None:
            return outbox.send(frame)
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        item = encode_bus(Deliver(code=code, seat=seat, frame=frame))
        self._outgoing.append((code, seat, item, future))
        if not self._outgoing_scheduled:
            self._outgoing_scheduled = True
            asyncio.get_running_loop().call_soon(self._send_outgoing)
        received = await future
        if received > 0:
            self.metrics.bus["out"] += 1
        return received > 0

    def _send_outgoing(self) -> None:
        """Every frame for other nodes queued this loop turn: one script (per 256 frames)."""
        self._outgoing_scheduled = False
        queued, self._outgoing = self._outgoing, []
        loop = asyncio.get_running_loop()
        for start in range(0, len(queued), _DELIVER_BATCH):
            chunk = queued[start : start + _DELIVER_BATCH]
            task = loop.create_task(self._deliver_chunk(chunk))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _deliver_chunk(self, chunk: list[_Outgoing]) -> None:
        keys = [self._keys.conn(code) for code, _, _, _ in chunk]
        args: list[str | int | bytes] = [self._keys.channel_prefix]
        for _, seat, item, _ in chunk:
            args += [seat, item]
        try:
            counts = await self._batch.script(self._deliver_many, keys, args)
        except Exception as exc:
            for *_, future in chunk:
                if not future.done():
                    future.set_exception(exc)
            return
        for (*_, future), count in zip(chunk, counts, strict=True):
            if not future.done():
                future.set_result(int(count))

    async def connected_seats(self, code: str) -> list[int]:
        """See :meth:`~signaling.routing.Router.connected_seats` (on every node)."""
        key = self._keys.conn(code)
        seats = await self._batch.run(lambda pipe: pipe.hkeys(key))
        return sorted({int(s) for s in seats} | set(self._local.get(code, {})))

    async def close_seat(self, code: str, seat: int, frame: str, ws_code: int = 1000) -> bool:
        """See :meth:`~signaling.routing.Router.close_seat`."""
        outbox = self._local.get(code, {}).get(seat)
        if outbox is not None:
            self._forget_local(code, seat)
            outbox.send(frame)
            outbox.close(ws_code)
            try:
                await self.release(code, seat, self.node_id)
            except BackendUnavailable:
                pass  # the entry expires with the room; the socket is closed either way
            return True
        payload = encode_bus(CloseSeat(code=code, seat=seat, frame=frame, ws_code=ws_code))
        args: list[str | int | bytes] = [
            seat, self._keys.channel_prefix, payload, self._keys.nodeconns_prefix,
            _member(code, seat),
        ]
        received = int(await self._batch.script(self._close_seat, [self._keys.conn(code)], args))
        if received > 0:
            self.metrics.bus["out"] += 1
        return received >= 0

    # ---- the node's inbox -----------------------------------------------------------------

    def on_bus(self, payload: bytes) -> None:
        """One message from another node (this node's channel)."""
        try:
            messages = decode_bus(payload)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            log.warning("ignored a malformed message on this node's channel: %s", exc)
            return
        for message in messages:
            self.metrics.bus["in"] += 1
            if isinstance(message, Deliver):
                outbox = self._local.get(message.code, {}).get(message.seat)
                if outbox is not None:
                    outbox.send(message.frame)
            else:
                outbox = self._forget_local(message.code, message.seat)
                if outbox is not None:
                    outbox.send(message.frame)
                    outbox.close(message.ws_code)
