"""The signaling logic, apart from aiohttp: handshake, routing, rooms' lives, limits.

:class:`SignalingService` takes decoded frames from :class:`Client` objects (one per
WebSocket) and answers through each client's :class:`~signaling.routing.Outbox`. Durable room
facts go to a :class:`~signaling.rooms.RoomStore`, delivery to a
:class:`~signaling.routing.Router`, the create/join/guess and relay budgets to limiters; a
:class:`~signaling.backend.Backend` supplies all of them (in memory, or shared in Redis so
that several nodes serve the same rooms).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import msgspec

from signaling import protocol as p
from signaling.backend import Backend, BackendUnavailable, InMemoryBackend
from signaling.limits import Clock, KeyedBuckets, TokenBucket
from signaling.metrics import SignalingMetrics
from signaling.relay import RelayCap
from signaling.rooms import (
    HOST_SEAT,
    RoomFullError,
    RoomStore,
    SeatRecord,
    clean_name,
    is_room_code,
    new_token,
)
from signaling.routing import Outbox, Router
from signaling.settings import SignalingSettings
from turn.ice_servers import IceServer

log = logging.getLogger("quibble.signaling")

IceProvider = Callable[[str], list[IceServer]]
WS_POLICY_VIOLATION = 1008


def no_ice_servers(client_id: str) -> list[IceServer]:
    """The LAN default: no STUN or TURN at all (so nothing waits on an unreachable server)."""
    return []


@dataclass(eq=False)
class Client:
    """One WebSocket's state: who it is (after create/join) and its budgets."""

    ip: str
    outbox: Outbox
    bucket: TokenBucket
    id: str = field(default_factory=lambda: "c" + secrets.token_hex(4))
    role: Literal["host", "player"] | None = None
    code: str = ""
    seat: int = -1
    name: str = ""
    strikes: int = 0

    def label(self) -> str:
        """How logs name this client: its room and seat, or its address before that."""
        if self.role == "host":
            return f"room {self.code} host"
        if self.role == "player":
            return f"room {self.code} seat {self.seat} ({self.name})"
        return f"client {self.id} from {self.ip}"


@dataclass
class _LiveRoom:
    """What this process tracks about an open room besides the store's record."""

    last_activity: float
    grace: asyncio.TimerHandle | None = None


def _refuse(code: p.ErrorCode, message: str) -> p.ProtocolError:
    return p.ProtocolError(code, message)


