"""Message delivery between the sockets of a room, behind :class:`Router`.

An address is (room code, seat), the host being seat 0 (rooms.HOST_SEAT). The in-memory
router holds this process's sockets; the Redis router (signaling/redis_router.py) publishes to
the node that holds the addressed socket instead.
"""

from __future__ import annotations

from typing import Protocol


class Outbox(Protocol):
    """One client's outgoing side: never blocks; a client that cannot keep up is dropped."""

    def send(self, frame: str) -> bool:
        """Queue a text frame; False if the client is closed (or was just dropped)."""
        ...

    def close(self, code: int = 1000, message: str = "") -> None:
        """Close after the frames already queued."""
        ...

    @property
    def closing(self) -> bool:
        """True once close() was called (or the client was dropped)."""
        ...


class Router(Protocol):
    """Who is connected where, and delivery to them."""

    async def attach(self, code: str, seat: int, outbox: Outbox, replaced: str) -> bool:
        """Make ``outbox`` the live socket of (code, seat).

        A socket already there (on any node) is sent ``replaced`` and closed; returns True
        when there was one.
        """
        ...

    async def detach(self, code: str, seat: int, outbox: Outbox) -> bool:
        """Forget ``outbox`` if it is still the live socket of (code, seat)."""
        ...

    async def deliver(self, code: str, seat: int, frame: str) -> bool:
        """Send ``frame`` to (code, seat); False when nobody is connected there."""
        ...

    async def connected_seats(self, code: str) -> list[int]:
        """The seats of ``code`` (0 = host) with a live socket."""
        ...

    def is_local(self, code: str, seat: int) -> bool:
        """True when (code, seat)'s live socket is on this node."""
        ...

    async def close_seat(self, code: str, seat: int, frame: str, ws_code: int = 1000) -> bool:
        """Send a last frame to (code, seat), close and forget its socket."""
        ...


class InMemoryRouter:
    """Delivery inside one process."""

    def __init__(self) -> None:
        self._rooms: dict[str, dict[int, Outbox]] = {}

    async def attach(self, code: str, seat: int, outbox: Outbox, replaced: str) -> bool:
        """See :meth:`Router.attach`."""
        members = self._rooms.setdefault(code, {})
        previous = members.get(seat)
        members[seat] = outbox
        if previous is None or previous is outbox:
            return False
        previous.send(replaced)
        previous.close()
        return True

    async def detach(self, code: str, seat: int, outbox: Outbox) -> bool:
        """See :meth:`Router.detach`."""
        members = self._rooms.get(code)
        if members is None or members.get(seat) is not outbox:
            return False
        del members[seat]
        if not members:
            del self._rooms[code]
        return True

    async def deliver(self, code: str, seat: int, frame: str) -> bool:
        """See :meth:`Router.deliver`."""
        outbox = self._rooms.get(code, {}).get(seat)
        return outbox is not None and outbox.send(frame)

    async def connected_seats(self, code: str) -> list[int]:
        """See :meth:`Router.connected_seats`."""
        return sorted(self._rooms.get(code, {}))

    def is_local(self, code: str, seat: int) -> bool:
        """See :meth:`Router.is_local`."""
        return seat in self._rooms.get(code, {})

    async def close_seat(self, code: str, seat: int, frame: str, ws_code: int = 1000) -> bool:
        """See :meth:`Router.close_seat`."""
        outbox = self._rooms.get(code, {}).get(seat)
        if outbox is None:
            return False
        await self.detach(code, seat, outbox)
        outbox.send(frame)
        outbox.close(ws_code)
        return True
