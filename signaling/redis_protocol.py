"""The node-to-node channel: what one signaling node publishes to another over Redis pub/sub.

Each node subscribes to its own channel (``<prefix>to:<node id>``). A node that must reach a
client connected elsewhere publishes to that client's node (the Redis scripts in
signaling/redis_scripts.py look the node up and publish in one step). One published
payload carries one or more *items*, each a 4-byte big-endian length and then one of these
messages in msgpack, so that the frames a node sends another in one batch travel as one
pub/sub message. ``frame`` is a signaling server->client frame (signaling/protocol.py),
already encoded, so the receiving node only writes it to the socket.
"""

from __future__ import annotations

from typing import Annotated, Final

import msgspec

from signaling.protocol import DEFAULT_MAX_FRAME_BYTES

# Server frames are built by the server itself (bounded by the client frame limit plus the
# fields it adds), so this bound only guards against a foreign publisher on the channel.
Frame = Annotated[str, msgspec.Meta(max_length=8 * DEFAULT_MAX_FRAME_BYTES)]
Code = Annotated[str, msgspec.Meta(max_length=8)]
SeatNo = Annotated[int, msgspec.Meta(ge=0, le=100_000)]


class BusMessage(msgspec.Struct, tag_field="t", frozen=True, array_like=True):
    """Base of the node-to-node messages."""


class Deliver(BusMessage, tag="d", frozen=True):
    """Write ``frame`` to (code, seat)'s socket, if it is still on the receiving node."""

    code: Code
    seat: SeatNo
    frame: Frame


class CloseSeat(BusMessage, tag="c", frozen=True):
    """Forget (code, seat)'s socket, write ``frame`` to it and close it with ``ws_code``.

    Sent when the seat was kicked, its room closed, or another node took the seat over.
    """

    code: Code
    seat: SeatNo
    frame: Frame
    ws_code: Annotated[int, msgspec.Meta(ge=1000, le=4999)] = 1000


Bus = Deliver | CloseSeat

_encoder: Final = msgspec.msgpack.Encoder()
_decoder: Final = msgspec.msgpack.Decoder(Bus)


def encode_bus(message: BusMessage) -> bytes:
    """One bus message as one item (length-prefixed) to publish, alone or concatenated."""
    body = _encoder.encode(message)
    return len(body).to_bytes(4, "big") + body


def decode_bus(payload: bytes) -> list[Bus]:
    """The messages of a published payload, in order; raises msgspec.DecodeError (or
    msgspec.ValidationError) on anything else."""
    messages: list[Bus] = []
    view = memoryview(payload)
    offset = 0
    while offset < len(view):
        if offset + 4 > len(view):
            raise msgspec.DecodeError("truncated item length")
        size = int.from_bytes(view[offset : offset + 4], "big")
        offset += 4
        if offset + size > len(view):
            raise msgspec.DecodeError("truncated item")
        messages.append(_decoder.decode(view[offset : offset + size]))
        offset += size
    return messages
