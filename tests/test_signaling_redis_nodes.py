"""Redis backend only: nodes leaving, Redis itself lost and back, health and metrics per node.

Nodes are in-process servers here (fast); tests/net/test_signaling_redis_cluster.py runs the
same situations with real `quibble signal` processes killed with SIGKILL.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp
import pytest

from signaling import protocol as p
from signaling.backend import BackendUnavailable
from signaling.client import SignalingRefused
from signaling.server import SignalingServer
from signaling.settings import SignalingSettings
from tests.redis_server import RedisServer, eventually, free_port, unique_prefix

if TYPE_CHECKING:
    from tests.signaling_fixtures import Connect

pytest_plugins = ["tests.signaling_fixtures", "tests.signaling_redis_fixtures"]
WITHIN = 10.0  # a bound on waiting for one event, never a measured claim


class Nodes:
    """In-process Redis nodes sharing one prefix."""

    def __init__(self, redis_url: str, **overrides: Any) -> None:
        self.settings = SignalingSettings(
            trust_forwarded_for=True,
            heartbeat=5.0,
            redis_url=redis_url,
            redis_prefix=unique_prefix(),
            node_heartbeat=0.2,
            node_timeout=1.0,
            **overrides,
        )
        self.servers: list[SignalingServer] = []

    async def start(self) -> SignalingServer:
        server = SignalingServer(self.settings, host="127.0.0.1", port=0)
        await server.start()
        self.servers.append(server)
        return server

    async def stop(self) -> None:
        for server in self.servers:
            await server.stop()


@pytest.fixture
async def nodes(redis_server: RedisServer) -> Any:
    made: list[Nodes] = []

    def _make(**overrides: Any) -> Nodes:
        made.append(Nodes(redis_server.url, **overrides))
        return made[-1]

    yield _make
    for n in made:
        await n.stop()


async def _health(server: SignalingServer) -> tuple[int, dict[str, Any]]:
    async with aiohttp.ClientSession() as http, http.get(server.url + "/healthz") as resp:
        return resp.status, await resp.json()


async def _metrics(server: SignalingServer) -> str:
    async with aiohttp.ClientSession() as http, http.get(server.url + "/metrics") as resp:
        return await resp.text()


async def test_a_node_going_away_hands_its_clients_over(nodes: Any, connect: Connect) -> None:
    cluster = nodes(host_grace=60)
    a, b, c = cluster.start(), cluster.start(), cluster.start()
    a, b, c = await a, await b, await c
    host = await connect(a)
    created = await host.create()
    player = await connect(b)
    joined = await player.join(created.code, "Bea")
    await host.expect(p.PeerJoined, WITHIN)

    await b.stop()  # node B leaves: its sockets close
    await player.wait_closed(WITHIN)
    # A surviving node notices B is gone and tells the host, as if the socket had closed.
    assert await host.expect(p.PeerLeft, WITHIN) == p.PeerLeft(seat=1, reason="disconnected")
    assert a.service.metrics.nodes_reaped + c.service.metrics.nodes_reaped == 1

    back = await connect(c)
    again = await back.join(created.code, "Bea", seat_token=joined.seat_token)
    assert (again.seat, again.resumed) == (1, True)
    assert (await host.expect(p.PeerJoined, WITHIN)).resumed
    await host.send(p.Relay(seat=1, data="still here"))
    assert await back.expect(p.Relay, WITHIN) == p.Relay(data="still here")

    # Now the host's node goes: players are told, and the room waits for the host's return.
    await a.stop()
    assert await back.expect(p.HostStatus, WITHIN) == p.HostStatus(connected=False)
    host2 = await connect(c)
    resumed = await host2.create(code=created.code, host_token=created.host_token)
    assert resumed.resumed and [s.seat for s in resumed.seats] == [1]
    assert await back.expect(p.HostStatus, WITHIN) == p.HostStatus(connected=True)


async def test_host_on_a_dead_node_that_never_returns_times_the_room_out(
    nodes: Any, connect: Connect
) -> None:
    cluster = nodes(host_grace=0.5)
    a = await cluster.start()
    b = await cluster.start()
    host = await connect(a)
    code = (await host.create()).code
    player = await connect(b)
    await player.join(code, "Cal")
    await a.stop()
    assert await player.expect(p.HostStatus, WITHIN) == p.HostStatus(connected=False)
    assert await player.expect(p.RoomClosed, WITHIN) == p.RoomClosed(reason="host-timeout")
    late = await connect(b)
    with pytest.raises(SignalingRefused) as refused:
        await late.join(code, "Late")
    assert refused.value.error.code == "room_not_found"


async def test_redis_lost_mid_run_is_reported_and_rooms_survive_its_return(
    tmp_path: Path, connect: Connect
) -> None:
    redis = RedisServer(tmp_path, persistent=True)
    redis.start()
    cluster = Nodes(redis.url, host_grace=60)
    try:
        a, b = await cluster.start(), await cluster.start()
        host = await connect(a)
        created = await host.create()
        ana = await connect(b)
        joined = await ana.join(created.code, "Ana")
        await host.expect(p.PeerJoined, WITHIN)
        assert (await _health(a))[0] == 200

        redis.kill()
        status, health = await _health(b)
        assert status == 503 and health["status"] == "degraded"
        assert health["backend"]["backend"] == "redis" and not health["backend"]["ok"]
        assert "Redis unreachable" in health["backend"]["detail"]
        assert "quibble_signaling_backend_up{" in (metrics := await _metrics(b))
        assert f'node="{b.service.backend.node_id}"}} 0' in metrics
        newcomer = await connect(a)
        with pytest.raises(SignalingRefused) as refused:
            await newcomer.join(created.code, "Ned")
        assert refused.value.error.code == "unavailable"
        await host.send(p.Offer(seat=1, sdp="v=0 while down"))
        assert (await host.expect(p.Error, WITHIN)).code == "unavailable"

        redis.start()  # same port and directory: its append-only file has every write
        await eventually(lambda: _ok(a), WITHIN)
        await eventually(lambda: _ok(b), WITHIN)
        # Nothing was lost or corrupted: the same room, seats and tokens, routing again.
        await host.send(p.Offer(seat=1, sdp="v=0 after"))
        assert await ana.expect(p.Offer, WITHIN) == p.Offer(sdp="v=0 after")
        assert (await newcomer.join(created.code, "Ned")).seat == 2
        assert (await host.expect(p.PeerJoined, WITHIN)).seat == 2
        await ana.close()  # no node was taken for dead while Redis was away: B still had Ana
        assert await host.expect(p.PeerLeft, WITHIN) == p.PeerLeft(seat=1, reason="disconnected")
        again = await connect(a)
        assert (await again.join(created.code, "x", seat_token=joined.seat_token)).seat == 1
    finally:
        await cluster.stop()
        redis.kill()


async def _ok(server: SignalingServer) -> bool:
    return (await _health(server))[0] == 200


async def test_redis_unreachable_at_start_is_a_clear_error() -> None:
    port = free_port()  # nothing listens there
    server = SignalingServer(
        SignalingSettings(redis_url=f"redis://:s3cret@127.0.0.1:{port}/0"),
        host="127.0.0.1",
        port=0,
    )
    with pytest.raises(BackendUnavailable) as failed:
        await server.start()
    message = str(failed.value)
    assert f"cannot reach Redis at redis://:***@127.0.0.1:{port}/0" in message
    assert "s3cret" not in message


async def test_health_and_metrics_name_the_node(nodes: Any, connect: Connect) -> None:
    cluster = nodes()
    a, b = await cluster.start(), await cluster.start()
    host = await connect(a)
    code = (await host.create()).code
    await (await connect(b)).join(code, "Mel")
    await host.expect(p.PeerJoined, WITHIN)
    for server in (a, b):
        status, health = await _health(server)
        assert status == 200 and health["status"] == "ok"
        assert health["backend"] == {
            "backend": "redis", "ok": True, "node": server.service.backend.node_id
        }
    assert (await _health(a))[1]["rooms"] == 1  # rooms whose host is on this node
    assert (await _health(b))[1]["clients"] == 1
    text = await _metrics(b)
    node = b.service.backend.node_id
    assert f'quibble_signaling_backend_up{{backend="redis",node="{node}"}} 1' in text
    assert 'quibble_signaling_bus_frames_total{direction="out"}' in text  # peer-joined to A
    assert await a.service.store.count_rooms() == 1


def test_bus_payloads_carry_several_items_and_garbage_is_refused() -> None:
    import msgspec

    from signaling.redis_protocol import CloseSeat, Deliver, decode_bus, encode_bus

    one = Deliver(code="ABCD", seat=2, frame='{"type":"pong","id":1}')
    two = CloseSeat(code="ABCD", seat=0, frame='{"type":"room-closed","reason":"kicked"}')
    assert decode_bus(encode_bus(one) + encode_bus(two)) == [one, two]
    for bad in (encode_bus(one)[:-1], b"\x00\x00\x00\x02\x91", b"\x00\x01"):
        with pytest.raises((msgspec.DecodeError, msgspec.ValidationError)):
            decode_bus(bad)


async def test_a_node_leaving_during_a_host_grace_hands_the_grace_over(
    nodes: Any, connect: Connect
) -> None:
    cluster = nodes(host_grace=1.5)
    a, b = await cluster.start(), await cluster.start()
    host = await connect(a)
    code = (await host.create()).code
    player = await connect(b)
    await player.join(code, "Gil")
    await host.close()
    assert await player.expect(p.HostStatus, WITHIN) == p.HostStatus(connected=False)
    await a.stop()  # A was keeping the grace period: B must keep it now, and end the room
    assert await player.expect(p.HostStatus, WITHIN) == p.HostStatus(connected=False)
    assert await player.expect(p.RoomClosed, WITHIN) == p.RoomClosed(reason="host-timeout")
    assert b.service.metrics.nodes_reaped == 1
