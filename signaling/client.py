"""A small asyncio client for the signaling protocol (the Python player, host, tests, bench).

Imports aiohttp, so import this module only where a connection is made.
"""

from __future__ import annotations

import asyncio
from typing import TypeVar

import aiohttp
import msgspec

from signaling import protocol as p

M = TypeVar("M", bound=p.Message)


class SignalingClosed(ConnectionError):
    """The server closed the socket; ``code`` is the WebSocket close code (if any)."""

    def __init__(self, code: int | None, reason: str = "") -> None:
        super().__init__(f"signaling socket closed ({code}) {reason}".strip())
        self.code = code
        self.reason = reason


class SignalingRefused(Exception):
    """The server answered ``error`` where something else was expected."""

    def __init__(self, error: p.Error) -> None:
        super().__init__(f"{error.code}: {error.message}")
        self.error = error


class SignalingClient:
    """One signaling WebSocket, sending and receiving protocol Structs."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        ws: aiohttp.ClientWebSocketResponse,
        owns_session: bool,
    ) -> None:
        self.session = session
        self.ws = ws
        self._owns_session = owns_session

    @classmethod
    async def connect(
        cls,
        url: str,
        *,
        session: aiohttp.ClientSession | None = None,
        connect_within: float = 10.0,
        origin: str | None = None,
        heartbeat: float | None = None,
        headers: dict[str, str] | None = None,
    ) -> SignalingClient:
        """Open a socket to ``url`` (``ws://host:port/ws``)."""
        owns = session is None
        session = session or aiohttp.ClientSession()
        try:
            ws = await session.ws_connect(
                url,
                timeout=aiohttp.ClientWSTimeout(ws_receive=None, ws_close=connect_within),
                origin=origin,
                heartbeat=heartbeat,
                headers=headers,
                max_msg_size=4 * p.DEFAULT_MAX_FRAME_BYTES,
            )
        except BaseException:
            if owns:
                await session.close()
            raise
        return cls(session, ws, owns)

    async def send(self, message: p.Message) -> None:
        """Send one message."""
        await self.ws.send_str(p.encode(message))

    async def send_raw(self, frame: str | bytes) -> None:
        """Send arbitrary bytes or text (tests of bad input)."""
        if isinstance(frame, bytes):
            await self.ws.send_bytes(frame)
        else:
            await self.ws.send_str(frame)

    async def receive(self, within: float | None = None) -> p.ServerMessage:
        """The next message from the server; raises :class:`SignalingClosed` at close.

        ``within`` is a deadline for the whole wait (TimeoutError after it): aiohttp's own
        receive timeout starts again at every WebSocket ping the server sends."""
        async with asyncio.timeout(within):
            msg = await self.ws.receive()
        if msg.type is aiohttp.WSMsgType.TEXT:
            return p.decode_server(msg.data)
        if msg.type is aiohttp.WSMsgType.BINARY:
            raise msgspec.DecodeError("the server sent a binary frame")
        raise SignalingClosed(self.ws.close_code, str(msg.extra or ""))

    async def expect(self, kind: type[M], within: float = 10.0) -> M:
        """The next message, which must be a ``kind`` (an ``error`` raises SignalingRefused)."""
        message = await self.receive(within)
        if isinstance(message, kind):
            return message
        if isinstance(message, p.Error):
            raise SignalingRefused(message)
        raise TypeError(f"expected {kind.__name__}, got {message!r}")

    async def create(self, **fields: object) -> p.Created:
        """Open (or resume) a room as its host."""
        await self.send(p.Create(**fields))  # type: ignore[arg-type]
        return await self.expect(p.Created)

    async def join(self, code: str, name: str, seat_token: str | None = None) -> p.Joined:
        """Take (or resume) a seat."""
        await self.send(p.Join(code=code, name=name, seat_token=seat_token))
        return await self.expect(p.Joined)

    async def wait_closed(self, within: float = 10.0) -> int | None:
        """Read until the server closes the socket; returns the close code."""
        async with asyncio.timeout(within):
            while True:
                msg = await self.ws.receive()
                if msg.type in (
                    aiohttp.WSMsgType.CLOSE,
                    aiohttp.WSMsgType.CLOSING,
                    aiohttp.WSMsgType.CLOSED,
                    aiohttp.WSMsgType.ERROR,
                ):
                    return self.ws.close_code

    async def close(self) -> None:
        """Close the socket (and the session if this client made it)."""
        await self.ws.close()
        if self._owns_session:
            await self.session.close()

    async def __aenter__(self) -> SignalingClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
