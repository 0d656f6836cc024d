"""The signaling service, real server on a free loopback port, real WebSocket clients."""

from __future__ import annotations

from typing import TYPE_CHECKING

import aiohttp
import pytest

from signaling import protocol as p
from signaling.client import SignalingRefused
from signaling.rooms import InMemoryRoomStore, RoomRecord
from signaling.service import SignalingService
from signaling.settings import SignalingSettings
from turn.ice_servers import IceServer

if TYPE_CHECKING:
    from tests.signaling_fixtures import Connect, Start

pytest_plugins = ["tests.signaling_fixtures"]
WITHIN = 10.0  # a bound on waiting for one event, never a measured claim


async def test_create_join_and_route_signaling_both_ways(start: Start, connect: Connect) -> None:
    server = await start()
    host = await connect(server)
    created = await host.create()
    assert len(created.code) == 4 and all(c in p.ROOM_CODE_ALPHABET for c in created.code)
    assert created.ice_servers == [] and not created.resumed

    ana = await connect(server)
    joined = await ana.join(created.code.lower(), "  Ana  ")  # case and spaces forgiven
    assert (joined.code, joined.seat, joined.name) == (created.code, 1, "Ana")
    assert joined.host_connected
    peer = await host.expect(p.PeerJoined, WITHIN)
    assert (peer.seat, peer.name, peer.seat_token, peer.resumed) == (
        1,
        "Ana",
        joined.seat_token,
        False,
    )

    bob = await connect(server)
    bob_joined = await bob.join(created.code, "ana")  # a name already taken gets a suffix
    assert (bob_joined.seat, bob_joined.name) == (2, "ana 2")
    await host.expect(p.PeerJoined, WITHIN)

    await host.send(p.Offer(seat=2, sdp="v=0 offer for bob"))
    assert await bob.expect(p.Offer, WITHIN) == p.Offer(sdp="v=0 offer for bob")
    await bob.send(p.Answer(sdp="v=0 answer"))
    assert await host.expect(p.Answer, WITHIN) == p.Answer(sdp="v=0 answer", seat=2)
    line = "candidate:1 1 UDP 2122252543 10.231.0.2 50000 typ host"
    await host.send(p.Candidate(seat=1, candidate=line, sdpMid="0", sdpMLineIndex=0))
    assert await ana.expect(p.Candidate, WITHIN) == p.Candidate(
        candidate=line, sdpMid="0", sdpMLineIndex=0
    )
    await ana.send(p.Candidate(candidate=line, sdpMid="0"))
    assert await host.expect(p.Candidate, WITHIN) == p.Candidate(candidate=line, sdpMid="0", seat=1)
    await ana.send(p.EndOfCandidates())
    assert await host.expect(p.EndOfCandidates, WITHIN) == p.EndOfCandidates(seat=1)
    await host.send(p.EndOfCandidates(seat=1))
    assert await ana.expect(p.EndOfCandidates, WITHIN) == p.EndOfCandidates()
    # Bob saw nothing meant for Ana: his next message is the answer to his own ping.
    await bob.send(p.Ping(id=7))
    assert await bob.expect(p.Pong, WITHIN) == p.Pong(id=7)


async def test_relay_frames_flow_both_ways_and_are_counted(start: Start, connect: Connect) -> None:
    server = await start()
    host = await connect(server)
    code = (await host.create()).code
    player = await connect(server)
    seat = (await player.join(code, "Cy")).seat
    await host.expect(p.PeerJoined, WITHIN)
    frame = '{"type":"hello","version":1,"name":"Cy \\"quoted\\" ü"}'
    await player.send(p.Relay(data=frame))
    assert await host.expect(p.Relay, WITHIN) == p.Relay(data=frame, seat=seat)
    big = "x" * p.MAX_RELAY_CHARS
    await host.send(p.Relay(seat=seat, data=big))
    assert (await player.expect(p.Relay, WITHIN)).data == big
    assert server.service.metrics.relayed_frames == 2
    assert server.service.metrics.relayed_bytes == len(frame.encode()) + len(big)