class SignalingService:
    """Rooms by code, routing between a room's host and players, and every limit."""

    def __init__(
        self,
        settings: SignalingSettings,
        *,
        ice_provider: IceProvider | None = None,
        store: RoomStore | None = None,
        router: Router | None = None,
        backend: Backend | None = None,
        metrics: SignalingMetrics | None = None,
        clock: Clock = time.monotonic,
    ) -> None:
        s = settings
        self.settings = s
        self.ice_provider: IceProvider = ice_provider or no_ice_servers
        self.backend: Backend = backend or InMemoryBackend(store, router, clock)
        self.store: RoomStore = self.backend.store
        self.router: Router = self.backend.router
        self.metrics = metrics or SignalingMetrics()
        self.metrics.backend, self.metrics.node = self.backend.name, self.backend.node_id
        self._clock = clock
        self.clients: set[Client] = set()
        self._sockets_per_ip: dict[str, int] = {}
        self._rooms: dict[str, _LiveRoom] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._shutting_down = False
        ips = s.max_tracked_ips
        limiter = self.backend.limiter
        # Shared across nodes (with Redis): a guesser must not get a budget per node.
        self._creates = limiter("create", s.create_rate, s.create_burst, ips)
        self._joins = limiter("join", s.join_rate, s.join_burst, ips)
        self._guesses = limiter("guess", s.join_failure_rate, s.join_failure_burst, ips)
        self._relay = RelayCap(
            limiter("relay", s.relay_bytes_per_second, s.relay_burst_bytes, s.max_rooms)
        )
        # Per node: protects this node's loop; a shared count would cost a round trip a frame.
        self._ip_messages = KeyedBuckets(s.ip_message_rate, s.ip_message_burst, ips, clock)

    async def start(self) -> None:
        """Connect the backend; raises BackendUnavailable when it cannot be reached."""
        await self.backend.start(self.metrics, self.peer_lost)

    async def peer_lost(self, code: str, seat: int) -> None:
        """A client's node died (the backend found out): act as if its socket had closed."""
        if seat == HOST_SEAT:
            if code not in self._rooms:
                self._rooms[code] = _LiveRoom(self._clock())
                self.metrics.rooms = len(self._rooms)
            await self._host_away(code)
        else:
            log.info("room %s seat %d: its node is gone", code, seat)
            await self._to_host(code, p.PeerLeft(seat=seat, reason="disconnected"))

    # ---- connections ------------------------------------------------------------------

    def refusal(self, ip: str) -> str | None:
        """Why a new socket from ``ip`` must be refused right now, or None to accept it."""
        if len(self.clients) >= self.settings.max_clients:
            return "max_clients"
        if self._sockets_per_ip.get(ip, 0) >= self.settings.max_sockets_per_ip:
            return "max_sockets_per_ip"
        return None

    def connect(self, ip: str, outbox: Outbox) -> Client:
        """Register a new socket (before its handshake)."""
        s = self.settings
        client = Client(ip, outbox, TokenBucket(s.player_message_rate, s.player_message_burst))
        self.clients.add(client)
        self._sockets_per_ip[ip] = self._sockets_per_ip.get(ip, 0) + 1
        self.metrics.clients = len(self.clients)
        return client

    async def disconnect(self, client: Client) -> None:
        """The socket is gone: tell the other side of the room, start the host grace."""
        if client not in self.clients:
            return
        self.clients.discard(client)
        left = self._sockets_per_ip.get(client.ip, 1) - 1
        if left:
            self._sockets_per_ip[client.ip] = left
        else:
            self._sockets_per_ip.pop(client.ip, None)
        self.metrics.clients = len(self.clients)
        if self._shutting_down and self.backend.name != "memory":
            return  # other nodes take this node's clients over (see close_all)
        if client.role == "player":
            if await self.router.detach(client.code, client.seat, client.outbox):
                log.info("%s disconnected", client.label())
                await self._to_host(
                    client.code, p.PeerLeft(seat=client.seat, reason="disconnected")
                )
        elif client.role == "host":
            if await self.router.detach(client.code, HOST_SEAT, client.outbox):
                await self._host_away(client.code)

    def handshake_timed_out(self, client: Client) -> None:
        """The socket sent no create/join in time: say so and close it."""
        self._reject(client, p.ProtocolError("handshake_timeout", "send create or join first"))
        log.info("%s: no create/join within %gs", client.label(), self.settings.handshake_timeout)
        client.outbox.close(WS_POLICY_VIOLATION)

    def refuse_frame(self, client: Client, error: p.ProtocolError) -> None:
        """Answer a frame the transport refused before decoding (binary, too large)."""
        self._reject(client, error)

    # ---- frames -----------------------------------------------------------------------

    async def handle_frame(self, client: Client, frame: str | bytes) -> None:
        """One frame from a client: rate-check, decode, act, or answer a typed error."""
        if client.outbox.closing:
            return  # closed by the server (kicked, replaced, room over): nothing more counts
        if not self._within_rate(client):
            return
        try:
            message = p.decode_client(frame, self.settings.max_frame_bytes)
        except p.ProtocolError as error:
            self._reject(client, error)
            return
        tag = p.tag_of(message)
        self.metrics.messages[tag] += 1
        try:
            await self._dispatch(client, message)
        except p.ProtocolError as error:
            error.about = error.about or tag
            self._reject(client, error)
        except BackendUnavailable as exc:
            # Nothing was changed (or the change is retried whole): the client may retry.
            log.warning("%s: %s refused, backend unavailable: %s", client.label(), tag, exc)
            self._reject(
                client, p.ProtocolError("unavailable", "rooms are unreachable; retry soon", tag)
            )
        except Exception:
            # A bug here must cost one message, not the socket or anyone else's room.
            log.exception("%s: failed handling %s", client.label(), tag)
            self._reject(client, p.ProtocolError("internal", "server error; try again", tag))

    def _within_rate(self, client: Client) -> bool:
        if self._ip_messages.take(client.ip) and client.bucket.take():
            return True
        client.strikes += 1
        self.metrics.rejected["rate_limited"] += 1
        if client.strikes >= self.settings.flood_strikes:
            log.warning("%s: flooding; closing its socket", client.label())
            self.metrics.rejected["flood_closed"] += 1
            client.outbox.close(WS_POLICY_VIOLATION, "flood")
        else:
            client.outbox.send(p.encode(p.Error(code="rate_limited", message="slow down")))
        return False

    def _reject(self, client: Client, error: p.ProtocolError) -> None:
        self.metrics.rejected[error.code] += 1
        log.debug("%s: refused %s: %s %s", client.label(), error.about, error.code, error.message)
        client.outbox.send(
            p.encode(p.Error(code=error.code, message=error.message, about=error.about))
        )

    async def _dispatch(self, client: Client, message: p.ClientMessage) -> None:
        if isinstance(message, p.Ping):
            if client.role is not None:
                self._touch(client.code)  # a ping keeps a quiet room from idling out
            client.outbox.send(p.encode(p.Pong(id=message.id)))
        elif isinstance(message, p.Create | p.Join):
            if client.role is not None:
                raise _refuse("already_in_room", f"this socket is already in room {client.code}")
            if message.version > p.PROTOCOL_VERSION:
                raise _refuse(
                    "unsupported_version", f"this server speaks version {p.PROTOCOL_VERSION}"
                )
            if isinstance(message, p.Create):
                await self._create(client, message)
            else:
                await self._join(client, message)
        elif client.role is None:
            raise _refuse("not_in_room", "send create or join first")
        elif isinstance(message, p.Leave):
            await self._leave(client)
        elif isinstance(message, p.Kick):
            await self._kick(client, message)
        else:
            await self._route(client, message)

    # ---- handshake --------------------------------------------------------------------

    async def _guess_failed(self, ip: str) -> None:
        await self._guesses.take(ip)

    def _ice_for(self, client_id: str) -> list[IceServer]:
        try:
            return list(self.ice_provider(client_id))[: p.MAX_ICE_SERVERS]
        except Exception:
            log.exception("the ICE provider failed for %s; sending no ICE servers", client_id)
            return []

    async def _create(self, client: Client, message: p.Create) -> None:
        s = self.settings
        if not await self._creates.take(client.ip):
            raise _refuse("rate_limited", "too many rooms created from this address")
        if (message.code is None) != (message.host_token is None):
            raise _refuse("bad_message", "resuming a room needs both code and host_token")
        max_players = min(message.max_players or s.max_players_per_room, s.max_players_per_room)
        resumed = False
        if message.code is None or message.host_token is None:
            room = None
            if len(self._rooms) < s.max_rooms:
                room = await self.store.create_room(new_token(), max_players)
            if room is None:
                raise _refuse("too_many_rooms", "the server has no room for another room")
            self.metrics.rooms_created += 1
        else:
            code = message.code.upper()
            if not await self._guesses.has(client.ip):
                raise _refuse("rate_limited", "too many wrong codes or tokens from this address")
            room = await self.store.get_room(code)
            if room is not None:
                if not secrets.compare_digest(room.host_token, message.host_token):
                    await self._guess_failed(client.ip)
                    raise _refuse("bad_token", f"that is not room {code}'s host token")
                resumed = True
            else:
                if not is_room_code(code):
                    raise _refuse("bad_message", f"{code!r} is not a room code this server makes")
                claimed = self._claimed_seats(message.seats, max_players)
                if len(self._rooms) >= s.max_rooms:
                    raise _refuse("too_many_rooms", "the server has no room for another room")
                room = await self.store.create_room(message.host_token, max_players, code, claimed)
                if room is None:
                    raise _refuse("bad_token", f"room {code} was just taken")
                self.metrics.rooms_created += 1
        client.role, client.code, client.seat = "host", room.code, HOST_SEAT
        client.bucket = TokenBucket(s.host_message_rate, s.host_message_burst)
        replaced = await self.router.attach(
            room.code, HOST_SEAT, client.outbox, p.encode(p.RoomClosed(reason="replaced"))
        )
        # The host was away (grace running here or on another node) unless a live socket of
        # it was just replaced; a room re-created from scratch had no one waiting for it.
        was_away = resumed and not replaced
        live = self._rooms.get(room.code)
        if live is None:
            live = self._rooms[room.code] = _LiveRoom(self._clock())
        self._touch(room.code)
        if live.grace is not None:
            live.grace.cancel()
            live.grace = None
        self.metrics.rooms = len(self._rooms)
        connected = set(await self.router.connected_seats(room.code))
        seats = [
            p.SeatInfo(seat=r.seat, name=r.name, seat_token=r.token, connected=r.seat in connected)
            for r in sorted(room.seats.values(), key=lambda r: r.seat)
        ]
        client.outbox.send(
            p.encode(
                p.Created(
                    code=room.code,
                    host_token=room.host_token,
                    ice_servers=self._ice_for(f"{room.code}-host"),
                    resumed=resumed,
                    seats=seats,
                )
            )
        )
        if was_away:
            await self._to_players(room.code, p.HostStatus(connected=True))
        log.info(
            "%s: %s (%d seats, max %d players)",
            client.label(),
            "host back" if resumed else "room open",
            len(seats),
            room.max_players,
        )

    def _claimed_seats(self, claimed: list[p.SeatInfo], max_players: int) -> list[SeatRecord]:
        if len(claimed) > max_players:
            raise _refuse(
                "bad_message", f"{len(claimed)} seats listed; the room holds {max_players}"
            )
        if len({c.seat for c in claimed}) != len(claimed):
            raise _refuse("bad_message", "a seat is listed twice")
        if len({c.seat_token for c in claimed}) != len(claimed):
            raise _refuse("bad_message", "a seat token is listed twice")
        records = []
        for c in claimed:
            name = clean_name(c.name)
            if name is None:
                raise _refuse("bad_name", f"seat {c.seat} has no usable name")
            records.append(SeatRecord(c.seat, name, c.seat_token))
        return records

    async def _join(self, client: Client, message: p.Join) -> None:
        code = message.code.upper()
        if not await self._joins.take(client.ip):
            raise _refuse("rate_limited", "too many joins from this address")
        if not await self._guesses.has(client.ip):
            raise _refuse("rate_limited", "too many wrong codes or tokens from this address")
        room = await self.store.get_room(code)
        if room is None:
            await self._guess_failed(client.ip)
            raise _refuse("room_not_found", f"no room {code} (check the code; is the host up?)")
        resumed = message.seat_token is not None
        if message.seat_token is not None:
            record = room.seat_by_token(message.seat_token)
            if record is None:
                await self._guess_failed(client.ip)
                raise _refuse("bad_token", f"that seat token is not valid in room {code}")
        else:
            name = clean_name(message.name)
            if name is None:
                raise _refuse("bad_name", "a name needs printable characters")
            try:
                record = await self.store.add_seat(code, name)
            except RoomFullError:
                raise _refuse(
                    "room_full", f"room {code} is full ({room.max_players} players)"
                ) from None
            except KeyError:
                raise _refuse("room_not_found", f"room {code} has just closed") from None
        client.role, client.code, client.seat, client.name = (
            "player",
            code,
            record.seat,
            record.name,
        )
        await self.router.attach(
            code, record.seat, client.outbox, p.encode(p.RoomClosed(reason="replaced"))
        )
        self._touch(code)
        self.metrics.joins["resumed" if resumed else "new"] += 1
        host_connected = HOST_SEAT in await self.router.connected_seats(code)
        client.outbox.send(
            p.encode(
                p.Joined(
                    code=code,
                    seat=record.seat,
                    seat_token=record.token,
                    name=record.name,
                    ice_servers=self._ice_for(f"{code}-s{record.seat}"),
                    resumed=resumed,
                    host_connected=host_connected,
                )
            )
        )
        await self._to_host(
            code,
            p.PeerJoined(
                seat=record.seat, name=record.name, seat_token=record.token, resumed=resumed
            ),
        )
        log.info("%s %s", client.label(), "is back" if resumed else "joined")

    # ---- in a room --------------------------------------------------------------------

    async def _route(self, client: Client, message: p.Routed) -> None:
        code = client.code
        if client.role == "host":
            if message.seat is None:
                raise _refuse("bad_message", "the host must say which seat it addresses")
            target = message.seat
            out = msgspec.structs.replace(message, seat=None)
        else:
            if message.seat is not None:
                raise _refuse("host_only", "players talk only to their host; leave seat out")
            target = HOST_SEAT
            out = msgspec.structs.replace(message, seat=client.seat)
        if isinstance(message, p.Relay):
            size = len(message.data.encode("utf-8"))
            if not await self._relay.allow(code, size):
                raise _refuse("relay_limited", f"room {code} is over its relay byte rate")
            self.metrics.relayed_bytes += size
            self.metrics.relayed_frames += 1
        self._touch(code)
        if await self.router.deliver(code, target, p.encode(out)):
            return
        if target != HOST_SEAT:
            room = await self.store.get_room(code)
            if room is None or target not in room.seats:
                raise _refuse("no_such_seat", f"room {code} has no seat {target}")
        raise _refuse(
            "peer_offline", "the " + (f"seat {target}" if target else "host") + " is offline"
        )

    async def _kick(self, client: Client, message: p.Kick) -> None:
        if client.role != "host":
            raise _refuse("host_only", "only the host may kick")
        code = client.code
        if not await self.store.remove_seat(code, message.seat):
            raise _refuse("no_such_seat", f"room {code} has no seat {message.seat}")
        await self.router.close_seat(code, message.seat, p.encode(p.RoomClosed(reason="kicked")))
        await self._to_host(code, p.PeerLeft(seat=message.seat, reason="kicked"))
        log.info("room %s: host kicked seat %d %s", code, message.seat, message.reason)

    async def _leave(self, client: Client) -> None:
        code = client.code
        if client.role == "host":
            await self.close_room(code, "host-left")
            return
        await self.store.remove_seat(code, client.seat)
        if await self.router.detach(code, client.seat, client.outbox):
            await self._to_host(code, p.PeerLeft(seat=client.seat, reason="left"))
        log.info("%s left", client.label())
        client.outbox.close()

    # ---- room lives -------------------------------------------------------------------

    def _touch(self, code: str) -> None:
        live = self._rooms.get(code)
        if live is not None:
            live.last_activity = self._clock()
        self.store.touch(code)

    async def _to_host(self, code: str, message: p.Message) -> bool:
        return await self.router.deliver(code, HOST_SEAT, p.encode(message))

    async def _to_players(self, code: str, message: p.Message) -> None:
        frame = p.encode(message)
        for seat in await self.router.connected_seats(code):
            if seat != HOST_SEAT:
                await self.router.deliver(code, seat, frame)

    async def _host_away(self, code: str) -> None:
        live = self._rooms.get(code)
        if live is None:
            return
        log.info("room %s: host disconnected; room kept %gs", code, self.settings.host_grace)
        await self._to_players(code, p.HostStatus(connected=False))
        loop = asyncio.get_running_loop()
        live.grace = loop.call_later(self.settings.host_grace, self._spawn_grace_over, code)

    def _spawn_grace_over(self, code: str) -> None:
        task = asyncio.get_running_loop().create_task(self._grace_over(code))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _grace_over(self, code: str) -> None:
        live = self._rooms.get(code)
        if live is None or live.grace is None:
            return
        live.grace = None
        if HOST_SEAT not in await self.router.connected_seats(code):
            await self.close_room(code, "host-timeout")
        elif not self.router.is_local(code, HOST_SEAT):
            # The host came back through another node, which keeps the room's clock now.
            self._rooms.pop(code, None)
            self.metrics.rooms = len(self._rooms)

    async def close_room(self, code: str, reason: p.ClosedReason) -> None:
        """End a room: every socket in it gets ``room-closed`` and is closed."""
        live = self._rooms.pop(code, None)
        if live is not None and live.grace is not None:
            live.grace.cancel()
        await self.store.delete_room(code)
        frame = p.encode(p.RoomClosed(reason=reason))
        for seat in await self.router.connected_seats(code):
            await self.router.close_seat(code, seat, frame)
        await self._relay.forget(code)
        self.metrics.rooms_closed[reason] += 1
        self.metrics.rooms = len(self._rooms)
        log.info("room %s closed: %s", code, reason)

    async def sweep_idle(self) -> int:
        """Close rooms quiet for longer than the idle timeout; returns how many."""
        now = self._clock()
        timeout = self.settings.idle_timeout
        idle = [code for code, live in self._rooms.items() if now - live.last_activity > timeout]
        closed = 0
        for code in idle:
            # Players on other nodes may have kept the room busy: ask the shared store.
            ago = await self.store.idle_for(code)
            live = self._rooms.get(code)
            if ago is not None and ago <= timeout and live is not None:
                live.last_activity = now - ago
                continue
            await self.close_room(code, "idle")
            closed += 1
        return closed

    async def close_all(self) -> None:
        """Server shutdown: close every room, then every socket still open.

        With a shared backend the rooms outlive this node: its sockets close with 1001
        (going away) so clients reconnect to another node, and the other nodes, seeing this
        one gone, tell each room's other side and keep the host's grace period.
        """
        self._shutting_down = True
        if self.backend.name == "memory":
            for code in list(self._rooms):
                await self.close_room(code, "shutdown")
        waiting = [code for code, live in self._rooms.items() if live.grace is not None]
        for code in waiting:
            grace = self._rooms[code].grace
            if grace is not None:
                grace.cancel()
        if waiting:
            await self.backend.hand_over(waiting)
        for client in list(self.clients):
            client.outbox.close(1001)
        for task in list(self._tasks):
            task.cancel()

    @property
    def room_count(self) -> int:
        """Rooms open in this process."""
        return len(self._rooms)
