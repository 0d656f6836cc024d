"""Rooms in Redis: the :class:`~signaling.rooms.RoomStore` every node of a cluster shares.

Codes, host tokens, seats and seat tokens live under keys that expire when the room has been
idle for ``ttl`` seconds (the service's idle timeout plus a margin), so rooms survive any
node and a cluster that is switched off cleans itself up. Creating a room and adding a seat
are single Lua scripts (signaling/redis_scripts.py): atomic across nodes.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable

import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from signaling import redis_scripts as scripts
from signaling.backend import BackendUnavailable
from signaling.redis_batch import Batcher
from signaling.rooms import (
    RoomFullError,
    RoomRecord,
    SeatRecord,
    code_candidates,
    copy_seats,
    name_candidate,
    new_token,
)

# What a lost or hung Redis raises; callers see BackendUnavailable instead.
REDIS_DOWN = (RedisConnectionError, RedisTimeoutError, OSError)
_NAME_WINDOW = 8  # candidate names sent per attempt ("Ana", "Ana 2", ... "Ana 8")


def _seat_value(record: SeatRecord) -> str:
    # Names and tokens cannot hold a newline (clean_name refuses control characters).
    return f"{record.token}\n{record.name.casefold()}\n{record.name}"


def _parse_seat(seat: bytes, value: bytes) -> SeatRecord:
    token, _folded, name = value.decode().split("\n", 2)
    return SeatRecord(int(seat), name, token)


class RedisRoomStore:
    """:class:`~signaling.rooms.RoomStore` on Redis."""

    def __init__(
        self, client: aioredis.Redis, batcher: Batcher, keys: scripts.Keys, ttl: float
    ) -> None:
        self._redis = client
        self._batch = batcher
        self._keys = keys
        self._ttl_ms = int(ttl * 1000)
        self._create = batcher.register(scripts.CREATE_ROOM)
        self._add_seat = batcher.register(scripts.ADD_SEAT)
        self._remove_seat = batcher.register(scripts.REMOVE_SEAT)
        self._touch = batcher.register(scripts.TOUCH)
        self._get_room = batcher.register(scripts.GET_ROOM)
        self._touched: set[str] = set()

    async def create_room(
        self,
        host_token: str,
        max_players: int,
        code: str | None = None,
        seats: Iterable[SeatRecord] = (),
    ) -> RoomRecord | None:
        """See :meth:`~signaling.rooms.RoomStore.create_room` (atomic across nodes)."""
        records = copy_seats(seats)
        next_seat = max(records, default=0) + 1
        extra: list[str | int] = []
        for r in records.values():
            extra += [r.seat, _seat_value(r), r.name.casefold()]
        for candidate in code_candidates(code):
            keys = [*self._keys.room_keys(candidate), self._keys.rooms]
            args = [
                candidate, host_token, max_players, self._ttl_ms, int(time.time() * 1000),
                next_seat, *extra,
            ]
            if await self._batch.script(self._create, keys, args):
                return RoomRecord(candidate, host_token, max_players, records, next_seat)
        return None

    async def get_room(self, code: str) -> RoomRecord | None:
        """See :meth:`~signaling.rooms.RoomStore.get_room` (one consistent snapshot)."""
        keys = [self._keys.room(code), self._keys.seats(code)]
        room_list, seat_list = await self._batch.script(self._get_room, keys, [])
        if not room_list:
            return None
        room = dict(zip(room_list[::2], room_list[1::2], strict=True))
        records = {}
        for seat, value in zip(seat_list[::2], seat_list[1::2], strict=True):
            record = _parse_seat(seat, value)
            records[record.seat] = record
        return RoomRecord(
            code=code,
            host_token=room[b"host_token"].decode(),
            max_players=int(room[b"max_players"]),
            seats=records,
            next_seat=int(room[b"next_seat"]),
        )

    async def add_seat(self, code: str, name: str) -> SeatRecord:
        """See :meth:`~signaling.rooms.RoomStore.add_seat` (atomic across nodes)."""
        token = new_token()
        keys = [self._keys.room(code), self._keys.seats(code), self._keys.names(code)]
        first = 1
        while True:
            args: list[str] = [token, str(self._ttl_ms)]
            for n in range(first, first + _NAME_WINDOW):
                candidate = name_candidate(name, n)
                args += [candidate, candidate.casefold()]
            result = await self._batch.script(self._add_seat, keys, args)
            status = int(result[0])
            if status == -1:
                raise KeyError(code)
            if status == -2:
                raise RoomFullError(code)
            if status > 0:
                return SeatRecord(status, result[1].decode(), token)
            first += _NAME_WINDOW  # every name in this window is taken: try the next ones

    async def remove_seat(self, code: str, seat: int) -> bool:
        """See :meth:`~signaling.rooms.RoomStore.remove_seat`."""
        keys = [self._keys.seats(code), self._keys.names(code)]
        return bool(await self._batch.script(self._remove_seat, keys, [seat]))

    async def delete_room(self, code: str) -> bool:
        """See :meth:`~signaling.rooms.RoomStore.delete_room`.

        The room's ``conn`` hash stays: closing the room's sockets (the router) needs it.
        """
        k = self._keys
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.delete(k.room(code))
                pipe.delete(k.seats(code), k.names(code))
                pipe.zrem(k.rooms, code)
                deleted, _, _ = await pipe.execute()
        except REDIS_DOWN as exc:
            raise BackendUnavailable(f"Redis: {exc}") from None
        self._touched.discard(code)
        return bool(deleted)

    async def count_rooms(self) -> int:
        """See :meth:`~signaling.rooms.RoomStore.count_rooms` (rooms on every node)."""
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.zremrangebyscore(self._keys.rooms, "-inf", int(time.time() * 1000))
                pipe.zcard(self._keys.rooms)
                _, count = await pipe.execute()
        except REDIS_DOWN as exc:
            raise BackendUnavailable(f"Redis: {exc}") from None
        return int(count)

    def touch(self, code: str) -> None:
        """Note activity; :meth:`flush_touches` pushes the expiry back (once per period,
        not once per message)."""
        self._touched.add(code)

    async def flush_touches(self) -> None:
        """Push back the expiry of every room touched since the last flush."""
        if not self._touched:
            return
        codes, self._touched = self._touched, set()
        now = int(time.time() * 1000)
        try:
            await asyncio.gather(
                *(
                    self._batch.script(
                        self._touch,
                        [*self._keys.room_keys(code), self._keys.rooms],
                        [code, self._ttl_ms, now],
                    )
                    for code in codes
                )
            )
        except BackendUnavailable:
            self._touched |= codes  # try again next period
            raise

    async def idle_for(self, code: str) -> float | None:
        """Seconds since the room was last touched on any node (from its expiry); None if
        the room is gone."""
        try:
            pttl = await self._redis.pttl(self._keys.room(code))
        except REDIS_DOWN as exc:
            raise BackendUnavailable(f"Redis: {exc}") from None
        if pttl < 0:
            return None
        return max(0.0, (self._ttl_ms - pttl) / 1000)
