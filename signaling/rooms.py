"""Rooms: codes, tokens and seats, kept behind :class:`RoomStore`.

Only durable room facts live in the store (code, host token, seats and their tokens), so a
shared backend (signaling/redis_store.py) can replace :class:`InMemoryRoomStore` without
touching the service. Who is connected right now is the router's business (signaling/routing.py).
"""

from __future__ import annotations

import secrets
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

from signaling.protocol import ROOM_CODE_ALPHABET, ROOM_CODE_LENGTH

HOST_SEAT = 0  # the router's address for a room's host; players are seats 1, 2, ...
MAX_NAME_CHARS = 24
_CODE_ATTEMPTS = 64


def new_room_code() -> str:
    """A random room code from the unambiguous alphabet."""
    return "".join(secrets.choice(ROOM_CODE_ALPHABET) for _ in range(ROOM_CODE_LENGTH))


def is_room_code(code: str) -> bool:
    """True when ``code`` (upper case) could have been made by :func:`new_room_code`."""
    return len(code) == ROOM_CODE_LENGTH and all(c in ROOM_CODE_ALPHABET for c in code)


def new_token() -> str:
    """A host or seat token: 192 random bits, URL-safe."""
    return secrets.token_urlsafe(24)


def clean_name(raw: str) -> str | None:
    """A display name trimmed and with runs of spaces collapsed; None if nothing printable."""
    if any(unicodedata.category(c) in ("Cc", "Cf", "Cs", "Co", "Cn") for c in raw):
        return None
    name = " ".join(raw.split())
    return name[:MAX_NAME_CHARS] or None


def name_candidate(wanted: str, n: int) -> str:
    """The ``n``-th name to try for ``wanted``: itself, then "wanted 2", "wanted 3", ..."""
    if n <= 1:
        return wanted
    suffix = f" {n}"
    return wanted[: MAX_NAME_CHARS - len(suffix)].rstrip() + suffix


def unique_name(wanted: str, taken: Iterable[str]) -> str:
    """``wanted``, or with a " 2", " 3", ... suffix when another seat has it (any case)."""
    taken_folded = {t.casefold() for t in taken}
    n = 1
    while True:
        candidate = name_candidate(wanted, n)
        if candidate.casefold() not in taken_folded:
            return candidate
        n += 1


@dataclass
class SeatRecord:
    """A seat: its number, the player's name, and the token that resumes it."""

    seat: int
    name: str
    token: str


@dataclass
class RoomRecord:
    """The durable facts of a room."""

    code: str
    host_token: str
    max_players: int
    seats: dict[int, SeatRecord] = field(default_factory=dict)
    next_seat: int = 1

    def seat_by_token(self, token: str) -> SeatRecord | None:
        """The seat whose token is ``token``, if any."""
        for record in self.seats.values():
            if secrets.compare_digest(record.token, token):
                return record
        return None


def code_candidates(code: str | None) -> Iterable[str]:
    """The codes a store's create_room tries in turn: ``code`` alone if one was asked for,
    else up to 64 random ones (a store gives up when all are taken)."""
    if code is not None:
        return [code]
    return (new_room_code() for _ in range(_CODE_ATTEMPTS))


def copy_seats(seats: Iterable[SeatRecord]) -> dict[int, SeatRecord]:
    """Copies of ``seats`` by seat number: a store never keeps the caller's records."""
    return {r.seat: SeatRecord(r.seat, r.name, r.token) for r in seats}


class RoomFullError(Exception):
    """No free seat in the room."""


class RoomStore(Protocol):
    """Where rooms live. Methods are async so a networked store can implement them."""

    async def create_room(
        self,
        host_token: str,
        max_players: int,
        code: str | None = None,
        seats: Iterable[SeatRecord] = (),
    ) -> RoomRecord | None:
        """A new room (``code`` if given and free, else a random free one); None if none."""
        ...

    async def get_room(self, code: str) -> RoomRecord | None:
        """The room with ``code``, if it exists."""
        ...

    async def add_seat(self, code: str, name: str) -> SeatRecord:
        """A new seat with a unique name; raises RoomFullError or KeyError (no room)."""
        ...

    async def remove_seat(self, code: str, seat: int) -> bool:
        """Free ``seat``; False if it was not there."""
        ...

    async def delete_room(self, code: str) -> bool:
        """Forget the room; False if it was not there."""
        ...

    async def count_rooms(self) -> int:
        """How many rooms exist."""
        ...

    def touch(self, code: str) -> None:
        """Someone in room ``code`` was active (a shared store pushes its expiry back)."""
        ...

    async def idle_for(self, code: str) -> float | None:
        """Seconds since room ``code`` was last active on any node; None if not tracked here."""
        ...


class InMemoryRoomStore:
    """The single-process store the embedded service uses."""

    def __init__(self) -> None:
        self._rooms: dict[str, RoomRecord] = {}

    async def create_room(
        self,
        host_token: str,
        max_players: int,
        code: str | None = None,
        seats: Iterable[SeatRecord] = (),
    ) -> RoomRecord | None:
        """See :meth:`RoomStore.create_room`."""
        for candidate in code_candidates(code):
            if candidate not in self._rooms:
                break
        else:
            return None
        records = copy_seats(seats)
        room = RoomRecord(candidate, host_token, max_players, records, max(records, default=0) + 1)
        self._rooms[candidate] = room
        return room

    async def get_room(self, code: str) -> RoomRecord | None:
        """See :meth:`RoomStore.get_room`."""
        return self._rooms.get(code)

    async def add_seat(self, code: str, name: str) -> SeatRecord:
        """See :meth:`RoomStore.add_seat`."""
        room = self._rooms[code]
        if len(room.seats) >= room.max_players:
            raise RoomFullError(code)
        name = unique_name(name, (s.name for s in room.seats.values()))
        record = SeatRecord(room.next_seat, name, new_token())
        room.seats[record.seat] = record
        room.next_seat += 1
        return record

    async def remove_seat(self, code: str, seat: int) -> bool:
        """See :meth:`RoomStore.remove_seat`."""
        room = self._rooms.get(code)
        return room is not None and room.seats.pop(seat, None) is not None

    async def delete_room(self, code: str) -> bool:
        """See :meth:`RoomStore.delete_room`."""
        return self._rooms.pop(code, None) is not None

    async def count_rooms(self) -> int:
        """See :meth:`RoomStore.count_rooms`."""
        return len(self._rooms)

    def touch(self, code: str) -> None:
        """One process: the service's own clock is the whole truth."""

    async def idle_for(self, code: str) -> float | None:
        """See :meth:`RoomStore.idle_for` (None: the service's local clock decides)."""
        return None