async def test_relay_byte_rate_is_capped_per_room(start: Start, connect: Connect) -> None:
    server = await start(relay_bytes_per_second=1.0, relay_burst_bytes=1000)
    host = await connect(server)
    code = (await host.create()).code
    player = await connect(server)
    seat = (await player.join(code, "Di")).seat
    await host.expect(p.PeerJoined, WITHIN)
    await host.send(p.Relay(seat=seat, data="a" * 900))
    assert (await player.expect(p.Relay, WITHIN)).data == "a" * 900
    await host.send(p.Relay(seat=seat, data="b" * 900))
    error = await host.expect(p.Error, WITHIN)
    assert (error.code, error.about) == ("relay_limited", "relay")
    # Signaling itself is not capped by the relay budget.
    await host.send(p.Offer(seat=seat, sdp="v=0"))
    assert await player.expect(p.Offer, WITHIN) == p.Offer(sdp="v=0")


async def test_ice_servers_come_from_the_provider_per_client(
    start: Start, connect: Connect
) -> None:
    asked: list[str] = []

    def provider(client_id: str) -> list[IceServer]:
        asked.append(client_id)
        return [
            IceServer(urls=["stun:10.231.0.1:3478"]),
            IceServer(urls=["turn:10.231.0.1:3478"], username=f"9:{client_id}", credential="pw"),
        ]

    server = await start(ice_provider=provider)
    host = await connect(server)
    created = await host.create()
    player = await connect(server)
    joined = await player.join(created.code, "Eve")
    assert created.ice_servers[1].username == f"9:{created.code}-host"
    assert joined.ice_servers[1].username == f"9:{created.code}-s1"
    assert asked == [f"{created.code}-host", f"{created.code}-s1"]


async def test_a_failing_ice_provider_gives_an_empty_list(start: Start, connect: Connect) -> None:
    def broken(client_id: str) -> list[IceServer]:
        raise RuntimeError("TURN secret file vanished")

    server = await start(ice_provider=broken)
    host = await connect(server)
    assert (await host.create()).ice_servers == []


async def test_player_resumes_its_seat_with_its_token(start: Start, connect: Connect) -> None:
    server = await start()
    host = await connect(server)
    code = (await host.create()).code
    first = await connect(server)
    joined = await first.join(code, "Fay")
    await host.expect(p.PeerJoined, WITHIN)
    await first.close()
    assert await host.expect(p.PeerLeft, WITHIN) == p.PeerLeft(seat=1, reason="disconnected")

    again = await connect(server)
    back = await again.join(code, "ignored", seat_token=joined.seat_token)
    assert (back.seat, back.name, back.seat_token, back.resumed) == (
        1,
        "Fay",
        joined.seat_token,
        True,
    )
    assert await host.expect(p.PeerJoined, WITHIN) == p.PeerJoined(
        seat=1, name="Fay", seat_token=joined.seat_token, resumed=True
    )
    # A second socket resuming the same seat replaces the first one.
    third = await connect(server)
    await third.join(code, "Fay", seat_token=joined.seat_token)
    assert await again.expect(p.RoomClosed, WITHIN) == p.RoomClosed(reason="replaced")
    await again.wait_closed(WITHIN)
    assert (await host.expect(p.PeerJoined, WITHIN)).resumed
    await host.send(p.Offer(seat=1, sdp="v=0"))
    assert await third.expect(p.Offer, WITHIN) == p.Offer(sdp="v=0")


