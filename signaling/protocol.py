"""The signaling wire protocol: one WebSocket per client at ``GET /ws``, JSON text frames.

Every frame is one msgspec Struct tagged by ``type``, so a browser speaks it with
``JSON.stringify``/``JSON.parse``. One union and one decoder per direction
(:data:`ClientMessage`, :data:`ServerMessage`), built once here. A frame larger than the
server's ``max_frame_bytes`` (64 KiB by default) is refused with ``error{code: "too_large"}``;
one larger than twice that closes the socket (WebSocket close 1009).

Flow (version 1)
----------------
Host::

    -> create {version, max_players?}                      a new room
    <- created {code, host_token, ice_servers, resumed=false, seats=[]}
    <- peer-joined {seat, name, seat_token, resumed}       for each player who joins/returns
    -> offer {seat, sdp} / <- answer {seat, sdp}            either side may offer
    -> candidate {seat, candidate, sdpMid, sdpMLineIndex} / <- candidate {seat, ...}
    -> end-of-candidates {seat} / <- end-of-candidates {seat}
    -> relay {seat, data} / <- relay {seat, data}           the last-resort data path
    <- peer-left {seat, reason}                            socket gone, left, or kicked
    -> kick {seat, reason}                                 frees the seat, token invalid
    -> leave                                               ends the room now

Player::

    -> join {version, code, name, seat_token?}
    <- joined {code, seat, seat_token, name, ice_servers, resumed, host_connected}
    <- offer/answer/candidate/end-of-candidates/relay      from the host (no ``seat``)
    -> offer/answer/candidate/end-of-candidates/relay      to the host (no ``seat``)
    <- host-status {connected}                             the host dropped / came back
    <- room-closed {reason}                                then the server closes the socket
    -> leave                                               gives the seat up for good

Either side: ``ping {id}`` -> ``pong {id}`` (an application-level ping, since browsers cannot
send WebSocket pings); any refused message -> ``error {code, message, about}`` where ``about``
is the tag of the message refused (when known). A socket that sends neither ``create`` nor
``join`` within the handshake timeout is sent ``error{handshake_timeout}`` and closed.

Routing: the server routes only between a room's host and its players. Messages a player
sends go to its host, and arrive there with ``seat`` set to the sender's seat. The host must
address a seat, and the player receives the message with ``seat`` absent. A player that sets
``seat`` or sends ``kick`` gets ``error{host_only}``; a seat that does not exist gets
``no_such_seat``; a peer without a live socket gets ``peer_offline``.

Seats and tokens: seats are small integers from 1, stable for the room's life (a dropped
player's seat stays reserved; the host may ``kick`` it to free it). ``join`` with the seat
token from an earlier ``joined`` (or from the host's ``peer-joined``) resumes that seat; the
previous socket for the seat, if any, gets ``room-closed{replaced}``. A wrong token is
``bad_token`` (and counts, like an unknown code, against the sender's guess budget).
Names are trimmed; a name already in the room gets a suffix (" 2", " 3", ...), and
``joined.name`` is the name actually used.

Host reconnect and resume: a host whose socket drops keeps its room for the host grace period
(players get ``host-status{connected: false}``); ``create {code, host_token}`` within it
gives the same room back with ``created{resumed: true, seats}``. If the room is gone (grace
over, or the signaling server itself restarted, e.g. embedded in a host that crashed), the
same ``create {code, host_token, seats}`` re-creates it with that code if the code is free,
and the listed seats (the host saw each seat token in ``peer-joined``) become valid again,
so players resume with their saved seat tokens. Players whose join finds no room should
retry for a while: their host may be restarting.

Rooms close (``room-closed`` to everyone, then the sockets close) when the host sends
``leave``, when the host grace period ends without the host back, after the idle timeout
(three hours by default) with no message from anyone in the room, or when the server shuts
down. Once the data channels carry the game the signaling sockets fall quiet, so the host
should ``ping`` every few minutes to keep its room. Clients must keep reading their socket:
the server sends WebSocket pings (every 20 s by default) and drops a socket whose pong does
not come back, and it drops a client whose unread frames pile up.

ICE: ``created`` and ``joined`` carry the STUN/TURN list for that client (TURN credentials
expire); it is empty on a LAN with nothing configured.
"""

