"""WebRTC data-channel transport (aiortc): peer connections, the path actually in use.

One RTCPeerConnection per player with ONE ordered, reliable data channel. The player makes
the offer (with every candidate gathered: aiortc does not trickle); the host answers. A
browser may trickle candidates instead, including mDNS ``.local`` ones, which aioice resolves
with its own 1 s timeout: each is added in its own task so none stalls the others.

aiortc reports no candidate pair for a data-channel-only connection, so :func:`nominated_path`
reads aioice's nominated pair to tell host / srflx / relay apart.

aiortc gathers every candidate before it hands out an SDP, and aioice waits up to 5 s for a
STUN or TURN server that does not answer. :func:`bound_gathering` caps that wait, so a silent
server costs a LAN join at most ``gather_within_s`` (host candidates need no server at all).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from aiortc import RTCDataChannel, RTCPeerConnection, RTCSessionDescription
from aiortc.sdp import candidate_from_sdp

from peer.transport import Path, Transport
from turn.address_scope import scope_of
from turn.config import to_rtc_configuration
from turn.ice_servers import IceServer

log = logging.getLogger(__name__)

CHANNEL_LABEL = "quibble"
# How long gathering may wait for STUN/TURN answers (aioice: 5 s). A STUN server answers in
# one round trip and a TURN allocation in a few, well under this on any usable network.
DEFAULT_GATHER_S = 2.0


def is_lan_address(address: str | None) -> bool:
    """Whether ``address`` is a private or link-local IP address (turn.address_scope)."""
    try:
        return scope_of(address or "") in ("private", "link_local")
    except ValueError:
        return False


def classify_pair(local_type: str, remote_type: str, remote_address: str | None = None) -> Path:
    """The path of a candidate pair: relay if either end relays, srflx if either is mapped.

    A browser hides its host candidates behind mDNS ``.local`` names, so on a LAN the host
    learns the browser's real address only from its checks, as a peer-reflexive candidate: a
    LAN address there, against our own host candidate, is a direct path, not a NAT mapping.
    """
    types = {local_type, remote_type}
    if "relay" in types:
        return "relay"
    if "srflx" in types:
        return "srflx"
    if "prflx" in types:
        if local_type == "host" and remote_type == "prflx" and is_lan_address(remote_address):
            return "host"
        return "srflx"
    if types == {"host"}:
        return "host"
    return "unknown"


def nominated_pair(pc: RTCPeerConnection) -> Any | None:
    """aioice's nominated candidate pair of a connected peer connection, or None.

    aiortc reports no candidate pair for data-channel-only connections, so this reads
    aioice's own state.
    """
    try:
        sctp: Any = pc.sctp
        pairs = list(sctp.transport.transport._connection._nominated.values())
    except AttributeError:
        return None
    return pairs[0] if pairs else None


def nominated_path(pc: RTCPeerConnection) -> Path:
    """The path of the nominated ICE pair of a connected peer connection ("unknown" if none)."""
    pair = nominated_pair(pc)
    if pair is None:
        return "unknown"
    remote = pair.remote_candidate
    return classify_pair(pair.local_candidate.type, remote.type, getattr(remote, "host", None))


class DataChannelTransport(Transport):
    """A :class:`Transport` over one open RTCDataChannel, owning its peer connection."""

    def __init__(self, pc: RTCPeerConnection, channel: RTCDataChannel) -> None:
        super().__init__()
        self.pc = pc
        self.channel = channel
        self._path: Path | None = None
        channel.on("message", self._deliver)
        channel.on("close", lambda: self._mark_closed("channel closed"))

        @pc.on("connectionstatechange")
        def _on_state() -> None:
            if pc.connectionState in ("failed", "closed"):
                self._mark_closed(f"connection {pc.connectionState}")

    @property
    def path(self) -> Path:  # type: ignore[override]
        """host/srflx/relay from the nominated pair, found once the connection is up."""
        if self._path is None or self._path == "unknown":
            self._path = nominated_path(self.pc)
        return self._path

    def _send(self, text: str) -> None:
        try:
            self.channel.send(text)
        except Exception as exc:  # InvalidStateError, or the SCTP association gone
            self._mark_closed(f"send failed: {exc}")

    async def _close(self) -> None:
        try:
            self.channel.close()
        finally:
            await self.pc.close()


def parse_candidate(candidate: str, sdp_mid: str | None, sdp_mline_index: int | None) -> Any:
    """A trickled browser candidate ("candidate:..." line) as an aiortc RTCIceCandidate.

    Raises ValueError on anything malformed (aiortc's parser asserts, which we do not trust).
    """
    text = candidate.strip()
    if text.startswith("a="):
        text = text[2:]
    if text.startswith("candidate:"):
        text = text[len("candidate:") :]
    try:
        parsed = candidate_from_sdp(text)
    except Exception as exc:
        raise ValueError(f"bad ICE candidate: {exc!r}") from None
    parsed.sdpMid = sdp_mid
    parsed.sdpMLineIndex = sdp_mline_index if sdp_mline_index is not None else 0
    return parsed


async def add_remote_candidate(
    pc: RTCPeerConnection, candidate: str | None, sdp_mid: str | None, sdp_mline_index: int | None
) -> None:
    """Add one trickled candidate (None = end of candidates); bad ones are logged, not fatal."""
    try:
        if candidate is None or candidate == "":
            await pc.addIceCandidate(None)
        else:
            await pc.addIceCandidate(parse_candidate(candidate, sdp_mid, sdp_mline_index))
    except Exception as exc:  # a browser's odd candidate must never hurt the host
        log.info("ignored a remote ICE candidate: %s", exc)


def bound_gathering(pc: RTCPeerConnection, within_s: float) -> bool:
    """Make ``pc``'s candidate gathering wait at most ``within_s`` for STUN/TURN answers.

    Call it once its SCTP transport exists (after createDataChannel, or after the remote
    offer) and before setLocalDescription. Candidates that arrive in time are kept; a
    server that has not answered by then is given up on. Returns False, changing nothing,
    if aiortc's internals are not where aiortc 1.x keeps them.
    """
    try:
        sctp: Any = pc.sctp
        connection: Any = sctp.transport.transport.iceGatherer._connection
        original = connection.get_component_candidates
    except AttributeError:
        log.warning("cannot bound ICE gathering on this aiortc version")
        return False
    limit = max(0.1, within_s)

    async def get_component_candidates(
        component: int, addresses: list[str], timeout: float = 5  # noqa: ASYNC109 (aioice's)
    ) -> Any:
        return await original(
            component=component, addresses=addresses, timeout=min(timeout, limit)
        )

    connection.get_component_candidates = get_component_candidates
    return True


def new_offerer(
    ice_servers: Sequence[IceServer],
    relay_only: bool,
    gather_within_s: float = DEFAULT_GATHER_S,
) -> tuple[RTCPeerConnection, RTCDataChannel]:
    """Player side: a peer connection and its (ordered, reliable) game data channel.

    Gathering for its offer waits at most ``gather_within_s`` for STUN/TURN servers.
    """
    pc = RTCPeerConnection(to_rtc_configuration(ice_servers, relay_only))
    channel = pc.createDataChannel(CHANNEL_LABEL, ordered=True)
    bound_gathering(pc, gather_within_s)
    return pc, channel


async def local_offer(pc: RTCPeerConnection) -> str:
    """The offer SDP of ``pc``, every candidate gathered (up to 5 s with a silent server)."""
    offer = await pc.createOffer()
    await pc.setLocalDescription(offer)
    return str(pc.localDescription.sdp)


async def make_offer(
    ice_servers: Sequence[IceServer], relay_only: bool
) -> tuple[RTCPeerConnection, RTCDataChannel, str]:
    """Player side: a peer connection, its data channel, and the offer SDP (fully gathered)."""
    pc, channel = new_offerer(ice_servers, relay_only)
    return pc, channel, await local_offer(pc)


async def accept_answer(pc: RTCPeerConnection, sdp: str) -> None:
    """Player side: apply the host's answer."""
    await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="answer"))


