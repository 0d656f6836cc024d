"""End-to-end path checks for `quibble doctor`: a real aiortc data channel, its path and RTT.

Two local peers (turn/peer_pair.py) meet through the path under test: with no ICE servers
they meet over their host candidates (the LAN path); relay-only through a TURN server they
meet through the relay (the path a player behind a symmetric NAT gets). The
server-reflexive path cannot be checked this way from one machine (it would need the NAT to
hairpin, which many do not), so the doctor predicts it from the NAT behaviour.

aiortc is imported inside the function: `quibble --help` stays fast.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass

from turn.ice_servers import IceServer

PING_COUNT = 5


@dataclass(frozen=True)
class ChannelResult:
    """The outcome of one end-to-end data-channel check."""

    ok: bool
    path: str | None  # e.g. "relay-relay": the local and remote candidate types nominated
    rtt_ms: float | None  # median round trip of small messages over the open channel
    open_ms: float | None  # from creating the offer to the channel open on both sides
    error: str | None = None


async def check_local_pair(
    ice_servers: Sequence[IceServer], *, relay_only: bool, time_limit: float
) -> ChannelResult:
    """Open a data channel between two local aiortc peers with ``ice_servers``; report it.

    Never raises for a failed connection: the result says what went wrong.
    """
    from turn.config import to_rtc_configuration
    from turn.peer_pair import open_pair

    started = time.perf_counter()
    try:
        pair = await open_pair(
            to_rtc_configuration(ice_servers, relay_only),
            to_rtc_configuration(ice_servers, relay_only),
            time_limit=time_limit,
        )
    except TimeoutError:
        return ChannelResult(
            ok=False, path=None, rtt_ms=None, open_ms=None,
            error=f"no data channel opened within {time_limit:g} s",
        )
    except Exception as exc:  # aiortc raises many kinds; the report must name it, not crash
        return ChannelResult(
            ok=False, path=None, rtt_ms=None, open_ms=None, error=f"{type(exc).__name__}: {exc}"
        )
    open_ms = (time.perf_counter() - started) * 1000
    try:
        local, remote = pair.path()
        rtts = await pair.ping(PING_COUNT, time_limit=time_limit)
        return ChannelResult(
            ok=True,
            path=f"{local}-{remote}",
            rtt_ms=statistics.median(rtts) * 1000,
            open_ms=open_ms,
        )
    except TimeoutError:
        return ChannelResult(
            ok=False, path=None, rtt_ms=None, open_ms=open_ms,
            error="the channel opened but a ping got no answer",
        )
    finally:
        await pair.close()
