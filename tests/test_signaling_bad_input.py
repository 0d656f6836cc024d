"""Hostile and broken clients against the real signaling server.

Every attack gets a typed error or a clean close, and a second, healthy room (another
address) keeps working during and after it. Clients claim addresses with X-Forwarded-For
(the server trusts it here) so per-IP limits can be told apart on loopback.
"""

from __future__ import annotations

import asyncio
import base64
import os
import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING

import aiohttp
import pytest

from signaling import protocol as p
from signaling.client import SignalingClient, SignalingClosed, SignalingRefused
from signaling.server import SignalingServer

if TYPE_CHECKING:
    from tests.signaling_fixtures import Connect, Start

pytest_plugins = ["tests.signaling_fixtures"]
WITHIN = 10.0  # a bound on waiting for one event, never a measured claim

ATTACKER = "10.66.0.1"
HONEST = "10.0.0.9"


@dataclass
class Room:
    host: SignalingClient
    player: SignalingClient
    code: str
    seat: int
    host_token: str
    seat_token: str


async def open_room(server: SignalingServer, connect: Connect, ip: str = HONEST) -> Room:
    host = await connect(server, ip)
    created = await host.create()
    player = await connect(server, ip)
    joined = await player.join(created.code, "Honest")
    await host.expect(p.PeerJoined, WITHIN)
    return Room(host, player, created.code, joined.seat, created.host_token, joined.seat_token)


async def assert_healthy(room: Room) -> None:
    """Signaling and relay both ways in the room, answered promptly and in order."""
    await room.host.send(p.Offer(seat=room.seat, sdp="v=0 healthy"))
    assert await room.player.expect(p.Offer, WITHIN) == p.Offer(sdp="v=0 healthy")
    await room.player.send(p.Relay(data='{"type":"ping"}'))
    assert await room.host.expect(p.Relay, WITHIN) == p.Relay(
        data='{"type":"ping"}', seat=room.seat
    )


async def expect_error(client: SignalingClient, code: str, about: str | None = None) -> p.Error:
    error = await client.expect(p.Error, WITHIN)
    assert error.code == code, error
    if about is not None:
        assert error.about == about, error
    return error


# ---- raw WebSocket, for partial frames and clients that never read ---------------------------


def masked_frame(payload: bytes, opcode: int = 0x1, declared: int | None = None) -> bytes:
    """A client->server frame; ``declared`` may claim more bytes than are sent."""
    length = len(payload) if declared is None else declared
    if length < 126:
        head = struct.pack("!BB", 0x80 | opcode, 0x80 | length)
    else:
        head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, length)
    mask = os.urandom(4)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


async def raw_socket(
    server: SignalingServer, ip: str = ATTACKER
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(
        (
            "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            f"Sec-WebSocket-Version: 13\r\nX-Forwarded-For: {ip}\r\n\r\n"
        ).encode()
    )
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), WITHIN)
    assert head.startswith(b"HTTP/1.1 101"), head
    return reader, writer


async def read_until_eof(reader: asyncio.StreamReader) -> bytes:
    return await asyncio.wait_for(reader.read(), WITHIN)


# ---- malformed frames --------------------------------------------------------------------------


async def test_non_json_and_binary_frames_get_bad_json(start: Start, connect: Connect) -> None:
    server = await start()
    healthy = await open_room(server, connect)
    bad = await connect(server)
    for frame in ("hello?", "{", "", "\x00\xff", '{"type": "join",'):
        await bad.send_raw(frame)
        await expect_error(bad, "bad_json")
    await bad.send_raw(b'{"type":"ping"}')
    await expect_error(bad, "bad_json")
    await assert_healthy(healthy)
    await bad.send(p.Ping(id=1))  # the socket is still usable
    assert await bad.expect(p.Pong, WITHIN) == p.Pong(id=1)


async def test_wrong_types_and_unknown_tags(start: Start, connect: Connect) -> None:
    server = await start()
    healthy = await open_room(server, connect)
    bad = await connect(server)
    cases = [
        ('{"type":"join","code":"ABCD","name":5}', "bad_message", "join"),
        ('{"type":"join","code":"AB!D","name":"x"}', "bad_message", "join"),
        ('{"type":"join","code":"ABCD","name":""}', "bad_message", "join"),
        ('{"type":"join","code":"ABCD","name":"' + "n" * 25 + '"}', "bad_message", "join"),
        ('{"type":"offer","sdp":""}', "bad_message", "offer"),
        ('{"type":"create","max_players":-1}', "bad_message", "create"),
        ('{"type":"ping","id":"one"}', "bad_message", "ping"),
        ("[1, 2]", "bad_message", None),
        ('{"type":7}', "bad_message", None),
        ('{"no_type":true}', "bad_message", None),
        ('{"type":"teleport"}', "unknown_type", None),
        ('{"type":"created","code":"ABCD"}', "unknown_type", None),  # server-only tag
    ]
    for frame, code, about in cases:
        await bad.send_raw(frame)
        await expect_error(bad, code, about)
    await bad.send(p.Join(code="ABCD", name="x", version=999))
    await expect_error(bad, "unsupported_version", "join")
    await assert_healthy(healthy)


