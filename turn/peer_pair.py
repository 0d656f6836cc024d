"""Two aiortc peers in one process joined by a data channel: an end-to-end path check.

Used by the relay tests and benchmarks, and by `quibble doctor` to prove a path (direct,
STUN, TURN relay) really carries data, with the time it took to open and its round trip.
The offer/answer goes through memory, so only ICE decides the path.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

from aiortc import RTCConfiguration, RTCDataChannel, RTCPeerConnection

from peer.webrtc import nominated_pair

PING = b"\x00quibble-ping"


@dataclass
class PairTimings:
    """Seconds spent in each step of opening the pair."""

    offer_s: float  # offerer gathering its candidates and writing the offer
    answer_s: float  # answerer gathering and writing the answer
    connect_s: float  # answer applied -> both channels open (ICE, DTLS, SCTP)

    @property
    def total_s(self) -> float:
        """From nothing to a channel open on both sides."""
        return self.offer_s + self.answer_s + self.connect_s


@dataclass
class PeerPair:
    """Two connected peers: ``a`` made the offer (ICE controlling), ``b`` answered."""

    pc_a: RTCPeerConnection
    pc_b: RTCPeerConnection
    channel_a: RTCDataChannel
    channel_b: RTCDataChannel
    timings: PairTimings

    def path(self) -> tuple[str, str]:
        """The local and remote candidate types of a's nominated pair, e.g. ("relay", "host")."""
        return nominated_candidate_types(self.pc_a)

    async def ping(self, count: int, time_limit: float = 10.0) -> list[float]:
        """``count`` sequential round trips a -> b -> a, in seconds."""
        self.channel_b.on("message", self._echo)
        replies: asyncio.Queue[bytes] = asyncio.Queue()

        def on_reply(message: Any) -> None:
            replies.put_nowait(message)

        self.channel_a.on("message", on_reply)
        rtts: list[float] = []
        try:
            for _ in range(count):
                started = time.perf_counter()
                self.channel_a.send(PING)
                await asyncio.wait_for(replies.get(), time_limit)
                rtts.append(time.perf_counter() - started)
        finally:
            self.channel_a.remove_listener("message", on_reply)
            self.channel_b.remove_listener("message", self._echo)
        return rtts

    def _echo(self, message: Any) -> None:
        self.channel_b.send(message)

    async def close(self) -> None:
        """Close both peer connections (deleting any TURN allocations)."""
        await asyncio.gather(self.pc_a.close(), self.pc_b.close())


def nominated_candidate_types(pc: RTCPeerConnection) -> tuple[str, str]:
    """(local type, remote type) of the nominated ICE pair; ("", "") when none."""
    pair = nominated_pair(pc)
    if pair is None:
        return "", ""
    return pair.local_candidate.type, pair.remote_candidate.type


async def open_pair(
    config_a: RTCConfiguration, config_b: RTCConfiguration, time_limit: float = 30.0
) -> PeerPair:
    """Connect two peers with a data channel; TimeoutError if it is not open in time.

    Closes both peers on failure.
    """
    pc_a, pc_b = RTCPeerConnection(config_a), RTCPeerConnection(config_b)
    loop = asyncio.get_running_loop()
    opened_a: asyncio.Future[None] = loop.create_future()
    channel_b: asyncio.Future[RTCDataChannel] = loop.create_future()
    channel_a = pc_a.createDataChannel("quibble-probe", ordered=True)
    channel_a.on("open", lambda: _resolve(opened_a))

    @pc_b.on("datachannel")
    def _on_channel(channel: RTCDataChannel) -> None:
        if not channel_b.done():
            channel_b.set_result(channel)

    try:
        async with asyncio.timeout(time_limit):
            started = time.perf_counter()
            await pc_a.setLocalDescription(await pc_a.createOffer())
            offered = time.perf_counter()
            await pc_b.setRemoteDescription(pc_a.localDescription)
            await pc_b.setLocalDescription(await pc_b.createAnswer())
            answered = time.perf_counter()
            await pc_a.setRemoteDescription(pc_b.localDescription)
            channel = await channel_b
            if channel.readyState != "open":
                opened_b: asyncio.Future[None] = loop.create_future()
                channel.on("open", lambda: _resolve(opened_b))
                await opened_b
            await opened_a
            done = time.perf_counter()
    except BaseException:
        await asyncio.gather(pc_a.close(), pc_b.close(), return_exceptions=True)
        raise
    timings = PairTimings(offered - started, answered - offered, done - answered)
    return PeerPair(pc_a, pc_b, channel_a, channel, timings)


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
