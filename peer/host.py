"""The host session: the one authority of a game, serving every player over any transport.

It admits players (hello -> AddPlayer -> welcome with a seat token), validates every frame
(size, rate, schema, seat), applies actions through ``game.apply``, journals each accepted
one, and sends each player only its own ``view_for``. Views go out on a short tick, never per
action: all actions accepted within a tick share one journal commit (group commit), and a
player gets a view (a delta) only if it changed: on the next tick if it acted or the phase
moved on, else at most once per ``public_interval_s()`` (coalescing who-got-ready updates;
longer at a big table). Those who acted get theirs first; a broadcast reaches the rest a
slice at a time (a new phase at once, others' changes spread over the interval), so the
actions arriving meanwhile are answered between slices.
Phase deadlines become ``Timeout`` actions; a player whose heartbeat stops is marked
disconnected (it passes) and may come back with its seat token for as long as the game lasts.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from game import GameState, PlayerView, PublicView, apply, public_view, view_for
from game.actions import HOST_ONLY, Action, AddPlayer, SetConnected, StartGame, Timeout
from game.engine import phase_key
from peer import protocol as p
from peer.journal import Journal, SeatRecord, state_digest
from peer.transport import Path, Transport, TransportClosed
from peer.view_delta import FieldDiffs, diff_views
from signaling.limits import TokenBucket

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class HostOptions:
    """Knobs of a host session (defaults suit a LAN party)."""

    tick_s: float = 0.010  # views and journal commits go out at most once per tick
    # Changes a player did not cause (someone else got ready) reach it at most this often;
    # its own action's effect and a new phase go out on the next tick.
    public_interval_s: float = 0.100
    # ...and less often at a big table: such updates stay under this many frames a second
    # in all (100 players: every 0.5 s). Each is a packet the host encrypts and the player
    # acknowledges; at 10 a second for 100 players they took a third of the host's CPU and
    # delayed the views players wait for (docs/PERFORMANCE.md).
    public_frames_per_s: float = 200.0
    # A broadcast reaches the players who did not act this many at a time (a new phase: a
    # slice per loop turn; others' changes: slices spread over the public interval), so
    # actions that arrive meanwhile are answered between slices: sending 100 players their
    # views at once is ~30 ms of SCTP/DTLS work in one turn, and an action waited it out.
    fanout_slice: int = 10
    ping_interval_s: float = 1.0
    dead_after_s: float = 5.0  # no frame at all for this long: the player is gone
    hello_timeout_s: float = 10.0
    max_players: int = 100
    autostart: int | None = None  # start the game once this many players are seated
    frame_rate: float = 20.0  # frames per second a player may send, sustained...
    frame_burst: float = 60.0  # ...and in a burst
    flood_limit: int = 200  # frames over the rate before the player is dropped
    bad_frame_limit: int = 50  # malformed or refused frames before the player is dropped
    max_spectators: int = 16  # boards (public view only) watching at once
    view_deltas: bool = True  # False: a full view on every change (bench/host.py compares)


@dataclass
class SeatLink:
    """One seated player and its current connection (None while away)."""

    seat: int
    name: str
    token: str
    transport: Transport | None = None
    path: Path = "unknown"
    rtt_ms: float | None = None
    last_view: PlayerView | None = None
    bytes_sent: int = 0
    frames_sent: int = 0
    views_sent: int = 0
    connections: int = 0
    packed: bool = False  # its current connection reads packed frames


@dataclass
class _Conn:
    """Per-connection bookkeeping (a seat may have several over time)."""

    transport: Transport
    label: str
    bucket: TokenBucket
    reassembler: p.Reassembler = field(
        default_factory=lambda: p.Reassembler(p.MAX_CHUNKS_FROM_PLAYER)
    )
    link: SeatLink | None = None
    last_heard: float = 0.0
    over_rate: int = 0
    bad_frames: int = 0
    ping_id: int = 0
    peer_pinged: float = -1e9  # when the player last pinged us (then we need not ping it)
    watching: bool = False  # a spectator (the board): public view only, no seat
    last_public: PublicView | None = None
    public_sent: int = 0


def _who(conn: _Conn) -> str:
    """A connection as logs name it: the player, once seated."""
    if conn.link is None:
        return conn.label
    return f"{conn.link.name} (seat {conn.link.seat}, {conn.label})"


class HostSession:
    """One hosted game. Create it, ``start()`` it, hand it transports with ``serve()``."""

    def __init__(
        self,
        state: GameState,
        room: str,
        *,
        journal: Journal | None = None,
        seats: list[SeatRecord] | None = None,
        options: HostOptions | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.state = state
        self.room = room
        self.journal = journal
        self.options = options or HostOptions()
        self._clock = clock
        self.links: dict[int, SeatLink] = {}
        self._by_token: dict[str, SeatLink] = {}
        for record in seats or []:
            self._add_link(SeatLink(record.seat, record.name, record.token))
        self.over = asyncio.Event()
        self._changed = asyncio.Event()
        self.listeners: list[Callable[[], None]] = []
        self.spectators: dict[int, _Conn] = {}  # by id(conn): boards sent the public view
        self.accepted_actions = journal.action_count() if journal else 0
        self._dirty = False
        self._flush_handle: asyncio.TimerHandle | None = None
        self._last_flush = 0.0
        # Seats with an accepted action since the last tick -> when the first one arrived.
        self._acted: dict[int, float] = {}
        self._resync: set[int] = set()  # seats that asked for a full view
        self._diff_cache: FieldDiffs = {}  # one tick's field diffs, shared by all players
        # Host-side latency: an action frame read -> that player's view handed to its transport.
        self.action_to_view_ms: deque[float] = deque(maxlen=10_000)
        self._broadcast_key: tuple[int, str] | None = None
        self._last_broadcast = 0.0
        self._broadcast_handle: asyncio.TimerHandle | None = None
        self._broadcast_owed = False
        self._fanout: deque[int] = deque()  # seats a broadcast has yet to reach
        self._fanout_handle: asyncio.Handle | None = None
        self._fanout_gap = 0.0  # seconds between its slices (0: one a loop turn)
        self._timer: asyncio.TimerHandle | None = None
        self._timer_key: tuple[int, str] | None = None
        self._deadline: float | None = None
        self._chunk_id = 0
        self._received = 0.0  # loop time the frame being handled was read
        self._tasks: set[asyncio.Task[None]] = set()
        self._digest: str | None = None
        # The state as of the last journal commit: what a resumed host would rebuild.
        self.committed_state = state
        self.committed_actions = self.accepted_actions

    # ---- lifecycle -----------------------------------------------------------------------

    def start(self) -> None:
        """Begin timing phases (a resumed game restarts the current phase's full duration)."""
        # A resumed game: every seat starts away and reconnects with its token.
        for link in self.links.values():
            self._apply_system(SetConnected(seat=link.seat, connected=False))
        self._schedule_timeout()
        self._mark_dirty()

    async def close(self, reason: str = "host closing") -> None:
        """Say goodbye to every player and stop."""
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self._flush()
        if self._broadcast_handle is not None:
            self._broadcast_handle.cancel()
        if self._fanout_handle is not None:
            self._fanout_handle.cancel()
            self._fanout_step(everyone=True)  # the last views before the goodbyes
        if self._timer is not None:
            self._timer.cancel()
        for link in self.links.values():
            if link.transport is not None:
                self._send(link.transport, p.Bye(reason="host_closing", message=reason), link)
                await link.transport.close(reason)
        for task in list(self._tasks):
            task.cancel()
        if self.journal is not None:
            self.journal.commit()

    @property
    def digest(self) -> str:
        """Fingerprint of the current state (cached until the next accepted action)."""
        if self._digest is None:
            self._digest = state_digest(self.state)
        return self._digest

    @property
    def deadline_in_s(self) -> float | None:
        """Seconds left in the current phase, or None when it has no deadline."""
        if self._deadline is None:
            return None
        return max(0.0, self._deadline - self._clock())

    # ---- applying actions ----------------------------------------------------------------

    def _commit_action(self, action: Action, actor: int | None, new_state: GameState) -> None:
        self.state = new_state
        self._digest = None
        self.accepted_actions += 1
        if self.journal is not None:
            self.journal.append(action, actor)
        self._mark_dirty()

    def _apply_system(self, action: Action) -> bool:
        """Apply a host action; False (and nothing changes) if the engine refuses it."""
        result = apply(self.state, action, None)
        if result.rejection is not None:
            log.debug("[%s] host action %r refused: %s", self.room, action, result.rejection.code)
            return False
        self._commit_action(action, None, result.state)
        return True

    def start_game(self) -> bool:
        """The host starts the game (Enter in its terminal); False if the engine refuses."""
        return self._apply_system(StartGame())

    def _maybe_autostart(self) -> None:
        n = self.options.autostart
        if n is not None and self.state.phase == "lobby" and len(self.state.players) >= n:
            if self._apply_system(StartGame()):
                log.info("[%s] autostart with %d players", self.room, len(self.state.players))

    # ---- ticking: journal commit, then views -------------------------------------------

    def _mark_dirty(self) -> None:
        self._dirty = True
        if self._flush_handle is None:
            loop = asyncio.get_running_loop()
            delay = max(0.0, self._last_flush + self.options.tick_s - loop.time())
            self._flush_handle = loop.call_later(delay, self._flush)

    def _commit_journal(self) -> None:
        """Make every accepted action durable; only then may anyone see its effect."""
        if self.journal is not None:
            self.journal.commit()
        self.committed_state, self.committed_actions = self.state, self.accepted_actions

    def _flush(self) -> None:
        loop = asyncio.get_running_loop()
        self._flush_handle = None
        now = self._last_flush = loop.time()
        if not self._dirty:
            return
        self._dirty = False
        self._diff_cache.clear()
        self._commit_journal()
        self._schedule_timeout()
        # Coalescing: with 100 players, a burst of Ready clicks would otherwise send every
        # player a delta on every tick. Those who acted (or asked for a full view) get theirs
        # now; everyone else (and the boards) on a new phase or once per public interval.
        due_now = [*self._acted, *(self._resync - self._acted.keys())]
        for seat in due_now:
            link = self.links.get(seat)
            if link is not None and link.transport is not None:
                self._send_view(link)
                self._note_latency(seat)
        key = phase_key(self.state)
        interval = self.public_interval_s()
        if key != self._broadcast_key or self._broadcast_owed or (
            now - self._last_broadcast >= interval
        ):
            new_phase = key != self._broadcast_key
            self._broadcast_key, self._last_broadcast, self._broadcast_owed = key, now, False
            if self._broadcast_handle is not None:
                self._broadcast_handle.cancel()
                self._broadcast_handle = None
            # Everyone else in slices: a new phase from the next loop turn on, one slice a
            # turn; other players' changes spread over the interval, so they never land as
            # one burst of 100 frames that the actions arriving meanwhile must wait out, here
            # and at the players.
            served = set(due_now)
            self._fanout = deque(seat for seat in self.links if seat not in served)
            slices = -(-len(self._fanout) // self.options.fanout_slice)
            self._fanout_gap = 0.0 if new_phase else interval / max(1, slices)
            if self._fanout_handle is not None:
                self._fanout_handle.cancel()
            self._fanout_handle = loop.call_soon(self._fanout_step)
            for spectator in list(self.spectators.values()):
                self._send_public(spectator)
        elif self._broadcast_handle is None:
            delay = max(0.0, self._last_broadcast + interval - now)
            self._broadcast_handle = loop.call_later(delay, self._broadcast_due)
        self._acted.clear()
        self._resync.clear()
        self._diff_cache.clear()  # keyed by ids: never across ticks
        if self.state.phase == "over" and not self.over.is_set():
            log.info("[%s] game over: winners %s", self.room, list(self.state.winners))
            self.over.set()
        for listener in self.listeners:
            listener()
        self._changed.set()
        self._changed = asyncio.Event()

    def _fanout_step(self, everyone: bool = False) -> None:
        """Send the next slice of a broadcast (of the state committed by now)."""
        self._fanout_handle = None
        cache: FieldDiffs = {}  # for this slice only: a diff cache must not outlive its views
        count = len(self._fanout) if everyone else min(self.options.fanout_slice, len(self._fanout))
        for _ in range(count):
            link = self.links.get(self._fanout.popleft())
            if link is not None and link.transport is not None:
                self._send_view(link, cache=cache)
        if self._fanout:
            loop = asyncio.get_running_loop()
            self._fanout_handle = (
                loop.call_later(self._fanout_gap, self._fanout_step)
                if self._fanout_gap > 0
                else loop.call_soon(self._fanout_step)
            )

    def public_interval_s(self) -> float:
        """How long others' changes may wait to reach a player, at this table's size."""
        connected = sum(1 for link in self.links.values() if link.transport is not None)
        watching = len(self.spectators)
        budget = (connected + watching) / self.options.public_frames_per_s
        return max(self.options.public_interval_s, budget)

    def _note_latency(self, seat: int) -> None:
        acted = self._acted.get(seat)
        if acted is not None:
            self.action_to_view_ms.append((asyncio.get_running_loop().time() - acted) * 1000)

    def _broadcast_due(self) -> None:
        self._broadcast_handle = None
        self._broadcast_owed = True
        self._mark_dirty()

    def _send_public(self, conn: _Conn, force: bool = False) -> None:
        """A spectator's frame: the public view only, when it changed."""
        view = public_view(self.state)
        if not force and view == conn.last_public:
            return
        conn.last_public = view
        left = self.deadline_in_s
        frame = p.PublicViewFrame(
            view=view, seq=conn.public_sent, deadline_ms=None if left is None else int(left * 1000)
        )
        conn.public_sent += 1
        self._send(conn.transport, frame)

    def _watch(self, conn: _Conn, frame: p.Watch) -> None:
        if conn.link is not None or conn.watching:
            self._bad_frame(conn, "already_welcomed", "watch after hello or watch", None)
            return
        if frame.version != p.PROTOCOL_VERSION:
            self._refuse(conn, "bad_version", f"this host speaks version {p.PROTOCOL_VERSION}")
            self._spawn_close(conn.transport, "refused")
            return
        if len(self.spectators) >= self.options.max_spectators:
            self._refuse(conn, "too_many_spectators", "this game has enough boards already")
            self._spawn_close(conn.transport, "refused")
            return
        conn.watching = True
        self.spectators[id(conn)] = conn
        log.info("[%s] a board is watching (%s)", self.room, conn.label)
        self._send_public(conn, force=True)

    def _send_view(
        self, link: SeatLink, force: bool = False, cache: FieldDiffs | None = None
    ) -> None:
        # The committed state: a view must never show an action the journal could lose.
        view = view_for(self.committed_state, link.seat)
        previous = link.last_view
        if not force and view == previous:
            return
        link.last_view = view
        left = self.deadline_in_s
        deadline_ms = None if left is None else int(left * 1000)
        seq = link.views_sent
        link.views_sent += 1
        frame: p.Frame
        if force or previous is None or not self.options.view_deltas:
            frame = p.ViewFrame(view=view, seq=seq, deadline_ms=deadline_ms)
        else:
            whole, items = diff_views(previous, view, self._diff_cache if cache is None else cache)
            frame = p.ViewDelta(
                seq=seq, base=seq - 1, set=whole, items=items, deadline_ms=deadline_ms
            )
        if link.transport is not None:
            self._send(link.transport, frame, link)

    def _send(self, transport: Transport, frame: p.Frame, link: SeatLink | None = None) -> None:
        message = p.encode(frame)
        if link is not None and link.packed and len(message) >= p.PACK_MIN_BYTES:
            message = p.pack(message)
        self._chunk_id += 1
        try:
            for text in p.to_frames(message, self._chunk_id):
                transport.send(text)
                if link is not None:
                    link.bytes_sent += len(text)
                    link.frames_sent += 1
        except TransportClosed:
            pass

    def _schedule_timeout(self) -> None:
        key = phase_key(self.state)
        if key == self._timer_key:
            return
        self._timer_key = key
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        seconds = self.state.phase_seconds
        if seconds <= 0:
            self._deadline = None
            return
        self._deadline = self._clock() + seconds
        self._timer = asyncio.get_running_loop().call_later(seconds, self._on_timeout, key)

    def _on_timeout(self, key: tuple[int, str]) -> None:
        self._timer = None
        round_no, phase = key
        self._apply_system(Timeout(round=round_no, phase=phase))  # type: ignore[arg-type]

    # ---- seats ---------------------------------------------------------------------------

    def _add_link(self, link: SeatLink) -> None:
        self.links[link.seat] = link
        self._by_token[link.token] = link

    def _next_seat(self) -> int:
        return max(self.links, default=-1) + 1

    def _admit(self, conn: _Conn, hello: p.Hello) -> SeatLink | None:
        """The seat this hello gets (reclaimed or new), or None after telling it why not."""
        if hello.version != p.PROTOCOL_VERSION:
            self._refuse(conn, "bad_version", f"this host speaks version {p.PROTOCOL_VERSION}")
            return None
        if hello.seat_token is not None:
            link = self._by_token.get(hello.seat_token)
            if link is None or (hello.seat is not None and hello.seat != link.seat):
                self._refuse(conn, "bad_token", "unknown seat token for this game")
                return None
            return link
        if len(self.links) >= self.options.max_players:
            self._refuse(conn, "room_full", f"the game has {self.options.max_players} players")
            return None
        seat = self._next_seat()
        action = AddPlayer(seat=seat, name=hello.name)
        result = apply(self.state, action, None)
        if result.rejection is not None:
            self._refuse(conn, result.rejection.code, result.rejection.message)
            return None
        link = SeatLink(seat, hello.name, secrets.token_urlsafe(18))
        self._add_link(link)
        if self.journal is not None:
            self.journal.add_seat(SeatRecord(seat, link.token, link.name))
        self._commit_action(action, None, result.state)
        return link

    def _refuse(self, conn: _Conn, code: str, message: str) -> None:
        log.info("[%s] refused %s: %s (%s)", self.room, conn.label, code, message)
        self._send(conn.transport, p.Bye(reason=code, message=message[:400]))

    def _attach(self, conn: _Conn, link: SeatLink, path: Path, packed: bool) -> None:
        old = link.transport
        if old is not None and old is not conn.transport:
            self._send(old, p.Bye(reason="replaced", message="this seat connected again"))
            self._spawn_close(old, "replaced")
        conn.link = link
        link.transport = conn.transport
        link.connections += 1
        transport_path = conn.transport.path
        link.path = transport_path if transport_path != "unknown" else path
        link.last_view = None
        link.packed = packed
        self._apply_system(SetConnected(seat=link.seat, connected=True))
        self._maybe_autostart()
        # The seat token, and every action behind the view below, durable before they leave.
        self._commit_journal()
        self._send(
            conn.transport,
            p.Welcome(
                version=p.PROTOCOL_VERSION, seat=link.seat, seat_token=link.token, room=self.room
            ),
            link,
        )
        self._send_view(link, force=True)
        log.info(
            "[%s] %s (seat %d) connected via %s (%s)",
            self.room, link.name, link.seat, link.path, conn.label,
        )

    def _detach(self, conn: _Conn) -> None:
        link = conn.link
        if link is None or link.transport is not conn.transport:
            return
        link.transport = None
        self._apply_system(SetConnected(seat=link.seat, connected=False))
        self._mark_dirty()  # status and waiters see the seat go, even if the engine did not
        log.info(
            "[%s] %s (seat %d) disconnected: %s",
            self.room, link.name, link.seat, conn.transport.close_reason,
        )

    # ---- one connection ------------------------------------------------------------------

    async def serve(self, transport: Transport, label: str) -> None:
        """Serve one player connection until it closes (never raises for the peer's bytes)."""
        conn = _Conn(
            transport=transport,
            label=label,
            bucket=TokenBucket(self.options.frame_rate, self.options.frame_burst, self._clock),
            last_heard=self._clock(),
        )
        heartbeat = asyncio.get_running_loop().create_task(self._heartbeat(conn))
        try:
            async with asyncio.timeout(self.options.hello_timeout_s) as hello_deadline:
                while conn.link is None and not conn.watching:
                    frame = await transport.receive()
                    if frame is None:
                        return
                    self._on_frame(conn, frame)
                    if transport.closed:
                        return
                hello_deadline.reschedule(None)
            while True:
                frame = await transport.receive()
                if frame is None:
                    break
                self._on_frame(conn, frame)
        except TimeoutError:
            self._refuse(conn, "hello_timeout", "no hello in time")
        except Exception:
            log.exception("[%s] error serving %s; dropping it", self.room, label)
        finally:
            heartbeat.cancel()
            self.spectators.pop(id(conn), None)
            self._detach(conn)
            await transport.close("done")

    async def _heartbeat(self, conn: _Conn) -> None:
        interval = self.options.ping_interval_s
        while not conn.transport.closed:
            await asyncio.sleep(interval)
            silent = self._clock() - conn.last_heard
            if silent > self.options.dead_after_s:
                log.info("[%s] %s silent for %.1f s: dropping", self.room, _who(conn), silent)
                await conn.transport.close("heartbeat timeout")
                return
            if self._clock() - conn.peer_pinged < self.options.dead_after_s / 2:
                # The player pings us and reports its RTT: our pings would only double the
                # heartbeat traffic (at 100 players, thousands of SCTP packets a minute).
                continue
            conn.ping_id = (conn.ping_id + 1) % 2**31
            self._send(
                conn.transport,
                p.Ping(id=conn.ping_id, sent_ms=int(self._clock() * 1000)),
                conn.link,
            )

    def _on_frame(self, conn: _Conn, raw: str | bytes) -> None:
        conn.last_heard = self._clock()
        self._received = asyncio.get_running_loop().time()
        if not conn.bucket.take():
            conn.over_rate += 1
            if conn.over_rate > self.options.flood_limit:
                self._drop(conn, "flood", "too many frames")
            return
        try:
            frame = p.decode_player_frame(raw)
            if isinstance(frame, p.Chunk):
                message = conn.reassembler.add(frame)
                if message is None:
                    return
                frame = p.decode_player_message(message)
        except p.FrameError as exc:
            self._bad_frame(conn, exc.code, exc.message, None)
            return
        self._on_message(conn, frame)

    def _bad_frame(self, conn: _Conn, code: str, message: str, ref: int | None) -> None:
        conn.bad_frames += 1
        if conn.bad_frames > self.options.bad_frame_limit:
            self._drop(conn, "bad_frames", "too many bad frames")
            return
        self._send(conn.transport, p.Rejected(code=code, message=message[:400], ref=ref), conn.link)

    def _drop(self, conn: _Conn, reason: str, message: str) -> None:
        if conn.transport.closed:
            return
        log.warning("[%s] dropping %s: %s", self.room, _who(conn), message)
        self._send(conn.transport, p.Bye(reason=reason, message=message), conn.link)
        self._spawn_close(conn.transport, reason)

    def _spawn_close(self, transport: Transport, reason: str) -> None:
        task = asyncio.get_running_loop().create_task(transport.close(reason))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _on_message(self, conn: _Conn, frame: p.PlayerFrame) -> None:
        if isinstance(frame, p.Ping):
            self._send(conn.transport, p.Pong(id=frame.id, sent_ms=frame.sent_ms), conn.link)
            conn.peer_pinged = self._clock()
            if frame.rtt_ms is not None:
                self._note_rtt(conn, frame.rtt_ms)
            return
        if isinstance(frame, p.Pong):
            rtt = self._clock() * 1000 - frame.sent_ms
            if 0 <= rtt < 600_000:
                self._note_rtt(conn, rtt)
            return
        if isinstance(frame, p.Bye):
            log.info("[%s] %s said bye: %s", self.room, _who(conn), frame.reason)
            self._spawn_close(conn.transport, "bye")
            return
        if isinstance(frame, p.Watch):
            self._watch(conn, frame)
            return
        if isinstance(frame, p.Hello):
            if conn.link is not None or conn.watching:
                self._bad_frame(conn, "already_welcomed", "hello after welcome", None)
                return
            link = self._admit(conn, frame)
            if link is None:
                self._spawn_close(conn.transport, "refused")
                return
            self._attach(conn, link, frame.path, frame.packed)
            return
        if isinstance(frame, p.ActionFrame):
            self._on_action(conn, frame)
            return
        if isinstance(frame, p.Resync):
            link = conn.link
            if link is None or link.transport is not conn.transport:
                self._bad_frame(conn, "hello_first", "resync before welcome", None)
                return
            # A full view on the next tick (not now: it may show actions not yet committed).
            link.last_view = None
            self._resync.add(link.seat)
            self._mark_dirty()
            return
        self._bad_frame(conn, "unexpected", f"{type(frame).__name__} is not for the host", None)

    def _note_rtt(self, conn: _Conn, rtt_ms: float) -> None:
        conn.transport.rtt_ms = rtt_ms
        if conn.link is not None and conn.link.transport is conn.transport:
            conn.link.rtt_ms = round(rtt_ms, 2)

    def _on_action(self, conn: _Conn, frame: p.ActionFrame) -> None:
        received = self._received
        link = conn.link
        if link is None:
            self._bad_frame(conn, "hello_first", "send hello first", frame.ref)
            return
        if link.transport is not conn.transport:
            return  # a replaced connection: its actions no longer count
        action = frame.action
        if isinstance(action, HOST_ONLY):
            self._bad_frame(conn, "host_only", f"{type(action).__name__} is the host's", frame.ref)
            return
        seat = getattr(action, "seat", link.seat)
        if seat != link.seat:
            self._bad_frame(conn, "wrong_seat", f"you are seat {link.seat}", frame.ref)
            return
        result = apply(self.state, action, link.seat)
        if result.rejection is not None:
            # The engine's refusals are honest mistakes (late, out of phase): not held against.
            self._send(
                conn.transport,
                p.Rejected(
                    code=result.rejection.code[:48],
                    message=result.rejection.message[:400],
                    ref=frame.ref,
                ),
                link,
            )
            return
        self._commit_action(action, link.seat, result.state)
        self._acted.setdefault(link.seat, received)

    # ---- what the status file shows ------------------------------------------------------

    def players_status(self) -> list[dict[str, object]]:
        """Each seat: name, seat, path, rtt_ms, connected, bytes and views sent."""
        return [
            {
                "name": link.name,
                "seat": link.seat,
                "path": link.path,
                "rtt_ms": link.rtt_ms,
                "connected": link.transport is not None,
                "bytes_sent": link.bytes_sent,
                "views_sent": link.views_sent,
                "connections": link.connections,
            }
            for link in self.links.values()
        ]

    async def wait_until(self, predicate: Callable[[], bool]) -> None:
        """Return once ``predicate()`` holds, re-checking after every tick (add a timeout)."""
        while not predicate():
            await self._changed.wait()

    def watch(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call ``listener`` after every tick that changed something; returns an unsubscribe."""
        self.listeners.append(listener)
        return lambda: self.listeners.remove(listener)


__all__ = ["HostOptions", "HostSession", "SeatLink"]