async def test_join_name_with_control_characters_is_refused(start: Start, connect: Connect) -> None:
    server = await start()
    healthy = await open_room(server, connect)
    bad = await connect(server)
    await bad.send(p.Join(code=healthy.code, name="\u202eevil\x07"))
    await expect_error(bad, "bad_name", "join")
    await bad.send(p.Join(code=healthy.code, name="   "))
    await expect_error(bad, "bad_name", "join")
    await assert_healthy(healthy)


async def test_oversized_frames_get_an_error_then_a_close(start: Start, connect: Connect) -> None:
    server = await start(max_frame_bytes=4096)
    healthy = await open_room(server, connect)
    bad = await connect(server)
    await bad.send_raw('{"type":"ping","pad":"' + "x" * 5000 + '"}')
    await expect_error(bad, "too_large")
    await bad.send(p.Ping(id=2))
    assert await bad.expect(p.Pong, WITHIN) == p.Pong(id=2)
    await bad.send_raw("x" * 9000)  # over twice the limit: the socket goes
    with pytest.raises(SignalingClosed):
        await bad.receive(WITHIN)
    assert bad.ws.close_code == aiohttp.WSCloseCode.MESSAGE_TOO_BIG
    await assert_healthy(healthy)


# ---- rooms and tokens --------------------------------------------------------------------------


async def test_unknown_rooms_and_bad_or_stolen_tokens(start: Start, connect: Connect) -> None:
    server = await start()
    healthy = await open_room(server, connect)
    other = await open_room(server, connect, ip="10.0.0.10")
    bad = await connect(server)
    unused = next(c for c in ("ABCD", "BCDE", "CDEF") if c not in (healthy.code, other.code))
    await bad.send(p.Join(code=unused, name="x"))
    await expect_error(bad, "room_not_found", "join")
    # A seat token is only good in its own room, and a host token is no seat token.
    for token in (other.seat_token, healthy.host_token, "A" * 32):
        await bad.send(p.Join(code=healthy.code, name="x", seat_token=token))
        await expect_error(bad, "bad_token", "join")
    # Neither a seat token nor another room's host token opens a room as its host.
    for token in (healthy.seat_token, other.host_token):
        await bad.send(p.Create(code=healthy.code, host_token=token))
        await expect_error(bad, "bad_token", "create")
    await bad.send(p.Create(code=healthy.code))
    await expect_error(bad, "bad_message", "create")
    await bad.send(p.Create(code="IOLX", host_token="A" * 32))  # not a code we would make
    await expect_error(bad, "bad_message", "create")
    await assert_healthy(healthy)
    await assert_healthy(other)


async def test_guessing_codes_runs_out_of_budget(start: Start, connect: Connect) -> None:
    server = await start(join_failure_burst=5, join_failure_rate=0.001)
    healthy = await open_room(server, connect)
    guesser = await connect(server)
    codes = [c for c in ("ABCD", "BCDE", "CDEF", "DEFG", "EFGH", "FGHJ") if c != healthy.code]
    for code in codes[:5]:
        await guesser.send(p.Join(code=code, name="g"))
        await expect_error(guesser, "room_not_found")
    # Out of guesses: even the right code is refused from this address now.
    await guesser.send(p.Join(code=healthy.code, name="g"))
    await expect_error(guesser, "rate_limited", "join")
    newcomer = await connect(server, ip="10.0.0.11")
    assert (await newcomer.join(healthy.code, "New")).seat == 2
    assert (await healthy.host.expect(p.PeerJoined, WITHIN)).name == "New"
    await assert_healthy(healthy)


async def test_creating_rooms_is_rate_limited_per_address(start: Start, connect: Connect) -> None:
    server = await start(create_burst=3, create_rate=0.001)
    healthy = await open_room(server, connect)
    spammer = [await connect(server) for _ in range(4)]
    for client in spammer[:3]:
        await client.create()
    await spammer[3].send(p.Create())
    await expect_error(spammer[3], "rate_limited", "create")
    assert server.service.room_count == 4
    await assert_healthy(healthy)


# ---- roles -------------------------------------------------------------------------------------