async def make_answer(
    ice_servers: Sequence[IceServer],
    relay_only: bool,
    offer_sdp: str,
    gather_within_s: float = DEFAULT_GATHER_S,
) -> tuple[RTCPeerConnection, asyncio.Future[RTCDataChannel], str]:
    """Host side: a peer connection for one player's offer, the channel to come, the answer.

    Gathering for the answer waits at most ``gather_within_s`` for STUN/TURN servers.
    """
    pc = RTCPeerConnection(to_rtc_configuration(ice_servers, relay_only))
    channel_future: asyncio.Future[RTCDataChannel] = asyncio.get_running_loop().create_future()

    @pc.on("datachannel")
    def _on_channel(channel: RTCDataChannel) -> None:
        if not channel_future.done():
            channel_future.set_result(channel)

    try:
        await pc.setRemoteDescription(RTCSessionDescription(sdp=offer_sdp, type="offer"))
        bound_gathering(pc, gather_within_s)  # the SCTP transport exists from here on
        answer = await pc.createAnswer()
        await pc.setLocalDescription(answer)
    except Exception:
        await pc.close()
        raise
    return pc, channel_future, pc.localDescription.sdp


async def wait_open(channel: RTCDataChannel, within_s: float) -> None:
    """Wait for a data channel to open; raises TimeoutError after ``within_s`` seconds."""
    if channel.readyState == "open":
        return
    opened: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def _open() -> None:
        if not opened.done():
            opened.set_result(None)

    channel.on("open", _open)
    try:
        await asyncio.wait_for(opened, within_s)
    finally:
        channel.remove_listener("open", _open)
