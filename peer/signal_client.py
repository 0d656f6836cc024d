"""A signaling WebSocket client for the host and the Python player (signaling/protocol.py).

Sends never block: messages go through a queue drained by one writer task, so callers on
the game's hot path (the WS relay transport) can send from synchronous code.
"""

from __future__ import annotations

import asyncio
import logging
import time
from urllib.parse import urlsplit, urlunsplit

import aiohttp

from signaling import protocol as sp

log = logging.getLogger(__name__)

MAX_SERVER_FRAME = 2 * sp.DEFAULT_MAX_FRAME_BYTES
OUTBOX_LIMIT = 4096  # messages queued for the server; beyond it the link is hopeless
# What the host lets itself relay: under the signaling service's default per-room cap
# (signaling/settings.py: 4 MiB/s, bursts of 8 MiB), which refuses (drops) frames over it.
# Pacing here turns a burst into a short queue instead of lost frames.
HOST_RELAY_BYTES_PER_S = 3 * 1024 * 1024
HOST_RELAY_BURST_BYTES = 6 * 1024 * 1024


class RelayPacer:
    """Paces relay payload bytes to ``rate`` per second with a ``burst`` allowance."""

    def __init__(self, rate: float, burst: float) -> None:
        self.rate = rate
        self.burst = burst
        self._tokens = burst
        self._stamp = time.monotonic()

    async def spend(self, size: int) -> None:
        """Wait until ``size`` bytes fit in the budget, then spend them."""
        now = time.monotonic()
        self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now
        self._tokens -= size
        if self._tokens < 0:
            await asyncio.sleep(-self._tokens / self.rate)


class SignalingError(ConnectionError):
    """The signaling server refused us or could not be reached; ``code`` says why."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


def ws_url(signal_url: str) -> str:
    """The WebSocket URL for a signaling base URL (http://h:p, ws://h:p or .../ws)."""
    parts = urlsplit(signal_url if "://" in signal_url else f"http://{signal_url}")
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
    if scheme not in ("ws", "wss"):
        raise ValueError(f"signaling URL must be http(s):// or ws(s)://, not {signal_url!r}")
    path = parts.path.rstrip("/")
    if not path.endswith("/ws"):
        path += "/ws"
    return urlunsplit((scheme, parts.netloc, path, "", ""))


class SignalingClient:
    """One WebSocket to the signaling server."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        ws: aiohttp.ClientWebSocketResponse,
        relay_pacer: RelayPacer | None = None,
    ) -> None:
        self._session = session
        self._ws = ws
        self._pacer = relay_pacer
        self._outbox: asyncio.Queue[sp.Message | None] = asyncio.Queue()
        self._writer = asyncio.get_running_loop().create_task(self._write())

    @classmethod
    async def connect(
        cls, signal_url: str, within_s: float = 10.0, relay_pacer: RelayPacer | None = None
    ) -> SignalingClient:
        """Open the WebSocket; raises SignalingError if the server cannot be reached.

        With ``relay_pacer``, relay frames leave no faster than it allows (the host's).
        """
        session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None, connect=within_s))
        try:
            ws = await session.ws_connect(
                ws_url(signal_url), heartbeat=10.0, max_msg_size=MAX_SERVER_FRAME
            )
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            await session.close()
            raise SignalingError("unreachable", f"signaling at {signal_url}: {exc}") from None
        return cls(session, ws, relay_pacer)

    @property
    def closed(self) -> bool:
        """True once the socket has closed."""
        return self._ws.closed

    def send(self, message: sp.Message) -> None:
        """Queue one message for the server (never blocks)."""
        if self._ws.closed or self._outbox.qsize() >= OUTBOX_LIMIT:
            return
        self._outbox.put_nowait(message)

    async def _write(self) -> None:
        try:
            while True:
                message = await self._outbox.get()
                if message is None or self._ws.closed:
                    return
                if self._pacer is not None and isinstance(message, sp.Relay):
                    await self._pacer.spend(len(message.data.encode("utf-8", "replace")))
                await self._ws.send_str(sp.encode(message))
        except (ConnectionError, aiohttp.ClientError, RuntimeError) as exc:
            log.info("signaling socket write failed: %s", exc)

    async def receive(self) -> sp.ServerMessage | None:
        """The next message from the server, or None when the socket has closed."""
        while True:
            msg = await self._ws.receive()
            if msg.type == aiohttp.WSMsgType.TEXT:
                try:
                    return sp.decode_server(msg.data)
                except Exception as exc:  # a newer server's message: skip, do not die
                    log.info("ignored a signaling message: %s", exc)
                    continue
            if msg.type in (aiohttp.WSMsgType.BINARY, aiohttp.WSMsgType.PING,
                            aiohttp.WSMsgType.PONG):
                continue
            return None

    async def expect(self, *types: type[sp.Message], within_s: float) -> sp.ServerMessage:
        """Wait for one of ``types``; an ``error`` or a closed socket raises SignalingError."""
        async with asyncio.timeout(within_s):
            while True:
                message = await self.receive()
                if message is None:
                    raise SignalingError("closed", "the signaling server closed the connection")
                if isinstance(message, types):
                    return message
                if isinstance(message, sp.Error):
                    raise SignalingError(message.code, message.message)
                if isinstance(message, sp.RoomClosed):
                    raise SignalingError("room_closed", message.reason)

    async def close(self) -> None:
        """Close the socket and its HTTP session."""
        self._outbox.put_nowait(None)
        try:
            await asyncio.wait_for(asyncio.shield(self._writer), 1.0)
        except (TimeoutError, asyncio.CancelledError):
            self._writer.cancel()
        await self._ws.close()
        await self._session.close()