from __future__ import annotations

from typing import Annotated, Final, Literal

import msgspec

from turn.ice_servers import IceServer

PROTOCOL_VERSION: Final = 1
# Raw frame bounds; the server's configured limit may be lower but never higher than these.
DEFAULT_MAX_FRAME_BYTES: Final = 64 * 1024
# The relay carries one game frame (peer/protocol.py keeps those under 16 KiB) as a string.
MAX_RELAY_CHARS: Final = 16 * 1024
MAX_SDP_CHARS: Final = 32 * 1024
MAX_ICE_SERVERS: Final = 8
MAX_SEATS_LISTED: Final = 1000
ROOM_CODE_ALPHABET: Final = "ABCDEFGHJKMNPQRSTUVWXYZ"  # no I, L, O: easy to read aloud
ROOM_CODE_LENGTH: Final = 4

Version = Annotated[int, msgspec.Meta(ge=1, le=1000)]
# Lower case is accepted and upper-cased by the server; length 4..8 leaves room to grow.
RoomCode = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z]{4,8}$")]
Token = Annotated[str, msgspec.Meta(min_length=16, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
Seat = Annotated[int, msgspec.Meta(ge=1, le=100_000)]
PlayerName = Annotated[str, msgspec.Meta(min_length=1, max_length=24)]
MaxPlayers = Annotated[int, msgspec.Meta(ge=1, le=100_000)]
Sdp = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_SDP_CHARS)]
CandidateLine = Annotated[str, msgspec.Meta(max_length=1024)]
SdpMid = Annotated[str, msgspec.Meta(max_length=64)]
SdpMLineIndex = Annotated[int, msgspec.Meta(ge=0, le=1024)]
RelayData = Annotated[str, msgspec.Meta(max_length=MAX_RELAY_CHARS)]
PingId = Annotated[int, msgspec.Meta(ge=0, le=2**53)]
Text = Annotated[str, msgspec.Meta(max_length=400)]
Reason = Annotated[str, msgspec.Meta(max_length=64)]
IceServers = Annotated[list[IceServer], msgspec.Meta(max_length=MAX_ICE_SERVERS)]

ErrorCode = Literal[
    "bad_json",  # not a JSON text frame (or binary)
    "bad_message",  # JSON, but a field has the wrong type, size or pattern
    "unknown_type",  # no such message tag
    "too_large",  # frame above max_frame_bytes
    "unsupported_version",
    "handshake_timeout",  # no create/join in time; the socket closes
    "not_in_room",  # a room message before create/join
    "already_in_room",  # a second create/join on the same socket
    "room_not_found",
    "room_full",
    "too_many_rooms",
    "bad_token",  # host or seat token does not match (or belongs elsewhere)
    "bad_name",
    "host_only",  # a player addressed a seat or sent a host-only message
    "no_such_seat",
    "peer_offline",  # the addressed peer has no live socket right now
    "rate_limited",  # per-IP/per-socket budget exceeded; the message was dropped
    "relay_limited",  # the room's relay byte-rate cap was exceeded; the frame was dropped
    "unavailable",  # the shared room store (Redis) is unreachable; nothing changed, retry
    "internal",
]
ClosedReason = Literal[
    "host-left",  # the host sent leave
    "host-timeout",  # the host dropped and did not return within the grace period
    "idle",  # no traffic in the room for the idle timeout
    "kicked",  # the host kicked this seat
    "replaced",  # another socket resumed this seat (or host) with its token
    "shutdown",  # the server is stopping
]
LeftReason = Literal["disconnected", "left", "kicked"]


