"""The game wire protocol between the host and each player (data channel or WS relay).

JSON text frames, so a browser speaks it with ``JSON.parse``. Every message is a msgspec
Struct tagged by ``type``; one union and one decoder per direction, built once here.

Frames stay under :data:`MAX_FRAME_BYTES` (16 KiB, what every browser's data channel carries
safely): a larger message travels as ``chunk`` frames (base64 pieces of its JSON) that
:class:`Reassembler` puts back together, within a bound on pieces and bytes.

Version 1. A player opens with ``hello``; the host answers ``welcome`` (with the seat and the
seat token to present again after a reconnect), then one full ``view``, then a ``delta``
(the fields that changed, see :class:`ViewDelta`) whenever that player's view changes. Full
views on every change cost 2 to 5 times the bytes (measured: docs/PERFORMANCE.md, Host),
since every view lists every player. A player that misses a frame (the WebSocket relay may
drop frames over its byte budget) sends ``resync`` and gets a full ``view`` again.
A player that says ``packed`` in its hello may get any host message of
:data:`PACK_MIN_BYTES` or more as a ``packed`` frame (raw DEFLATE, then base64): a new
phase's delta to 100 players is 5-8 KB of similar JSON, 6 or 7 SCTP packets each unpacked
and one or two packed (docs/PERFORMANCE.md, Host).
``deadline_ms`` in a view is the time left in the phase when the host sent it, relative
because the two clocks are not synchronised.
"""

from __future__ import annotations

import base64
import binascii
import zlib
from collections.abc import Iterator
from typing import Annotated, Any, Final, Literal, TypeVar

import msgspec

from game import PlayerView, PublicView
from game.actions import Action

PROTOCOL_VERSION: Final = 1
MAX_FRAME_BYTES: Final = 16 * 1024
# Raw bytes per chunk piece: base64 makes 4/3 of it, plus the envelope, under MAX_FRAME_BYTES.
CHUNK_PIECE_BYTES: Final = 11 * 1024
MAX_CHUNKS_FROM_HOST: Final = 128  # a view of ~1.4 MB would be absurd; bounded anyway
MAX_CHUNKS_FROM_PLAYER: Final = 2  # a player's messages are tiny; no reason to allow more
# Packing pays from about one SCTP packet's worth (aiortc sends 1200 B of data per packet).
PACK_MIN_BYTES: Final = 1024
# What a packed message may inflate to: no more than chunking could have carried unpacked.
MAX_UNPACKED_BYTES: Final = MAX_CHUNKS_FROM_HOST * CHUNK_PIECE_BYTES

