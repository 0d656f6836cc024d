"""The transport interface: one bidirectional stream of text frames to one peer.

A WebRTC data channel (peer/webrtc.py) and the signaling WebSocket relay (peer/ws_relay.py)
both look like this to the host and the player, so the game never cares which one it got.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from typing import Final, Literal

Path = Literal["host", "srflx", "relay", "ws-relay", "unknown"]
Received = str | bytes

# Frames a peer may have queued before the reader catches up; beyond it the peer is
# flooding (the host reads continuously), and the transport closes rather than buffer.
DEFAULT_INBOX_FRAMES: Final = 512


class TransportClosed(ConnectionError):
    """Raised by send() on a transport that has closed."""


class Transport(ABC):
    """A reliable, ordered stream of frames to one peer, whatever carries it."""

    path: Path = "unknown"
    rtt_ms: float | None = None

    def __init__(self, inbox_frames: int = DEFAULT_INBOX_FRAMES) -> None:
        self._inbox: asyncio.Queue[Received | None] = asyncio.Queue(maxsize=inbox_frames + 1)
        self._inbox_frames = inbox_frames
        self._closed = asyncio.Event()
        self.close_reason = ""
        self.frames_in = 0
        self.frames_out = 0
        self.bytes_in = 0
        self.bytes_out = 0

    @property
    def closed(self) -> bool:
        """True once either side closed it (or it failed)."""
        return self._closed.is_set()

    async def wait_closed(self) -> None:
        """Returns when the transport has closed."""
        await self._closed.wait()

    def send(self, text: str) -> None:
        """Queue one frame for the peer; never blocks. Raises TransportClosed once closed."""
        if self.closed:
            raise TransportClosed(self.close_reason or "closed")
        self.frames_out += 1
        self.bytes_out += len(text)
        self._send(text)

    async def receive(self) -> Received | None:
        """The next frame from the peer, or None once the transport has closed."""
        if self._inbox.empty() and self.closed:
            return None
        frame = await self._inbox.get()
        if frame is None:
            self._inbox.put_nowait(None)  # keep later receive() calls returning None
        return frame

    async def close(self, reason: str = "closed") -> None:
        """Close the transport (idempotent)."""
        if self.closed:
            return
        self._mark_closed(reason)
        await self._close()

    def _deliver(self, frame: Received) -> None:
        """Called by a subclass for each frame that arrives."""
        if self.closed:
            return
        if self._inbox.qsize() >= self._inbox_frames:
            self._mark_closed("flood")
            asyncio.get_running_loop().create_task(self._close())
            return
        self.frames_in += 1
        self.bytes_in += len(frame)
        self._inbox.put_nowait(frame)

    def _mark_closed(self, reason: str) -> None:
        """Called by a subclass (or close()) when the underlying link has gone."""
        if self.closed:
            return
        self.close_reason = reason
        self._closed.set()
        try:
            self._inbox.put_nowait(None)
        except asyncio.QueueFull:
            pass

    @abstractmethod
    def _send(self, text: str) -> None:
        """Hand one frame to the underlying link."""

    @abstractmethod
    async def _close(self) -> None:
        """Tear down the underlying link."""


class MemoryTransport(Transport):
    """One end of an in-process pair, for protocol tests without a network."""

    path: Path = "host"

    def __init__(self, inbox_frames: int = DEFAULT_INBOX_FRAMES) -> None:
        super().__init__(inbox_frames)
        self.other: MemoryTransport | None = None

    def _send(self, text: str) -> None:
        if self.other is not None:
            self.other._deliver(text)

    async def _close(self) -> None:
        if self.other is not None:
            self.other._mark_closed("peer closed")


def memory_pair() -> tuple[MemoryTransport, MemoryTransport]:
    """Two connected in-memory transports."""
    a, b = MemoryTransport(), MemoryTransport()
    a.other, b.other = b, a
    return a, b