class Message(msgspec.Struct, tag_field="type", kw_only=True, frozen=True, omit_defaults=True):
    """Base of every signaling message; ``type`` carries the tag."""


class SeatInfo(msgspec.Struct, kw_only=True, frozen=True, omit_defaults=True):
    """A seat as the host knows it (listed in ``created`` and given back on re-create)."""

    seat: Seat
    name: PlayerName
    seat_token: Token
    connected: bool = False


# ---- client -> server: handshake ----------------------------------------------------------


class Create(Message, tag="create", frozen=True):
    """Host: open a room. With ``code`` and ``host_token``: get that room back (resume).

    ``seats`` is used only when the room no longer exists on the server and is re-created.
    """

    version: Version = PROTOCOL_VERSION
    code: RoomCode | None = None
    host_token: Token | None = None
    max_players: MaxPlayers | None = None  # capped by the server's own limit
    seats: Annotated[list[SeatInfo], msgspec.Meta(max_length=MAX_SEATS_LISTED)] = []


class Join(Message, tag="join", frozen=True):
    """Player: take a seat in room ``code``; a seat token resumes that seat."""

    code: RoomCode
    name: PlayerName
    version: Version = PROTOCOL_VERSION
    seat_token: Token | None = None


# ---- either direction: routed between a host and one of its players ------------------------
# From the host ``seat`` names the target seat (required); the server delivers it to the
# player without ``seat``. From a player ``seat`` must be absent; the host receives it with
# ``seat`` = the sender.


class Offer(Message, tag="offer", frozen=True):
    """An SDP offer (either side may offer, e.g. for an ICE restart)."""

    sdp: Sdp
    seat: Seat | None = None


class Answer(Message, tag="answer", frozen=True):
    """An SDP answer to the last offer."""

    sdp: Sdp
    seat: Seat | None = None


class Candidate(Message, tag="candidate", frozen=True):
    """One trickled ICE candidate; field names follow RTCIceCandidateInit."""

    candidate: CandidateLine
    sdpMid: SdpMid | None = None
    sdpMLineIndex: SdpMLineIndex | None = None
    seat: Seat | None = None


class EndOfCandidates(Message, tag="end-of-candidates", frozen=True):
    """The sender has gathered all its candidates."""

    seat: Seat | None = None


class Relay(Message, tag="relay", frozen=True):
    """One game frame over the signaling socket, when WebRTC could not connect."""

    data: RelayData
    seat: Seat | None = None


# ---- client -> server: other ----------------------------------------------------------------


class Kick(Message, tag="kick", frozen=True):
    """Host only: drop a seat (its socket gets ``room-closed{kicked}``; its token dies)."""

    seat: Seat
    reason: Reason = ""


class Leave(Message, tag="leave", frozen=True):
    """Host: end the room now. Player: give the seat up for good."""


class Ping(Message, tag="ping", frozen=True):
    """Application-level ping; answered with a ``pong`` carrying the same ``id``."""

    id: PingId = 0


# ---- server -> client ---------------------------------------------------------------------


class Created(Message, tag="created", frozen=True):
    """The room is yours: its code, the host token to resume it, and your ICE servers."""

    code: RoomCode
    host_token: Token
    ice_servers: IceServers
    resumed: bool = False
    seats: Annotated[list[SeatInfo], msgspec.Meta(max_length=MAX_SEATS_LISTED)] = []


class Joined(Message, tag="joined", frozen=True):
    """You have a seat: keep ``seat_token`` to resume it after a reconnect."""

    code: RoomCode
    seat: Seat
    seat_token: Token
    name: PlayerName
    ice_servers: IceServers
    resumed: bool = False
    host_connected: bool = True


class PeerJoined(Message, tag="peer-joined", frozen=True):
    """To the host: a player took (or, ``resumed``, came back to) a seat."""

    seat: Seat
    name: PlayerName
    seat_token: Token
    resumed: bool = False