async def test_players_cannot_act_as_the_host(start: Start, connect: Connect) -> None:
    server = await start()
    healthy = await open_room(server, connect)
    mallory = await connect(server)
    seat = (await mallory.join(healthy.code, "Mallory")).seat
    assert (await healthy.host.expect(p.PeerJoined, WITHIN)).seat == seat
    await mallory.send(p.Kick(seat=healthy.seat))
    await expect_error(mallory, "host_only", "kick")
    for message in (
        p.Offer(seat=healthy.seat, sdp="v=0 evil"),
        p.Candidate(seat=healthy.seat, candidate="candidate:evil"),
        p.Relay(seat=healthy.seat, data='{"type":"view"}'),
        p.EndOfCandidates(seat=healthy.seat),
    ):
        await mallory.send(message)
        await expect_error(mallory, "host_only")
    await assert_healthy(healthy)  # the honest player received nothing of Mallory's


async def test_out_of_order_and_misaddressed_messages(start: Start, connect: Connect) -> None:
    server = await start()
    healthy = await open_room(server, connect)
    early = await connect(server)
    await early.send(p.Offer(sdp="v=0"))
    await expect_error(early, "not_in_room", "offer")
    await early.send(p.Leave())
    await expect_error(early, "not_in_room", "leave")
    await healthy.player.send(p.Join(code=healthy.code, name="again"))
    await expect_error(healthy.player, "already_in_room", "join")
    await healthy.host.send(p.Create())
    await expect_error(healthy.host, "already_in_room", "create")
    await healthy.host.send(p.Offer(sdp="v=0"))
    await expect_error(healthy.host, "bad_message", "offer")
    await healthy.host.send(p.Offer(seat=99, sdp="v=0"))
    await expect_error(healthy.host, "no_such_seat", "offer")
    await healthy.host.send(p.Kick(seat=99))
    await expect_error(healthy.host, "no_such_seat", "kick")
    gone = await connect(server, HONEST)
    gone_seat = (await gone.join(healthy.code, "Gone")).seat
    await healthy.host.expect(p.PeerJoined, WITHIN)
    await gone.close()
    await healthy.host.expect(p.PeerLeft, WITHIN)
    await healthy.host.send(p.Relay(seat=gone_seat, data="{}"))
    await expect_error(healthy.host, "peer_offline", "relay")
    await assert_healthy(healthy)


# ---- floods and slow clients -------------------------------------------------------------------


async def test_a_flooding_client_is_throttled_then_closed(start: Start, connect: Connect) -> None:
    server = await start(player_message_rate=1.0, player_message_burst=10, flood_strikes=30)
    healthy = await open_room(server, connect)
    flooder = await connect(server)
    flood_seat = (await flooder.join(healthy.code, "Flood")).seat
    await healthy.host.expect(p.PeerJoined, WITHIN)
    for i in range(200):
        await flooder.send(p.Ping(id=i))
    answers: list[p.ServerMessage] = []
    with pytest.raises(SignalingClosed):
        while True:
            answers.append(await flooder.receive(WITHIN))
    assert flooder.ws.close_code == aiohttp.WSCloseCode.POLICY_VIOLATION
    pongs = [a for a in answers if isinstance(a, p.Pong)]
    limited = [a for a in answers if isinstance(a, p.Error) and a.code == "rate_limited"]
    assert 1 <= len(pongs) < 200 and limited
    assert await healthy.host.expect(p.PeerLeft, WITHIN) == p.PeerLeft(
        seat=flood_seat, reason="disconnected"
    )
    await assert_healthy(healthy)


async def test_per_address_message_budget_spares_other_addresses(
    start: Start, connect: Connect
) -> None:
    server = await start(ip_message_rate=0.001, ip_message_burst=20, flood_strikes=1000)
    healthy = await open_room(server, connect)
    sockets = [await connect(server) for _ in range(3)]
    for _ in range(10):
        for s in sockets:
            await s.send(p.Ping())
    refused = 0
    for s in sockets:
        for _ in range(10):
            answer = await s.receive(WITHIN)
            refused += isinstance(answer, p.Error) and answer.code == "rate_limited"
    assert refused == 10  # 30 pings, a budget of 20 for the whole address
    await assert_healthy(healthy)


async def test_too_many_sockets_from_one_address(start: Start, connect: Connect) -> None:
    server = await start(max_sockets_per_ip=2)
    healthy = await open_room(server, connect)
    await connect(server)
    await connect(server)
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await connect(server)
    assert refused.value.status == 503
    await assert_healthy(healthy)