async def test_host_leave_ends_the_room_for_everyone(start: Start, connect: Connect) -> None:
    server = await start()
    host = await connect(server)
    code = (await host.create()).code
    player = await connect(server)
    await player.join(code, "Gus")
    await host.expect(p.PeerJoined, WITHIN)
    await host.send(p.Leave())
    assert await player.expect(p.RoomClosed, WITHIN) == p.RoomClosed(reason="host-left")
    assert await host.expect(p.RoomClosed, WITHIN) == p.RoomClosed(reason="host-left")
    await player.wait_closed(WITHIN)
    late = await connect(server)
    with pytest.raises(SignalingRefused) as refused:
        await late.join(code, "Hal")
    assert refused.value.error.code == "room_not_found"


async def test_host_gone_past_the_grace_period_ends_the_room(
    start: Start, connect: Connect
) -> None:
    server = await start(host_grace=0.2)
    host = await connect(server)
    code = (await host.create()).code
    player = await connect(server)
    await player.join(code, "Ida")
    await host.close()
    assert await player.expect(p.HostStatus, WITHIN) == p.HostStatus(connected=False)
    assert await player.expect(p.RoomClosed, WITHIN) == p.RoomClosed(reason="host-timeout")
    await player.wait_closed(WITHIN)
    assert server.service.room_count == 0


# A host back within the grace period keeps its room: the routing suite's
# test_host_back_through_another_node_within_grace_keeps_the_room runs that scenario on the
# in-memory backend (one server, as here) and on Redis (tests/test_signaling_redis_routing.py).


async def test_restarted_host_recreates_its_room_and_seats_on_a_new_server(
    start: Start, connect: Connect
) -> None:
    first_server = await start()
    host = await connect(first_server)
    created = await host.create()
    player = await connect(first_server)
    joined = await player.join(created.code, "Kim")
    peer = await host.expect(p.PeerJoined, WITHIN)
    await first_server.stop()  # the embedded server dies with its host

    second_server = await start()
    host2 = await connect(second_server)
    seats = [p.SeatInfo(seat=peer.seat, name=peer.name, seat_token=peer.seat_token)]
    again = await host2.create(code=created.code, host_token=created.host_token, seats=seats)
    assert (again.code, again.resumed, again.seats) == (created.code, False, seats)
    player2 = await connect(second_server)
    back = await player2.join(created.code, "Kim", seat_token=joined.seat_token)
    assert (back.seat, back.resumed) == (1, True)
    newcomer = await connect(second_server)
    assert (await newcomer.join(created.code, "Lu")).seat == 2  # no seat handed out twice


async def test_kick_and_leave_free_seats_and_kill_their_tokens(
    start: Start, connect: Connect
) -> None:
    server = await start()
    host = await connect(server)
    code = (await host.create(max_players=2)).code
    mo = await connect(server)
    mo_joined = await mo.join(code, "Mo")
    ned = await connect(server)
    await ned.join(code, "Ned")
    await host.expect(p.PeerJoined, WITHIN)
    await host.expect(p.PeerJoined, WITHIN)
    full = await connect(server)
    with pytest.raises(SignalingRefused) as refused:
        await full.join(code, "Oz")
    assert refused.value.error.code == "room_full"

    await host.send(p.Kick(seat=1, reason="flooding"))
    assert await mo.expect(p.RoomClosed, WITHIN) == p.RoomClosed(reason="kicked")
    assert await host.expect(p.PeerLeft, WITHIN) == p.PeerLeft(seat=1, reason="kicked")
    await ned.send(p.Leave())
    assert await host.expect(p.PeerLeft, WITHIN) == p.PeerLeft(seat=2, reason="left")
    await ned.wait_closed(WITHIN)
    retry = await connect(server)
    with pytest.raises(SignalingRefused) as refused:
        await retry.join(code, "Mo", seat_token=mo_joined.seat_token)
    assert refused.value.error.code == "bad_token"
    assert (await retry.join(code, "Pia")).seat == 3


async def test_idle_rooms_close(start: Start, connect: Connect) -> None:
    server = await start(idle_timeout=0.2)
    host = await connect(server)
    await host.create()
    assert await host.expect(p.RoomClosed, WITHIN) == p.RoomClosed(reason="idle")
    await host.wait_closed(WITHIN)


