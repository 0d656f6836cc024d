"""`quibble doctor --room CODE`: the real path to a running host, the way a player gets it.

The probe joins the room on the signaling service, makes the same WebRTC offer a Python
player makes, and once the data channel opens reads the path ICE nominated and times a few
game-protocol pings (the host answers pings before any hello). It never says hello or
watch, so it takes no seat and no spectator slot; it says bye and leaves the room at once.
If no data channel opens in time, a player would fall back to the signaling WebSocket
relay, and the report says so.

The peer and signaling modules are imported inside the function: `quibble --help` stays fast.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from dataclasses import dataclass
from typing import Any

from turn.config import IceSettings, TurnPath, select_for_aiortc

PROBE_NAME = "doctor"
PINGS = 3


@dataclass(frozen=True)
class RoomResult:
    """What the probe found: ok with the path and RTT, or failed with why."""

    ok: bool
    path: str | None = None
    rtt_ms: float | None = None
    open_ms: float | None = None
    error: str | None = None


async def probe_room(
    signal_url: str,
    code: str,
    settings: IceSettings,
    *,
    time_limit: float,
    prefer: TurnPath | None = None,
    udp_blocked: bool = False,
) -> RoomResult:
    """Connect to the host of room ``code`` like a player would; never raises on failure.

    The one STUN and one TURN URL the probe's aiortc peer uses are chosen from what the
    doctor found (``prefer``: the TURN transport that works; ``udp_blocked``: leave UDP
    servers out), from the local settings or else from the list the service hands out.
    """
    from peer.signal_client import SignalingClient, SignalingError
    from peer.webrtc import DataChannelTransport, accept_answer, make_offer, wait_open
    from signaling import protocol as sp

    client = None
    pc = None
    try:
        client = await SignalingClient.connect(signal_url, within_s=time_limit)
        client.send(sp.Join(code=code, name=PROBE_NAME))
        joined = await client.expect(sp.Joined, within_s=time_limit)
        assert isinstance(joined, sp.Joined)
        if settings.is_empty:  # what the service hands players, cut down on purpose
            servers = select_for_aiortc(
                joined.ice_servers, prefer=prefer, udp_blocked=udp_blocked,
                relay_only=settings.relay_only,
            )
        else:
            servers = settings.aiortc_servers(
                PROBE_NAME, time.time(), prefer=prefer, udp_blocked=udp_blocked
            )
        started = time.perf_counter()
        pc, channel, offer = await make_offer(servers, settings.relay_only)
        client.send(sp.Offer(sdp=offer))
        answer = await client.expect(sp.Answer, within_s=time_limit)
        assert isinstance(answer, sp.Answer)
        await accept_answer(pc, answer.sdp)
        try:
            await wait_open(channel, 2 * time_limit)
        except TimeoutError:
            return RoomResult(
                ok=False,
                error=f"no WebRTC data channel to the host within {2 * time_limit:g} s: "
                "a player here would fall back to the slow WebSocket relay",
            )
        open_ms = (time.perf_counter() - started) * 1000
        path = DataChannelTransport(pc, channel).path
        rtt = await _ping_host(channel, time_limit)
        return RoomResult(ok=True, path=path, rtt_ms=rtt, open_ms=open_ms)
    except SignalingError as exc:
        return RoomResult(ok=False, error=f"signaling: {exc.code}: {exc.message}")
    except TimeoutError:
        return RoomResult(ok=False, error=f"the host did not answer within {time_limit:g} s")
    except (OSError, ValueError) as exc:
        return RoomResult(ok=False, error=f"{type(exc).__name__}: {exc}")
    finally:
        if pc is not None:
            await pc.close()
        if client is not None:
            client.send(sp.Leave())
            await client.close()


async def _ping_host(channel: Any, time_limit: float) -> float | None:
    from peer import protocol as p

    loop = asyncio.get_running_loop()
    pongs: asyncio.Queue[int] = asyncio.Queue()

    def on_message(message: object) -> None:
        try:
            frame = p.decode_host_frame(message)  # type: ignore[arg-type]
        except p.FrameError:
            return
        if isinstance(frame, p.Pong):
            pongs.put_nowait(frame.id)

    channel.on("message", on_message)
    samples: list[float] = []
    try:
        for ping_id in range(1, PINGS + 1):
            sent = time.perf_counter()
            ping = p.Ping(id=ping_id, sent_ms=int(loop.time() * 1000))
            channel.send(p.encode(ping).decode())
            async with asyncio.timeout(time_limit):
                while await pongs.get() != ping_id:
                    pass
            samples.append((time.perf_counter() - sent) * 1000)
        channel.send(p.encode(p.Bye(reason="doctor-done")).decode())
    except TimeoutError:
        pass
    finally:
        channel.remove_listener("message", on_message)
    return statistics.median(samples) if samples else None
