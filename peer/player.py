"""The Python player: reaches the host through signaling, plays over whatever path it gets.

Ladder: a WebRTC data channel (host / srflx / relay candidates, as ICE finds them); if it has
not opened within ``ice_timeout_s``, the signaling WebSocket relay. If the link dies mid-game
(heartbeat silence, a closed channel, a restarted host) the player reconnects with its seat
tokens and gets its seat and view back. A bot (game.bots) or a human decides the actions.

Reaching signaling again is retried with backoff for ``reconnect_for_s``: a refused
connection (a node that died behind a load balancer that has not noticed yet), ``error
unavailable`` (the service lost its Redis for a moment), a missing room (the host is
restarting). The first join fails fast on a wrong code or a full room, and retries only the
refusals that say "try again" (``unavailable``, ``rate_limited``, ``internal``), briefly.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import msgspec

from game import Bot, PlayerView
from game.actions import Action, Ready
from peer import exit_codes
from peer import protocol as p
from peer.ice_choice import aiortc_servers_for
from peer.signal_client import SignalingClient, SignalingError
from peer.transport import Path, Transport, TransportClosed
from peer.view_delta import DeltaError, ViewTracker
from peer.webrtc import (
    DEFAULT_GATHER_S,
    DataChannelTransport,
    accept_answer,
    local_offer,
    new_offerer,
    wait_open,
)
from peer.ws_relay import WsRelayTransport
from signaling import protocol as sp
from turn.config import IceSettings, TurnPath
from turn.ice_servers import IceServer

log = logging.getLogger(__name__)

# Refusals that say "nothing is wrong with your request, try again": retried even on the
# first join, for PlayerOptions.unavailable_retry_s.
_TRY_AGAIN = frozenset({"unavailable", "rate_limited", "internal"})
# What a reconnect also rides out, for PlayerOptions.reconnect_for_s: signaling unreachable
# or dropping us (a dead node), the room gone for a moment (the host restarting).
_TRANSIENT_ON_RECONNECT = frozenset(
    {"unreachable", "closed", "room_not_found", "room_closed", "handshake_timeout"}
)


@dataclass(frozen=True)
class PlayerOptions:
    """How a player connects."""

    signal_url: str
    code: str
    name: str
    ice: IceSettings = field(default_factory=IceSettings)
    force_relay: bool = False  # skip WebRTC: straight to the WS relay (tests, bench)
    ice_timeout_s: float = 6.0
    ping_interval_s: float = 2.0  # the host answers; at 100 players every packet counts
    dead_after_s: float = 5.0
    reconnect_for_s: float = 60.0  # keep trying to get back this long after a drop
    # The first join retries "try again" refusals (error unavailable: Redis blipped) this long.
    unavailable_retry_s: float = 10.0
    signaling_timeout_s: float = 10.0
    bot_delay_s: float = 0.0  # a bot "thinks" this long before acting, like a person
    # ...plus up to this much more, drawn afresh each time, so a table of bots does not act
    # in lockstep the instant a phase opens (people don't: bench/host.py --think).
    bot_delay_jitter_s: float = 0.0
    # Which one TURN URL aiortc gets (see peer/ice_choice.py): e.g. what `quibble doctor`
    # found works, and whether to leave UDP servers out (UDP blocked here).
    turn_prefer: TurnPath | None = None
    udp_blocked: bool = False
    packed: bool = True  # ask the host to DEFLATE its larger messages (peer/protocol.py)


class PlayerSeat(msgspec.Struct, kw_only=True):
    """What a player keeps to get its seat back (a browser keeps it in localStorage)."""

    code: str
    name: str
    seat: int | None = None
    seat_token: str | None = None  # the host's game seat token
    signal_seat_token: str | None = None  # the signaling server's seat token


class PlayerFailure(Exception):
    """The player cannot go on; ``exit_code`` is what `quibble join` exits with."""

    def __init__(self, exit_code: int, reason: str) -> None:
        super().__init__(reason)
        self.exit_code = exit_code
        self.reason = reason


@dataclass
class PlayerStats:
    """What the player measured (for --json and bench/host.py)."""

    join_ms: float | None = None  # start to first view
    action_to_view_ms: list[float] = field(default_factory=list)
    rtt_ms: float | None = None
    bytes_in: int = 0
    frames_in: int = 0
    views: int = 0
    rejections: int = 0
    reconnects: int = 0
    resyncs: int = 0  # full views asked for after a lost frame
    join_attempts: int = 0  # signaling joins tried (first join and reconnects)
    ice_ms: float | None = None  # the last WebRTC attempt: gathering to channel open


class Player:
    """One player's whole game. ``run()`` returns when the game is over (or raises)."""

    def __init__(
        self,
        options: PlayerOptions,
        bot: Bot | None = None,
        seat: PlayerSeat | None = None,
        on_view: Callable[[PlayerView], None] | None = None,
        on_seat: Callable[[PlayerSeat], None] | None = None,
        on_connected: Callable[[Path], None] | None = None,
    ) -> None:
        self.options = options
        self.bot = bot
        self.seat = seat or PlayerSeat(code=options.code, name=options.name)
        self.on_view = on_view
        self.on_seat = on_seat
        self.on_connected = on_connected
        self.view: PlayerView | None = None
        self.path: Path = "unknown"
        self.paths: list[Path] = []
        self.stats = PlayerStats()
        self.rejections: list[p.Rejected] = []
        self._transport: Transport | None = None
        self._client: SignalingClient | None = None
        self._ref = 0
        self._pending_sent: float | None = None
        self._started = time.monotonic()
        self.welcomed = asyncio.Event()
        self._bot_timer: asyncio.TimerHandle | None = None
        self._think = random.Random(options.name)  # thinking times, repeatable per name
        self._resync = False
        self._views = ViewTracker()
        self._resyncing = False

    # ---- connecting ----------------------------------------------------------------------

    async def _join_signaling(self, retry_for: float) -> tuple[SignalingClient, sp.Joined]:
        """Join the room, riding out transient refusals with backoff.

        ``retry_for`` is how long a reconnect keeps trying (0 on the first join, which fails
        fast on a wrong code or a full room); "try again" refusals are retried for at least
        ``unavailable_retry_s``. The last error is raised once its window has passed.
        """
        started = time.monotonic()
        reconnect_until = started + retry_for
        try_again_until = started + max(retry_for, self.options.unavailable_retry_s)
        delay = 0.25
        while True:
            self.stats.join_attempts += 1
            error: Exception
            try:
                return await self._join_once()
            except SignalingError as exc:
                if exc.code == "bad_token" and self.seat.signal_seat_token is not None:
                    # The signaling server forgot us (it restarted): join as new, and the
                    # host's own seat token in hello still gets our game seat back.
                    self.seat.signal_seat_token = None
                    continue
                error = exc
                if exc.code in _TRY_AGAIN:
                    until = try_again_until
                elif exc.code in _TRANSIENT_ON_RECONNECT:
                    until = reconnect_until
                else:
                    raise
            except TimeoutError as exc:
                error, until = exc, reconnect_until
            left = until - time.monotonic()
            if left <= 0:
                raise error
            # Jitter, so that players dropped together do not come back in lockstep.
            pause = min(delay * random.uniform(0.5, 1.0), left)
            log.info("[%s] %s: joining failed (%s); retrying in %.2f s (%.1f s left)",
                     self.seat.code, self.seat.name, str(error) or type(error).__name__,
                     pause, left)
            await asyncio.sleep(pause)
            delay = min(delay * 2, 2.0)

    async def _join_once(self) -> tuple[SignalingClient, sp.Joined]:
        """One signaling connection and join; raises SignalingError or TimeoutError."""
        client = await SignalingClient.connect(
            self.options.signal_url, self.options.signaling_timeout_s
        )
        client.send(
            sp.Join(
                code=self.seat.code,
                name=self.seat.name,
                seat_token=self.seat.signal_seat_token,
            )
        )
        try:
            joined = await client.expect(sp.Joined, within_s=self.options.signaling_timeout_s)
        except BaseException:
            await client.close()
            raise
        assert isinstance(joined, sp.Joined)
        return client, joined

    def ice_servers(self, handed_out: Sequence[IceServer]) -> list[IceServer]:
        """The one STUN and one TURN server this player's aiortc uses (peer/ice_choice.py).

        Local settings win; else ``handed_out``, the signaling service's full list.
        """
        return aiortc_servers_for(
            self.options.ice,
            handed_out,
            f"player-{self.seat.name}",
            prefer=self.options.turn_prefer,
            udp_blocked=self.options.udp_blocked,
        )

    async def _connect(self, retry_for: float) -> Transport:
        client, joined = await self._join_signaling(retry_for)
        if self._client is not None:
            await self._client.close()
        self._client = client
        self.seat.signal_seat_token = joined.seat_token
        self._save_seat()
        servers = self.ice_servers(joined.ice_servers)
        relay_only = self.options.ice.relay_only
        answer: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        relay = WsRelayTransport(client, None)
        pump = asyncio.get_running_loop().create_task(self._pump_signaling(client, answer, relay))
        transport: Transport
        if self.options.force_relay:
            transport = relay
        else:
            # One bound for the whole attempt, gathering included: aiortc gathers every
            # candidate before the offer, and a STUN/TURN server that does not answer holds
            # that up 5 s; a LAN join must not wait longer than the bound for it. Gathering
            # gets at most a third of the bound, so that checks have the rest.
            gather_s = min(DEFAULT_GATHER_S, self.options.ice_timeout_s / 3)
            pc, channel = new_offerer(servers, relay_only, gather_s)
            attempt_started = time.monotonic()
            try:
                async with asyncio.timeout(self.options.ice_timeout_s):
                    client.send(sp.Offer(sdp=await local_offer(pc)))
                    await accept_answer(pc, await answer)
                    await wait_open(channel, self.options.ice_timeout_s)
                transport = DataChannelTransport(pc, channel)
                self.stats.ice_ms = (time.monotonic() - attempt_started) * 1000
            except TimeoutError:
                log.info("[%s] ICE did not connect in %.1f s: using the WS relay",
                         self.seat.code, self.options.ice_timeout_s)
                await pc.close()
                transport = relay
        self._pump = pump
        return transport

    async def _pump_signaling(
        self, client: SignalingClient, answer: asyncio.Future[str], relay: WsRelayTransport
    ) -> None:
        while True:
            message = await client.receive()
            if message is None:
                relay._mark_closed("signaling closed")
                return
            if isinstance(message, sp.Answer) and not answer.done():
                answer.set_result(message.sdp)
            elif isinstance(message, sp.Relay):
                relay.deliver(message.data)
            elif isinstance(message, sp.RoomClosed):
                relay._mark_closed(f"room closed: {message.reason}")
            elif isinstance(message, sp.Error):
                log.info("[%s] signaling: %s %s", self.seat.code, message.code, message.message)

    def _save_seat(self) -> None:
        if self.on_seat is not None:
            self.on_seat(self.seat)

    # ---- playing -------------------------------------------------------------------------

    async def run(self) -> PlayerView:
        """Play to the end of the game; returns the final view. Raises PlayerFailure."""
        first = True
        while True:
            retry_for = 0.0 if first else self.options.reconnect_for_s
            gave_up = "" if first else f"gave up reconnecting after {retry_for:g} s: "
            try:
                transport = await self._connect(retry_for)
            except SignalingError as exc:
                raise PlayerFailure(_exit_for_signaling(exc.code), f"{gave_up}{exc}") from None
            except (TimeoutError, OSError) as exc:
                raise PlayerFailure(
                    exit_codes.CONNECTION_FAILED, f"{gave_up}no path to host: {exc!r}"
                ) from None
            if not first:
                self.stats.reconnects += 1
            first = False
            self._transport = transport
            self.path = transport.path
            self.paths.append(self.path)
            log.info("[%s] %s connected via %s", self.seat.code, self.seat.name, self.path)
            if self.on_connected is not None:
                self.on_connected(self.path)
            try:
                final = await self.play_over(transport)
            finally:
                await transport.close("leaving")
            if final is not None:
                if self._client is not None:
                    self._client.send(sp.Leave())
                    await self._client.close()
                return final
            log.info("[%s] link lost (%s): reconnecting", self.seat.code, transport.close_reason)

    async def play_over(self, transport: Transport) -> PlayerView | None:
        """Play over one transport; the final view at game over, None if the link died.

        `run()` uses it for each connection; an in-process bot (`quibble host --bots`) calls
        it directly with one end of a memory pair.
        """
        self._transport = transport
        self.path = transport.path
        hello = p.Hello(
            version=p.PROTOCOL_VERSION,
            name=self.seat.name,
            seat=self.seat.seat,
            seat_token=self.seat.seat_token,
            path=self.path,
            packed=self.options.packed,
        )
        self._send(transport, hello)
        self._resyncing = False  # a new connection starts with a full view
        reassembler = p.Reassembler(p.MAX_CHUNKS_FROM_HOST)
        heartbeat = asyncio.get_running_loop().create_task(self._heartbeat(transport))
        self._last_heard = time.monotonic()
        try:
            while True:
                raw = await transport.receive()
                if raw is None:
                    return None
                self._last_heard = time.monotonic()
                self.stats.frames_in += 1
                self.stats.bytes_in += len(raw)
                try:
                    frame = p.read_host_frame(raw, reassembler)
                    if frame is None:
                        continue
                except p.FrameError as exc:
                    log.warning("[%s] bad frame from host: %s", self.seat.code, exc)
                    continue
                final = self._on_frame(transport, frame)
                if final is not None:
                    return final
        finally:
            heartbeat.cancel()

    def _on_frame(self, transport: Transport, frame: p.HostFrame) -> PlayerView | None:
        if isinstance(frame, (p.ViewFrame, p.ViewDelta)):
            if isinstance(frame, p.ViewDelta) and self._resyncing:
                return None  # deltas on a view we do not hold; a full one is on its way
            try:
                view = self._views.follow(frame)
            except DeltaError as exc:
                log.warning("[%s] lost a view frame (%s): asking for a full view",
                            self.seat.code, exc)
                self.stats.resyncs += 1
                self._resyncing = True
                self._send(transport, p.Resync())
                return None
            self._resyncing = False
            return self._on_view(transport, view)
        if isinstance(frame, p.Welcome):
            self._resync = self.seat.seat is not None
            self.seat.seat = frame.seat
            self.seat.seat_token = frame.seat_token
            self._save_seat()
            self.welcomed.set()
        elif isinstance(frame, p.Ping):
            self._send(transport, p.Pong(id=frame.id, sent_ms=frame.sent_ms))
        elif isinstance(frame, p.Pong):
            rtt = time.monotonic() * 1000 - frame.sent_ms
            if rtt >= 0:
                self.stats.rtt_ms = round(rtt, 2)
                transport.rtt_ms = rtt
        elif isinstance(frame, p.Rejected):
            self.stats.rejections += 1
            self.rejections.append(frame)
            log.info("[%s] rejected: %s %s", self.seat.code, frame.code, frame.message)
        elif isinstance(frame, p.Bye):
            raise PlayerFailure(_exit_for_bye(frame.reason), f"{frame.reason}: {frame.message}")
        return None

    def _on_view(self, transport: Transport, view: PlayerView) -> PlayerView | None:
        now = time.monotonic()
        if self.stats.join_ms is None:
            self.stats.join_ms = (now - self._started) * 1000
        if self._pending_sent is not None:
            self.stats.action_to_view_ms.append((now - self._pending_sent) * 1000)
            self._pending_sent = None
        self.stats.views += 1
        self.view = view
        if self.on_view is not None:
            self.on_view(view)
        if view.phase == "over":
            self._send(transport, p.Bye(reason="game_over"))
            return view
        if self.bot is not None:
            self._bot_turn()
        return None

    def _bot_turn(self) -> None:
        delay = self.options.bot_delay_s
        if self.options.bot_delay_jitter_s > 0:
            delay += self._think.uniform(0.0, self.options.bot_delay_jitter_s)
        if delay <= 0:
            self._bot_decide()
        elif self._bot_timer is None:
            self._bot_timer = asyncio.get_running_loop().call_later(delay, self._bot_decide)

    def _bot_decide(self) -> None:
        self._bot_timer = None
        view = self.view
        if self.bot is None or view is None:
            return
        actions = self.bot.decide(view)
        if self._resync and not actions and not view.ready and view.phase not in ("lobby", "over"):
            # Back after a drop: the bot acted in this phase already, but its Ready may have
            # died with the old link (or a crashed host), so say it again.
            actions = [Ready(seat=view.seat)]
        self._resync = False
        self.act(actions)

    def act(self, actions: list[Action]) -> None:
        """Send actions to the host (dropped silently if the link is down right now)."""
        transport = self._transport
        if transport is None:
            return
        for action in actions:
            self._ref = (self._ref + 1) % 2**31
            if self._pending_sent is None:
                self._pending_sent = time.monotonic()
            self._send(transport, p.ActionFrame(action=action, ref=self._ref))

    def _send(self, transport: Transport, frame: p.Frame) -> None:
        try:
            for text in p.to_frames(p.encode(frame), self._ref):
                transport.send(text)
        except TransportClosed:
            pass

    async def _heartbeat(self, transport: Transport) -> None:
        ping_id = 0
        while not transport.closed:
            await asyncio.sleep(self.options.ping_interval_s)
            if time.monotonic() - self._last_heard > self.options.dead_after_s:
                await transport.close("heartbeat timeout")
                return
            ping_id += 1
            rtt = self.stats.rtt_ms  # reported, so the host need not ping us as well
            self._send(
                transport,
                p.Ping(id=ping_id, sent_ms=int(time.monotonic() * 1000), rtt_ms=rtt),
            )

    async def close(self) -> None:
        """Drop everything (used when giving up)."""
        if self._transport is not None:
            await self._transport.close("closing")
        if self._client is not None:
            await self._client.close()


def _exit_for_signaling(code: str) -> int:
    return {
        "room_not_found": exit_codes.ROOM_NOT_FOUND,
        "room_full": exit_codes.ROOM_FULL,
        "kicked": exit_codes.KICKED,
        "room_closed": exit_codes.HOST_GONE,
    }.get(code, exit_codes.CONNECTION_FAILED)


def _exit_for_bye(reason: str) -> int:
    return {
        "room_full": exit_codes.ROOM_FULL,
        "flood": exit_codes.KICKED,
        "bad_frames": exit_codes.KICKED,
        "host_closing": exit_codes.HOST_GONE,
        "replaced": exit_codes.KICKED,
    }.get(reason, exit_codes.CONNECTION_FAILED)