async def test_server_limits_rooms(start: Start, connect: Connect) -> None:
    server = await start(max_rooms=1)
    await (await connect(server)).create()
    second = await connect(server)
    with pytest.raises(SignalingRefused) as refused:
        await second.create()
    assert refused.value.error.code == "too_many_rooms"


async def test_stopping_the_server_closes_rooms_cleanly(start: Start, connect: Connect) -> None:
    server = await start()
    host = await connect(server)
    code = (await host.create()).code
    player = await connect(server)
    await player.join(code, "Quin")
    await server.stop()
    assert await player.expect(p.RoomClosed, WITHIN) == p.RoomClosed(reason="shutdown")


async def test_pages_health_and_metrics(start: Start, connect: Connect) -> None:
    server = await start()
    host = await connect(server)
    code = (await host.create()).code
    player = await connect(server)
    await player.join(code, "Rex")
    await player.send_raw("not json")
    await player.expect(p.Error, WITHIN)
    async with aiohttp.ClientSession() as http:
        for path in ("/", f"/r/{code}", f"/board/{code}"):
            async with http.get(server.url + path) as resp:
                assert resp.status == 200, path
                assert "<html" in await resp.text()
        async with http.get(server.url + "/r/no-such-code!") as resp:
            assert resp.status == 404
        async with http.get(server.url + "/healthz") as resp:
            health = await resp.json()
        assert (health["status"], health["rooms"], health["clients"]) == ("ok", 1, 2)
        async with http.get(server.url + "/metrics") as resp:
            text = await resp.text()
    assert "quibble_signaling_rooms 1\n" in text
    assert "quibble_signaling_clients 2\n" in text
    assert 'quibble_signaling_messages_total{type="join"} 1\n' in text
    assert 'quibble_signaling_rejected_total{reason="bad_json"} 1\n' in text


class RecordingOutbox:
    """An outbox that keeps what it was sent (for service tests without sockets)."""

    def __init__(self) -> None:
        self.frames: list[p.ServerMessage] = []
        self.closing = False

    def send(self, frame: str) -> bool:
        self.frames.append(p.decode_server(frame))
        return not self.closing

    def close(self, code: int = 1000, message: str = "") -> None:
        self.closing = True


async def test_pings_keep_a_quiet_room_open_and_silence_closes_it() -> None:
    now = [1000.0]
    service = SignalingService(SignalingSettings(idle_timeout=60), clock=lambda: now[0])
    host_box = RecordingOutbox()
    host = service.connect("10.0.0.1", host_box)
    await service.handle_frame(host, p.encode(p.Create()))
    created = host_box.frames[0]
    assert isinstance(created, p.Created)
    for _ in range(5):  # 5 minutes of pings every 50 s: the room stays
        now[0] += 50
        await service.handle_frame(host, p.encode(p.Ping()))
        assert await service.sweep_idle() == 0
    now[0] += 61
    assert await service.sweep_idle() == 1
    assert host_box.frames[-1] == p.RoomClosed(reason="idle") and host_box.closing
    assert await service.store.get_room(created.code) is None


class FlakyStore(InMemoryRoomStore):
    """A store whose lookups fail, as a networked one might."""

    async def get_room(self, code: str) -> RoomRecord | None:
        raise ConnectionError("store unreachable")


async def test_a_failing_store_costs_one_message_not_the_service() -> None:
    service = SignalingService(SignalingSettings(), store=FlakyStore())
    box = RecordingOutbox()
    client = service.connect("10.0.0.1", box)
    await service.handle_frame(client, p.encode(p.Join(code="ABCD", name="Ann")))
    assert box.frames == [p.Error(code="internal", message="server error; try again", about="join")]
    await service.handle_frame(client, p.encode(p.Ping(id=4)))
    assert box.frames[-1] == p.Pong(id=4) and not box.closing
