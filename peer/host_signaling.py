"""The host's side of signaling: owns the room, answers players' offers, runs the WS relay.

Every data channel that opens, and every seat that starts relaying frames, is handed to the
:class:`~peer.host.HostSession` as one more transport. If the signaling server goes away the
game goes on over the data channels already open; this side keeps trying to get the room
back (``create`` with the room code and host token) so that new and returning players can
reach the host again.

``peer-left`` from the service says a player's signaling socket is gone. For a player on the
WS relay that is its game link: the relay ends at once, so the host marks the seat away
(SetConnected false) now rather than after the heartbeat's silence. A player whose data
channel is up is left alone: signaling may drop while the data channel lives on.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Coroutine
from typing import Any

from aiortc import RTCPeerConnection

from peer.host import HostSession
from peer.ice_choice import aiortc_servers_for
from peer.signal_client import (
    HOST_RELAY_BURST_BYTES,
    HOST_RELAY_BYTES_PER_S,
    RelayPacer,
    SignalingClient,
    SignalingError,
)
from peer.webrtc import DataChannelTransport, add_remote_candidate, make_answer, wait_open
from peer.ws_relay import WsRelayTransport
from signaling import protocol as sp
from turn.config import IceSettings, TurnPath
from turn.ice_servers import IceServer

log = logging.getLogger(__name__)


class HostSignaling:
    """The host's signaling connection for one room."""

    def __init__(
        self,
        session: HostSession | None,
        signal_url: str,
        ice: IceSettings,
        *,
        ice_timeout_s: float = 15.0,
        code: str | None = None,
        host_token: str | None = None,
        max_players: int | None = None,
        turn_prefer: TurnPath | None = None,
        udp_blocked: bool = False,
    ) -> None:
        self.session = session
        self.signal_url = signal_url
        self.ice = ice
        self.ice_timeout_s = ice_timeout_s
        self.code = code
        self.host_token = host_token
        self.max_players = max_players
        self.turn_prefer = turn_prefer  # see peer/ice_choice.py
        self.udp_blocked = udp_blocked
        self.client: SignalingClient | None = None
        self.ice_servers: list[IceServer] = []
        self.seat_tokens: dict[int, sp.SeatInfo] = {}
        self._pcs: dict[int, RTCPeerConnection] = {}
        self._relays: dict[int, WsRelayTransport] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._closing = False
        self.connected = asyncio.Event()
        # One budget for the room across reconnects, as the server counts it per room.
        self._pacer = RelayPacer(HOST_RELAY_BYTES_PER_S, HOST_RELAY_BURST_BYTES)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def open(self, within_s: float = 10.0) -> sp.Created:
        """Connect and create (or get back) the room; raises SignalingError on refusal."""
        client = await SignalingClient.connect(self.signal_url, within_s, self._pacer)
        client.send(
            sp.Create(
                code=self.code,
                host_token=self.host_token,
                max_players=self.max_players,
                seats=list(self.seat_tokens.values()),
            )
        )
        try:
            created = await client.expect(sp.Created, within_s=within_s)
        except (SignalingError, TimeoutError):
            await client.close()
            raise
        assert isinstance(created, sp.Created)
        self.client = client
        self.code, self.host_token = created.code, created.host_token
        self.ice_servers = list(created.ice_servers)
        for seat in created.seats:
            self.seat_tokens[seat.seat] = seat
        self.connected.set()
        return created

    def aiortc_servers(self) -> list[IceServer]:
        """The one STUN and one TURN server the host's aiortc uses (peer/ice_choice.py).

        Local settings win; else the full list the service handed out at ``created``.
        """
        return aiortc_servers_for(
            self.ice,
            self.ice_servers,
            f"host-{self.code}",
            prefer=self.turn_prefer,
            udp_blocked=self.udp_blocked,
            now=time.time(),
        )

    async def run(self) -> None:
        """Serve signaling until closed, reconnecting (and re-claiming the room) when it drops."""
        backoff = 0.5
        while not self._closing:
            if self.client is None:
                try:
                    await self.open()
                    backoff = 0.5
                    log.info("[%s] signaling back", self.code)
                except (SignalingError, TimeoutError, OSError) as exc:
                    log.info("[%s] signaling unavailable (%s); retrying", self.code, exc)
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, 5.0)
                    continue
            client = self.client
            assert client is not None
            await self._dispatch(client)
            self.connected.clear()
            self.client = None
            for relay in self._relays.values():
                relay._mark_closed("signaling lost")
            self._relays.clear()
            await client.close()
            if not self._closing:
                log.warning("[%s] lost signaling; the game goes on over data channels", self.code)

    async def _dispatch(self, client: SignalingClient) -> None:
        while True:
            message = await client.receive()
            if message is None:
                return
            if isinstance(message, sp.PeerJoined):
                self.seat_tokens[message.seat] = sp.SeatInfo(
                    seat=message.seat, name=message.name, seat_token=message.seat_token
                )
                # A player back on its signaling seat starts over: its old relay is dead.
                self._end_relay(message.seat, "player rejoined signaling")
            elif isinstance(message, sp.PeerLeft):
                self.on_peer_left(message.seat, message.reason)
            elif isinstance(message, sp.Offer) and message.seat is not None:
                self._spawn(self._answer(client, message.seat, message.sdp))
            elif isinstance(message, sp.Candidate) and message.seat is not None:
                pc = self._pcs.get(message.seat)
                if pc is not None:
                    self._spawn(
                        add_remote_candidate(
                            pc, message.candidate, message.sdpMid, message.sdpMLineIndex
                        )
                    )
            elif isinstance(message, sp.EndOfCandidates) and message.seat is not None:
                pc = self._pcs.get(message.seat)
                if pc is not None:
                    self._spawn(add_remote_candidate(pc, None, None, None))
            elif isinstance(message, sp.Relay) and message.seat is not None:
                self._on_relay(client, message.seat, message.data)
            elif isinstance(message, sp.RoomClosed):
                log.warning("[%s] signaling closed the room: %s", self.code, message.reason)
                return
            elif isinstance(message, sp.Error):
                log.info("[%s] signaling error %s: %s", self.code, message.code, message.message)

    def on_peer_left(self, seat: int, reason: str) -> None:
        """A player's signaling socket is gone (``reason``: disconnected, left, kicked).

        On the WS relay that was its link: end it now, so the session marks the seat away
        at once. A data channel (open, or still connecting: ICE needs no signaling after
        the answer) is not touched; the heartbeat judges it.
        """
        if seat in self._relays:
            log.info("[%s] signaling seat %d left signaling (%s): its WS relay ends",
                     self.code, seat, reason)
        self._end_relay(seat, f"player left signaling ({reason})")

    def _end_relay(self, seat: int, reason: str) -> None:
        relay = self._relays.pop(seat, None)
        if relay is not None:
            relay._mark_closed(reason)

    def _on_relay(self, client: SignalingClient, seat: int, data: str) -> None:
        relay = self._relays.get(seat)
        if relay is None or relay.closed:
            relay = WsRelayTransport(client, seat)
            self._relays[seat] = relay
            pc = self._pcs.pop(seat, None)
            if pc is not None:  # the player gave up on ICE
                self._spawn(pc.close())
            assert self.session is not None, "open() the room, then set the session"
            self._spawn(self.session.serve(relay, f"signaling seat {seat} (ws-relay)"))
        relay.deliver(data)

    async def _answer(self, client: SignalingClient, seat: int, sdp: str) -> None:
        old = self._pcs.pop(seat, None)
        if old is not None and old.connectionState != "connected":
            await old.close()
        try:
            pc, channel_future, answer = await make_answer(
                self.aiortc_servers(), self.ice.relay_only, sdp
            )
        except Exception as exc:
            log.info("[%s] bad offer from signaling seat %d: %s", self.code, seat, exc)
            return
        self._pcs[seat] = pc
        client.send(sp.Answer(seat=seat, sdp=answer))
        try:
            async with asyncio.timeout(self.ice_timeout_s):
                channel = await channel_future
                await wait_open(channel, self.ice_timeout_s)
        except TimeoutError:
            log.info("[%s] signaling seat %d: ICE did not connect", self.code, seat)
            if self._pcs.get(seat) is pc:
                del self._pcs[seat]
            await pc.close()
            return
        transport = DataChannelTransport(pc, channel)
        assert self.session is not None, "open() the room, then set the session"
        await self.session.serve(transport, f"signaling seat {seat} ({transport.path})")
        if self._pcs.get(seat) is pc:
            del self._pcs[seat]

    async def close(self) -> None:
        """Leave the room and close every pending connection."""
        self._closing = True
        if self.client is not None:
            self.client.send(sp.Leave())
            await self.client.close()
        for pc in list(self._pcs.values()):
            await pc.close()
        for task in list(self._tasks):
            task.cancel()