class PeerLeft(Message, tag="peer-left", frozen=True):
    """To the host: a player's socket is gone (``disconnected``: the seat stays reserved)."""

    seat: Seat
    reason: LeftReason


class HostStatus(Message, tag="host-status", frozen=True):
    """To players: the host's socket dropped (``connected`` false) or came back."""

    connected: bool


class Pong(Message, tag="pong", frozen=True):
    """Answer to ``ping``."""

    id: PingId = 0


class Error(Message, tag="error", frozen=True):
    """A message was refused (nothing changed); ``about`` is the refused message's tag."""

    code: ErrorCode
    message: Text = ""
    about: Reason | None = None


class RoomClosed(Message, tag="room-closed", frozen=True):
    """The room (or your place in it) is over; the server closes the socket next."""

    reason: ClosedReason


Routed = Offer | Answer | Candidate | EndOfCandidates | Relay
ClientMessage = (
    Create | Join | Offer | Answer | Candidate | EndOfCandidates | Relay | Kick | Leave | Ping
)
ServerMessage = (
    Created
    | Joined
    | PeerJoined
    | PeerLeft
    | HostStatus
    | Offer
    | Answer
    | Candidate
    | EndOfCandidates
    | Relay
    | Pong
    | Error
    | RoomClosed
)
ROUTED_TYPES: Final = (Offer, Answer, Candidate, EndOfCandidates, Relay)
CLIENT_TAGS: Final = frozenset(
    t.__struct_config__.tag for t in (Create, Join, *ROUTED_TYPES, Kick, Leave, Ping)
)

_encoder: Final = msgspec.json.Encoder()
CLIENT_DECODER: Final = msgspec.json.Decoder(ClientMessage)
SERVER_DECODER: Final = msgspec.json.Decoder(ServerMessage)


class _TypeOnly(msgspec.Struct):
    type: str = ""


_TYPE_ONLY_DECODER: Final = msgspec.json.Decoder(_TypeOnly)


class ProtocolError(ValueError):
    """A frame could not be accepted; ``code`` goes back in an ``error`` message."""

    def __init__(self, code: ErrorCode, message: str, about: str | None = None) -> None:
        super().__init__(message)
        self.code: ErrorCode = code
        self.message = message[:400]
        self.about = about


def encode(message: Message) -> str:
    """One message as a JSON text frame."""
    return _encoder.encode(message).decode("utf-8")


def tag_of(message: Message) -> str:
    """The ``type`` tag of a message (for logs and metrics)."""
    return str(type(message).__struct_config__.tag)


def _peek_type(frame: str | bytes) -> str | None:
    try:
        found = _TYPE_ONLY_DECODER.decode(frame).type
    except msgspec.DecodeError:
        return None
    return found[:64] if isinstance(found, str) else None


def decode_client(frame: str | bytes, max_bytes: int = DEFAULT_MAX_FRAME_BYTES) -> ClientMessage:
    """Decode a frame a client sent; raises :class:`ProtocolError` on anything unacceptable."""
    size = len(frame) if isinstance(frame, bytes) else len(frame.encode("utf-8", "replace"))
    if size > max_bytes:
        raise ProtocolError("too_large", f"frame of {size} bytes; the limit is {max_bytes}")
    try:
        return CLIENT_DECODER.decode(frame)
    except msgspec.ValidationError as exc:
        about = _peek_type(frame)
        if about and about not in CLIENT_TAGS:
            raise ProtocolError("unknown_type", f"unknown message type {about!r}") from None
        raise ProtocolError("bad_message", str(exc), about or None) from None
    except msgspec.DecodeError as exc:
        raise ProtocolError("bad_json", f"not a JSON message: {exc}") from None


def decode_server(frame: str | bytes) -> ServerMessage:
    """Decode a frame the server sent (for the Python clients); raises msgspec errors."""
    return SERVER_DECODER.decode(frame)