async def test_origins_outside_the_allowed_list_are_refused(start: Start, connect: Connect) -> None:
    server = await start(allowed_origins=["http://party.example"])
    healthy = await open_room(server, connect)  # Python clients send no Origin
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await connect(server, origin="http://evil.example")
    assert refused.value.status == 403
    fine = await connect(server, origin="http://party.example")
    await fine.send(p.Ping(id=3))
    assert await fine.expect(p.Pong, WITHIN) == p.Pong(id=3)
    await assert_healthy(healthy)


async def test_slowloris_that_never_joins_is_closed(start: Start, connect: Connect) -> None:
    server = await start(handshake_timeout=0.3)
    silent = await connect(server)
    healthy = await open_room(server, connect)
    await expect_error(silent, "handshake_timeout")
    assert await silent.wait_closed(WITHIN) == aiohttp.WSCloseCode.POLICY_VIOLATION
    await assert_healthy(healthy)


async def test_slowloris_with_a_partial_frame_is_closed(start: Start, connect: Connect) -> None:
    server = await start(handshake_timeout=0.3)
    healthy = await open_room(server, connect)
    reader, writer = await raw_socket(server)
    writer.write(masked_frame(b'{"type":"jo', declared=100))  # 11 of 100 bytes, then nothing
    await writer.drain()
    received = await read_until_eof(reader)
    assert b'"handshake_timeout"' in received
    writer.close()
    await assert_healthy(healthy)


async def test_a_joined_client_stuck_mid_frame_is_dropped_by_the_heartbeat(
    start: Start, connect: Connect
) -> None:
    server = await start(heartbeat=1.0)
    healthy = await open_room(server, connect)
    # The honest clients keep reading, as real ones do, so they answer the heartbeat.
    player_next = asyncio.create_task(healthy.player.receive(WITHIN))

    async def host_sees() -> tuple[p.PeerJoined, p.PeerLeft]:
        return (
            await healthy.host.expect(p.PeerJoined, WITHIN),
            await healthy.host.expect(p.PeerLeft, WITHIN),
        )

    host_events = asyncio.create_task(host_sees())
    reader, writer = await raw_socket(server)
    writer.write(masked_frame(p.encode(p.Join(code=healthy.code, name="Stuck")).encode()))
    writer.write(masked_frame(b'{"type":"ping"', declared=120))
    await writer.drain()
    await read_until_eof(reader)  # the server gave up on it (no pong: it never reads)
    joined, left = await host_events
    assert (joined.name, left.seat, left.reason) == ("Stuck", joined.seat, "disconnected")
    writer.close()
    await healthy.host.send(p.Offer(seat=healthy.seat, sdp="v=0 still here"))
    assert await player_next == p.Offer(sdp="v=0 still here")
    await assert_healthy(healthy)


async def test_a_client_that_never_reads_is_dropped_not_waited_for(
    start: Start, connect: Connect
) -> None:
    server = await start(
        max_outbox_bytes=256 * 1024, relay_bytes_per_second=1e9, relay_burst_bytes=10**9
    )
    healthy = await open_room(server, connect)
    _reader, writer = await raw_socket(server, ip="10.0.0.12")
    writer.write(masked_frame(p.encode(p.Join(code=healthy.code, name="Sleepy")).encode()))
    await writer.drain()
    seat = (await healthy.host.expect(p.PeerJoined, WITHIN)).seat
    chunk = "z" * p.MAX_RELAY_CHARS
    # Far more than kernel buffers hold: the server must give up on this reader.
    left: p.PeerLeft | None = None
    for _ in range(4000):
        await healthy.host.send(p.Relay(seat=seat, data=chunk))
        await healthy.host.send(p.Ping())
        answer = await healthy.host.receive(WITHIN)
        while isinstance(answer, p.Error | p.PeerLeft):
            if isinstance(answer, p.PeerLeft):
                left = answer
            answer = await healthy.host.receive(WITHIN)
        assert isinstance(answer, p.Pong)
        if left is not None:
            break
    assert left == p.PeerLeft(seat=seat, reason="disconnected")
    writer.close()
    await assert_healthy(healthy)


async def test_refused_join_does_not_consume_a_seat(start: Start, connect: Connect) -> None:
    server = await start()
    healthy = await open_room(server, connect)
    bad = await connect(server)
    with pytest.raises(SignalingRefused):
        await bad.join(healthy.code, "x", seat_token="B" * 32)
    assert (await bad.join(healthy.code, "Late")).seat == 2


async def test_forwarded_for_is_ignored_unless_trusted(start: Start, connect: Connect) -> None:
    server = await start(trust_forwarded_for=False, max_sockets_per_ip=2)
    await connect(server, "10.0.0.21")
    await connect(server, "10.0.0.22")
    # Claimed addresses differ, but the server counts the real one (loopback) for all three.
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await connect(server, "10.0.0.23")
    assert refused.value.status == 503