Version = Annotated[int, msgspec.Meta(ge=1, le=1000)]
Seat = Annotated[int, msgspec.Meta(ge=0, le=100_000)]
SeatToken = Annotated[str, msgspec.Meta(min_length=16, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
PlayerName = Annotated[str, msgspec.Meta(min_length=1, max_length=24)]
RoomCode = Annotated[str, msgspec.Meta(min_length=1, max_length=16)]
Ref = Annotated[int, msgspec.Meta(ge=0, le=2**31 - 1)]
Millis = Annotated[int, msgspec.Meta(ge=0, le=2**53)]
Code = Annotated[str, msgspec.Meta(min_length=1, max_length=48)]
Message = Annotated[str, msgspec.Meta(max_length=400)]
ChunkId = Annotated[int, msgspec.Meta(ge=0, le=2**31 - 1)]
ChunkIndex = Annotated[int, msgspec.Meta(ge=0, le=MAX_CHUNKS_FROM_HOST - 1)]
ChunkCount = Annotated[int, msgspec.Meta(ge=1, le=MAX_CHUNKS_FROM_HOST)]
ChunkData = Annotated[str, msgspec.Meta(max_length=(CHUNK_PIECE_BYTES * 4) // 3 + 4)]
Path = Literal["host", "srflx", "relay", "ws-relay", "unknown"]


class Frame(msgspec.Struct, tag_field="type", kw_only=True, frozen=True, omit_defaults=True):
    """Base of every game frame; ``type`` carries the tag."""


# ---- player -> host ---------------------------------------------------------------------


class Hello(Frame, tag="hello", frozen=True):
    """First frame from a player. A seat token from an earlier welcome resumes that seat."""

    version: Version
    name: PlayerName
    seat: Seat | None = None
    seat_token: SeatToken | None = None
    path: Path = "unknown"  # what the player saw, for the host's status
    packed: bool = False  # the player reads ``packed`` frames


class Watch(Frame, tag="watch", frozen=True):
    """A shared screen (the board) asks for the public view only: it takes no seat, it
    cannot act, and it is sent nothing but ``public_view`` (and pings)."""

    version: Version


class Resync(Frame, tag="resync", frozen=True):
    """The player lost track of its view (a delta did not follow): send a full ``view``."""


class ActionFrame(Frame, tag="action", frozen=True):
    """One intent. ``ref`` comes back in a rejection so the sender knows which one failed."""

    action: Action
    ref: Ref = 0


# ---- host -> player ---------------------------------------------------------------------


class Welcome(Frame, tag="welcome", frozen=True):
    """The host accepted the hello: this is your seat, and the token to resume it."""

    version: Version
    seat: Seat
    seat_token: SeatToken
    room: RoomCode


class ViewFrame(Frame, tag="view", frozen=True):
    """This player's whole view; sent only when it changed, at most once per host tick."""

    view: PlayerView
    seq: Annotated[int, msgspec.Meta(ge=0)]
    deadline_ms: Millis | None = None


class PublicViewFrame(Frame, tag="public_view", frozen=True):
    """The table as a spectator sees it (game.views.PublicView): never a hand or a secret."""

    view: PublicView
    seq: Annotated[int, msgspec.Meta(ge=0)]
    deadline_ms: Millis | None = None


FieldName = Annotated[str, msgspec.Meta(min_length=1, max_length=32)]
MAX_DELTA_FIELDS: Final = 64
MAX_DELTA_ITEMS: Final = 1000


class ViewDelta(Frame, tag="delta", frozen=True):
    """What changed in this player's view since the view numbered ``base``.

    Every ``view`` and ``delta`` a player gets carries ``seq`` (0, 1, 2... per connection);
    a delta's ``base`` is the ``seq`` of the frame just before it. To apply one, to the
    view as parsed JSON (``view`` below):

    1. if ``base`` is not the ``seq`` of the last view or delta applied, a frame was lost:
       send ``{"type": "resync"}`` and ignore deltas until the next full ``view``;
    2. for each ``name, value`` in ``set``: ``view[name] = value`` (a whole field);
    3. for each ``name, pairs`` in ``items``, for each ``[index, value]`` in order: if
       ``index < view[name].length``, then when both ``view[name][index]`` and ``value``
       are objects, ``Object.assign(view[name][index], value)`` (only the entry's changed
       keys are sent), otherwise ``view[name][index] = value``; if ``index`` equals the
       length, ``view[name].push(value)`` (a new entry, whole);
    4. the delta's ``seq`` is now the last applied; ``deadline_ms`` means what it means in
       a ``view`` (time left in the phase; absent: the phase has no deadline).

    Example (seat 2 got ready, a seventh player joined):
    ``{"type":"delta","seq":7,"base":6,"set":{"ready":true},"items":{"players":[[2,
    {"ready":true}],[6,{"seat":6,"name":"Bo","connected":true,"ready":false,
    "hand_count":0,"stupified":false}]]},"deadline_ms":14200}``.
    Fields absent from ``set`` and ``items`` are unchanged; ``set``/``items`` are omitted
    when empty. Values have the shapes of the same fields in a ``view``.
    """

    seq: Annotated[int, msgspec.Meta(ge=0)]
    base: Annotated[int, msgspec.Meta(ge=0)]
    set: Annotated[dict[FieldName, Any], msgspec.Meta(max_length=MAX_DELTA_FIELDS)] = {}
    items: Annotated[
        dict[
            FieldName,
            Annotated[list[tuple[int, Any]], msgspec.Meta(max_length=MAX_DELTA_ITEMS)],
        ],
        msgspec.Meta(max_length=MAX_DELTA_FIELDS),
    ] = {}
    deadline_ms: Millis | None = None


class Rejected(Frame, tag="rejected", frozen=True):
    """A frame or action was refused; the state did not change."""

    code: Code
    message: Message = ""
    ref: Ref | None = None


# ---- either way -------------------------------------------------------------------------


class Ping(Frame, tag="ping", frozen=True):
    """Heartbeat. The receiver echoes ``id`` and ``sent_ms`` (sender's clock) in a pong."""

    id: Ref
    sent_ms: Millis
    rtt_ms: Annotated[float, msgspec.Meta(ge=0, le=600_000)] | None = None  # sender's estimate


class Pong(Frame, tag="pong", frozen=True):
    """Answer to a ping; the pinger computes the round-trip time from ``sent_ms``."""

    id: Ref
    sent_ms: Millis


class Bye(Frame, tag="bye", frozen=True):
    """The sender is leaving (or dropping the other side) and says why."""

    reason: Code
    message: Message = ""


class Chunk(Frame, tag="chunk", frozen=True):
    """One piece of a message too large for a single frame (base64 of its JSON bytes)."""

    id: ChunkId
    index: ChunkIndex
    count: ChunkCount
    data: ChunkData


class Packed(Frame, tag="packed", frozen=True):
    """One host message, raw DEFLATE (RFC 1951, no zlib header) then base64; only to a
    player whose hello said ``packed``. Never nested; a large one travels as chunks."""

    data: Annotated[str, msgspec.Meta(max_length=(MAX_UNPACKED_BYTES * 4) // 3 + 4)]


PlayerFrame = Hello | Watch | Resync | ActionFrame | Ping | Pong | Bye | Chunk
HostFrame = (
    Welcome | ViewFrame | ViewDelta | PublicViewFrame | Rejected | Ping | Pong | Bye | Chunk
) | Packed

_encoder: Final = msgspec.json.Encoder()
PLAYER_FRAME_DECODER: Final = msgspec.json.Decoder(PlayerFrame)
HOST_FRAME_DECODER: Final = msgspec.json.Decoder(HostFrame)
_F = TypeVar("_F")


class FrameError(ValueError):
    """A frame could not be accepted; ``code`` is the reason sent back in a rejection."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def encode(frame: Frame) -> bytes:
    """One message as JSON bytes (possibly larger than a frame: see :func:`to_frames`)."""
    return _encoder.encode(frame)


def to_frames(message: bytes, chunk_id: int) -> Iterator[str]:
    """Text frames for one encoded message: itself, or chunks when it is too large."""
    if len(message) <= MAX_FRAME_BYTES:
        yield message.decode()
        return
    pieces = [
        message[i : i + CHUNK_PIECE_BYTES] for i in range(0, len(message), CHUNK_PIECE_BYTES)
    ]
    if len(pieces) > MAX_CHUNKS_FROM_HOST:
        raise ValueError(f"message of {len(message)} bytes exceeds the chunking bound")
    for index, piece in enumerate(pieces):
        chunk = Chunk(
            id=chunk_id % 2**31,
            index=index,
            count=len(pieces),
            data=base64.b64encode(piece).decode("ascii"),
        )
        yield _encoder.encode(chunk).decode()


def frame_size(frame: str | bytes) -> int:
    """Size of a received frame in bytes (a str is measured as its UTF-8 encoding)."""
    return len(frame) if isinstance(frame, bytes) else len(frame.encode("utf-8", "replace"))


def _check_size(frame: str | bytes) -> None:
    if frame_size(frame) > MAX_FRAME_BYTES:
        raise FrameError("too_large", f"frame larger than {MAX_FRAME_BYTES} bytes")


def _decode(decoder: msgspec.json.Decoder[_F], data: str | bytes) -> _F:
    try:
        return decoder.decode(data)
    except msgspec.ValidationError as exc:
        raise FrameError("invalid", str(exc)[:300]) from None
    except msgspec.DecodeError as exc:
        raise FrameError("malformed", str(exc)[:300]) from None


def _decode_frame(decoder: msgspec.json.Decoder[_F], frame: str | bytes) -> _F:
    _check_size(frame)
    return _decode(decoder, frame)


def _decode_message(decoder: msgspec.json.Decoder[_F], message: bytes) -> _F:
    """A reassembled message (it may exceed one frame); chunks may not nest."""
    frame = _decode(decoder, message)
    if isinstance(frame, Chunk):
        raise FrameError("bad_chunk", "a chunk inside a chunk")
    return frame


def decode_player_frame(frame: str | bytes) -> PlayerFrame:
    """Decode a frame a player sent; raises :class:`FrameError` on anything malformed."""
    return _decode_frame(PLAYER_FRAME_DECODER, frame)


def decode_host_frame(frame: str | bytes) -> HostFrame:
    """Decode a frame the host sent; raises :class:`FrameError` on anything malformed."""
    return _decode_frame(HOST_FRAME_DECODER, frame)


class Reassembler:
    """Puts chunked messages back together, one at a time (the channel is ordered).

    Bounded: at most ``max_count`` pieces per message; a piece out of order or for a
    different message is a protocol error rather than something to buffer.
    """

    def __init__(self, max_count: int) -> None:
        self._max_count = max_count
        self._id: int | None = None
        self._count = 0
        self._pieces: list[bytes] = []

    def add(self, chunk: Chunk) -> bytes | None:
        """Take one piece; returns the whole message once its last piece arrives."""
        if chunk.count > self._max_count:
            raise FrameError("too_large", f"message split into more than {self._max_count}")
        if chunk.index == 0:
            self._id, self._count, self._pieces = chunk.id, chunk.count, []
        elif chunk.id != self._id or chunk.count != self._count:
            self._reset()
            raise FrameError("bad_chunk", "chunk belongs to no message in progress")
        if chunk.index != len(self._pieces):
            self._reset()
            raise FrameError("bad_chunk", "chunk out of order")
        try:
            self._pieces.append(base64.b64decode(chunk.data, validate=True))
        except (binascii.Error, ValueError):
            self._reset()
            raise FrameError("bad_chunk", "chunk data is not base64") from None
        if len(self._pieces) < self._count:
            return None
        message = b"".join(self._pieces)
        self._reset()
        return message

    def _reset(self) -> None:
        self._id, self._count, self._pieces = None, 0, []


def decode_host_message(message: bytes) -> HostFrame:
    """Decode a reassembled host message (may exceed one frame); chunks may not nest."""
    return _decode_message(HOST_FRAME_DECODER, message)


def pack(message: bytes) -> bytes:
    """The ``packed`` frame (JSON) carrying one encoded host message."""
    deflate = zlib.compressobj(6, zlib.DEFLATED, -15)
    data = deflate.compress(message) + deflate.flush()
    return _encoder.encode(Packed(data=base64.b64encode(data).decode("ascii")))


def unpack(frame: Packed) -> HostFrame:
    """The host message inside a ``packed`` frame, inflated within a bound."""
    try:
        data = base64.b64decode(frame.data, validate=True)
    except (binascii.Error, ValueError):
        raise FrameError("bad_packed", "packed data is not base64") from None
    inflate = zlib.decompressobj(-15)
    try:
        message = inflate.decompress(data, MAX_UNPACKED_BYTES + 1)
    except zlib.error as exc:
        raise FrameError("bad_packed", f"packed data is not DEFLATE: {exc}") from None
    if len(message) > MAX_UNPACKED_BYTES:
        raise FrameError("too_large", f"packed message over {MAX_UNPACKED_BYTES} bytes")
    if not inflate.eof:
        raise FrameError("bad_packed", "packed data is truncated")
    inner = decode_host_message(message)
    if isinstance(inner, Packed):
        raise FrameError("bad_packed", "a packed frame inside a packed frame")
    return inner


def read_host_frame(raw: str | bytes, reassembler: Reassembler) -> HostFrame | None:
    """One received frame as a host message: None while a chunked message is incomplete."""
    frame = decode_host_frame(raw)
    if isinstance(frame, Chunk):
        message = reassembler.add(frame)
        if message is None:
            return None
        frame = decode_host_message(message)
    if isinstance(frame, Packed):
        return unpack(frame)
    return frame


def decode_player_message(message: bytes) -> PlayerFrame:
    """Decode a reassembled player message; chunks may not nest."""
    return _decode_message(PLAYER_FRAME_DECODER, message)
