"""The game wire protocol: round trips, bounds, chunking and its reassembly limits."""

from __future__ import annotations

import base64
import random

import msgspec
import pytest

from game import GameConfig, new_game, view_for
from game.actions import AddPlayer, PlaceBet
from game.engine import apply
from peer import protocol as p


def _a_view() -> p.PlayerView:
    state = new_game(GameConfig(seed=3))
    for seat in range(3):
        state = apply(state, AddPlayer(seat=seat, name=f"P{seat}"), None).state
    return view_for(state, 1)


def test_every_message_round_trips_as_json_text() -> None:
    frames: list[p.Frame] = [
        p.Hello(version=1, name="Ana", seat=2, seat_token="A" * 24, path="host"),
        p.ActionFrame(action=PlaceBet(seat=2, quibble=1, amount=50), ref=7),
        p.Ping(id=1, sent_ms=123),
        p.Pong(id=1, sent_ms=123),
        p.Bye(reason="game_over"),
    ]
    for frame in frames:
        text = p.encode(frame).decode()
        assert p.decode_player_frame(text) == frame
    host_frames: list[p.Frame] = [
        p.Welcome(version=1, seat=0, seat_token="b" * 24, room="ABCD"),
        p.ViewFrame(view=_a_view(), seq=0, deadline_ms=1500),
        p.Rejected(code="wrong_seat", message="you are seat 1", ref=3),
    ]
    for frame in host_frames:
        assert p.decode_host_frame(p.encode(frame)) == frame


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (b"\xff\xfe garbage", "malformed"),
        ("not json", "malformed"),
        ('{"type": "nope"}', "invalid"),
        ('{"type": "hello", "version": 1, "name": ""}', "invalid"),
        ('{"type": "hello", "version": 1, "name": "' + "x" * 25 + '"}', "invalid"),
        ('{"type": "action", "action": {"type": "PlaceBet", "seat": 0, "quibble": 99}}', "invalid"),
        ('{"type": "welcome", "version": 1, "seat": 0, "seat_token": "x", "room": "A"}', "invalid"),
        ("x" * (p.MAX_FRAME_BYTES + 1), "too_large"),
    ],
)
def test_bad_player_frames_raise_frame_error_with_a_code(raw: str | bytes, code: str) -> None:
    with pytest.raises(p.FrameError) as info:
        p.decode_player_frame(raw)
    assert info.value.code == code


def test_large_message_is_chunked_under_the_frame_limit_and_reassembles() -> None:
    big = p.Rejected(code="x", message="y")
    message = p.encode(big)[:-1] + b"," + b'"pad":"' + b'\\"' * 30_000 + b'"}'
    frames = list(p.to_frames(message, chunk_id=5))
    assert len(frames) > 1
    assert all(len(f.encode()) <= p.MAX_FRAME_BYTES for f in frames)
    reassembler = p.Reassembler(p.MAX_CHUNKS_FROM_HOST)
    out = None
    for f in frames:
        chunk = p.decode_host_frame(f)
        assert isinstance(chunk, p.Chunk)
        out = reassembler.add(chunk)
    assert out == message


def test_small_message_is_one_plain_frame() -> None:
    frames = list(p.to_frames(p.encode(p.Ping(id=1, sent_ms=2)), chunk_id=1))
    assert frames == ['{"type":"ping","id":1,"sent_ms":2}']


def test_reassembler_refuses_too_many_pieces_out_of_order_and_bad_base64() -> None:
    r = p.Reassembler(p.MAX_CHUNKS_FROM_PLAYER)
    with pytest.raises(p.FrameError, match="more than"):
        r.add(p.Chunk(id=1, index=0, count=3, data=""))
    r = p.Reassembler(4)
    r.add(p.Chunk(id=1, index=0, count=3, data=base64.b64encode(b"ab").decode()))
    with pytest.raises(p.FrameError, match="out of order"):
        r.add(p.Chunk(id=1, index=2, count=3, data=""))
    with pytest.raises(p.FrameError, match="no message"):
        r.add(p.Chunk(id=9, index=1, count=3, data=""))
    with pytest.raises(p.FrameError, match="base64"):
        r.add(p.Chunk(id=2, index=0, count=2, data="!!!"))


def test_nested_chunk_is_refused() -> None:
    inner = p.encode(p.Chunk(id=1, index=0, count=1, data=""))
    with pytest.raises(p.FrameError):
        p.decode_player_message(inner)
    with pytest.raises(p.FrameError):
        p.decode_host_message(inner)


def test_view_frame_of_a_real_view_fits_one_frame_for_a_small_table() -> None:
    frame = p.ViewFrame(view=_a_view(), seq=1)
    assert len(p.encode(frame)) < p.MAX_FRAME_BYTES
    assert msgspec.json.decode(p.encode(frame))["type"] == "view"


def _deflate(data: bytes) -> str:
    import zlib

    d = zlib.compressobj(6, zlib.DEFLATED, -15)
    return base64.b64encode(d.compress(data) + d.flush()).decode()


def test_a_packed_message_reads_back_as_the_message_and_is_smaller() -> None:
    frame = p.ViewFrame(view=_a_view(), seq=4, deadline_ms=900)
    message = p.encode(frame)
    packed = p.pack(message)
    assert len(packed) < len(message)
    assert msgspec.json.decode(packed)["type"] == "packed"
    assert p.read_host_frame(packed.decode(), p.Reassembler(4)) == frame


def test_a_packed_message_too_big_for_one_frame_travels_as_chunks() -> None:
    # Incompressible padding: the packed frame itself is over 16 KiB.
    pad = base64.b64encode(random.Random(1).randbytes(24_000)).decode()
    message = p.encode(p.Rejected(code="x", message="y"))[:-1] + f',"pad":"{pad}"}}'.encode()
    frames = list(p.to_frames(p.pack(message), chunk_id=3))
    assert len(frames) > 1
    reassembler = p.Reassembler(p.MAX_CHUNKS_FROM_HOST)
    read = [p.read_host_frame(f, reassembler) for f in frames]
    assert read[:-1] == [None] * (len(frames) - 1)
    assert read[-1] == p.Rejected(code="x", message="y")


@pytest.mark.parametrize(
    ("data", "code"),
    [
        ("!!!", "bad_packed"),  # not base64
        (base64.b64encode(b"\xff\xff\xff garbage").decode(), "bad_packed"),  # not DEFLATE
        (_deflate(b'{"type":"ping","id":1,"sent_ms":1}')[:-8], "bad_packed"),  # truncated
        (_deflate(b'{"type":"ping","id":1,"sent_ms":"x"}'), "invalid"),  # inner off-protocol
        (_deflate(b"[" * 50 + b"]" * 50), "invalid"),  # inner not a frame
        (_deflate(p.pack(b'{"type":"ping","id":1,"sent_ms":1}')), "bad_packed"),  # nested
        (_deflate(p.encode(p.Chunk(id=1, index=0, count=1, data=""))), "bad_chunk"),
        # A bomb: 2 MB of spaces deflates to ~2 KB; inflating stops at the bound.
        (_deflate(b" " * (p.MAX_UNPACKED_BYTES + 10)), "too_large"),
    ],
)
def test_a_bad_packed_frame_raises_frame_error_with_a_code(data: str, code: str) -> None:
    with pytest.raises(p.FrameError) as caught:
        p.read_host_frame(p.encode(p.Packed(data=data)).decode(), p.Reassembler(4))
    assert caught.value.code == code
