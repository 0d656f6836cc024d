"""One routing suite, two backends: in memory (one node) and Redis (three nodes, one Redis).

Each test puts the host on node 0 and players on nodes 1 and 2. With the in-memory backend
those are the same server, so the suite pins down that the Redis backend behaves exactly
like the single process does, and that nothing leaks between players across nodes.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import pytest

from signaling import protocol as p
from signaling.client import SignalingRefused

if TYPE_CHECKING:
    from tests.signaling_fixtures import Connect
    from tests.signaling_redis_fixtures import MakeCluster

pytest_plugins = ["tests.signaling_fixtures", "tests.signaling_redis_fixtures"]
WITHIN = 10.0  # a bound on waiting for one event, never a measured claim


async def test_host_and_players_on_different_nodes_signal_both_ways(
    make_cluster: MakeCluster, connect: Connect
) -> None:
    cluster = await make_cluster()
    host = await connect(await cluster.node(0))
    created = await host.create()
    ana = await connect(await cluster.node(1))
    joined = await ana.join(created.code, "Ana")
    assert (joined.seat, joined.name, joined.host_connected) == (1, "Ana", True)
    assert await host.expect(p.PeerJoined, WITHIN) == p.PeerJoined(
        seat=1, name="Ana", seat_token=joined.seat_token
    )
    bob = await connect(await cluster.node(2))
    assert (await bob.join(created.code, "ANA")).name == "ANA 2"  # unique across nodes
    await host.expect(p.PeerJoined, WITHIN)

    await host.send(p.Offer(seat=2, sdp="v=0 for bob"))
    assert await bob.expect(p.Offer, WITHIN) == p.Offer(sdp="v=0 for bob")
    await bob.send(p.Answer(sdp="v=0 answer"))
    assert await host.expect(p.Answer, WITHIN) == p.Answer(sdp="v=0 answer", seat=2)
    line = "candidate:1 1 UDP 2122252543 10.231.0.2 50000 typ host"
    await ana.send(p.Candidate(candidate=line, sdpMid="0"))
    assert await host.expect(p.Candidate, WITHIN) == p.Candidate(candidate=line, sdpMid="0", seat=1)
    await host.send(p.EndOfCandidates(seat=1))
    assert await ana.expect(p.EndOfCandidates, WITHIN) == p.EndOfCandidates()
    # Bob saw nothing meant for Ana, and Ana nothing meant for Bob.
    for client, n in ((bob, 1), (ana, 2)):
        await client.send(p.Ping(id=n))
        assert await client.expect(p.Pong, WITHIN) == p.Pong(id=n)
    # A player cannot address another player, whatever node either is on.
    await ana.send(p.Offer(seat=2, sdp="v=0 sneaky"))
    assert (await ana.expect(p.Error, WITHIN)).code == "host_only"
    if cluster.shared:  # three nodes really, and the messages really crossed between them
        nodes = [await cluster.node(i) for i in range(3)]
        assert {n.service.backend.name for n in nodes} == {"redis"}
        assert len({n.service.backend.node_id for n in nodes}) == 3
        assert nodes[0].service.metrics.bus["out"] >= 2  # offer to Bob, end-of-candidates
        assert nodes[1].service.metrics.bus["in"] >= 1 and nodes[2].service.metrics.bus["in"] >= 1


async def test_relay_flows_between_nodes_and_the_cap_is_per_room(
    make_cluster: MakeCluster, connect: Connect
) -> None:
    cluster = await make_cluster(relay_bytes_per_second=1.0, relay_burst_bytes=3000)
    host = await connect(await cluster.node(0))
    code = (await host.create()).code
    cy = await connect(await cluster.node(1))
    await cy.join(code, "Cy")
    await host.expect(p.PeerJoined, WITHIN)
    await cy.send(p.Relay(data="c" * 1000))
    assert await host.expect(p.Relay, WITHIN) == p.Relay(data="c" * 1000, seat=1)
    await host.send(p.Relay(seat=1, data="h" * 1000))
    assert await cy.expect(p.Relay, WITHIN) == p.Relay(data="h" * 1000)
    # 2000 of the room's 3000 bytes are spent, from two nodes: 1500 more is over the cap.
    await cy.send(p.Relay(data="x" * 1500))
    error = await cy.expect(p.Error, WITHIN)
    assert (error.code, error.about) == ("relay_limited", "relay")
    await host.send(p.Relay(seat=1, data="y" * 900))
    assert (await cy.expect(p.Relay, WITHIN)).data == "y" * 900


async def test_a_seat_resumed_through_another_node_replaces_the_old_socket(
    make_cluster: MakeCluster, connect: Connect
) -> None:
    cluster = await make_cluster()
    host = await connect(await cluster.node(0))
    code = (await host.create()).code
    first = await connect(await cluster.node(1))
    joined = await first.join(code, "Fay")
    await host.expect(p.PeerJoined, WITHIN)
    await first.close()
    assert await host.expect(p.PeerLeft, WITHIN) == p.PeerLeft(seat=1, reason="disconnected")

    again = await connect(await cluster.node(2))
    back = await again.join(code, "ignored", seat_token=joined.seat_token)
    assert (back.seat, back.name, back.resumed) == (1, "Fay", True)
    assert (await host.expect(p.PeerJoined, WITHIN)).resumed
    third = await connect(await cluster.node(0))
    await third.join(code, "Fay", seat_token=joined.seat_token)
    assert await again.expect(p.RoomClosed, WITHIN) == p.RoomClosed(reason="replaced")
    await again.wait_closed(WITHIN)
    assert (await host.expect(p.PeerJoined, WITHIN)).resumed
    await host.send(p.Offer(seat=1, sdp="v=0"))
    assert await third.expect(p.Offer, WITHIN) == p.Offer(sdp="v=0")
    # The replaced socket's close was no departure: the host hears nothing more.
    await host.send(p.Ping(id=3))
    assert await host.expect(p.Pong, WITHIN) == p.Pong(id=3)


async def test_host_back_through_another_node_within_grace_keeps_the_room(
    make_cluster: MakeCluster, connect: Connect
) -> None:
    cluster = await make_cluster(host_grace=60)
    host = await connect(await cluster.node(0))
    created = await host.create()
    jo = await connect(await cluster.node(1))
    joined = await jo.join(created.code, "Jo")
    await host.close()
    assert await jo.expect(p.HostStatus, WITHIN) == p.HostStatus(connected=False)
    await jo.send(p.Answer(sdp="v=0"))
    assert (await jo.expect(p.Error, WITHIN)).code == "peer_offline"

    host2 = await connect(await cluster.node(2))
    again = await host2.create(code=created.code, host_token=created.host_token)
    assert again.resumed and again.code == created.code
    assert again.seats == [
        p.SeatInfo(seat=1, name="Jo", seat_token=joined.seat_token, connected=True)
    ]
    assert await jo.expect(p.HostStatus, WITHIN) == p.HostStatus(connected=True)
    await host2.send(p.Offer(seat=1, sdp="v=0 restart"))
    assert await jo.expect(p.Offer, WITHIN) == p.Offer(sdp="v=0 restart")


async def test_host_gone_past_grace_closes_the_room_on_every_node(
    make_cluster: MakeCluster, connect: Connect
) -> None:
    cluster = await make_cluster(host_grace=0.3)
    host = await connect(await cluster.node(0))
    code = (await host.create()).code
    players = [await connect(await cluster.node(n)) for n in (1, 2)]
    for n, player in enumerate(players):
        await player.join(code, f"P{n}")
    await host.close()
    for player in players:
        assert await player.expect(p.HostStatus, WITHIN) == p.HostStatus(connected=False)
        assert await player.expect(p.RoomClosed, WITHIN) == p.RoomClosed(reason="host-timeout")
        await player.wait_closed(WITHIN)
    late = await connect(await cluster.node(2))
    with pytest.raises(SignalingRefused) as refused:
        await late.join(code, "Late")
    assert refused.value.error.code == "room_not_found"


async def test_host_leave_and_kick_reach_players_on_other_nodes(
    make_cluster: MakeCluster, connect: Connect
) -> None:
    cluster = await make_cluster()
    host = await connect(await cluster.node(0))
    code = (await host.create(max_players=3)).code
    mo = await connect(await cluster.node(1))
    mo_joined = await mo.join(code, "Mo")
    ned = await connect(await cluster.node(2))
    await ned.join(code, "Ned")
    for _ in range(2):
        await host.expect(p.PeerJoined, WITHIN)
    await host.send(p.Kick(seat=1, reason="flooding"))
    assert await mo.expect(p.RoomClosed, WITHIN) == p.RoomClosed(reason="kicked")
    assert await host.expect(p.PeerLeft, WITHIN) == p.PeerLeft(seat=1, reason="kicked")
    retry = await connect(await cluster.node(2))
    with pytest.raises(SignalingRefused) as refused:
        await retry.join(code, "Mo", seat_token=mo_joined.seat_token)
    assert refused.value.error.code == "bad_token"

    await host.send(p.Leave())
    assert await ned.expect(p.RoomClosed, WITHIN) == p.RoomClosed(reason="host-left")
    await ned.wait_closed(WITHIN)


async def test_concurrent_joins_over_nodes_never_overfill_or_share_a_seat(
    make_cluster: MakeCluster, connect: Connect
) -> None:
    cluster = await make_cluster()
    host = await connect(await cluster.node(0))
    code = (await host.create(max_players=5)).code
    clients = [await connect(await cluster.node(i % 3)) for i in range(12)]
    results = await asyncio.gather(
        *(c.join(code, "Same") for c in clients), return_exceptions=True
    )
    joined = [r for r in results if isinstance(r, p.Joined)]
    refused = [r for r in results if isinstance(r, SignalingRefused)]
    assert len(joined) == 5 and len(refused) == 7
    assert {r.error.code for r in refused} == {"room_full"}
    assert sorted(j.seat for j in joined) == [1, 2, 3, 4, 5]
    assert sorted(j.name for j in joined) == ["Same", "Same 2", "Same 3", "Same 4", "Same 5"]
    assert len({j.seat_token for j in joined}) == 5


async def test_one_code_claimed_on_two_nodes_at_once_goes_to_one_host(
    make_cluster: MakeCluster, connect: Connect
) -> None:
    cluster = await make_cluster()
    first = await connect(await cluster.node(0))
    created = await first.create()
    await first.send(p.Leave())
    await first.expect(p.RoomClosed, WITHIN)
    # The room is gone; two hosts re-create that code with different tokens at once.
    a = await connect(await cluster.node(1))
    b = await connect(await cluster.node(2))
    tokens = ("A" * 32, "B" * 32)
    results = await asyncio.gather(
        a.create(code=created.code, host_token=tokens[0]),
        b.create(code=created.code, host_token=tokens[1]),
        return_exceptions=True,
    )
    won = [r for r in results if isinstance(r, p.Created)]
    lost = [r for r in results if isinstance(r, SignalingRefused)]
    assert len(won) == 1 and len(lost) == 1
    assert lost[0].error.code == "bad_token"
    assert won[0].code == created.code and won[0].host_token in tokens


async def test_guessing_budget_holds_across_nodes(
    make_cluster: MakeCluster, connect: Connect
) -> None:
    cluster = await make_cluster(join_failure_rate=0.001, join_failure_burst=3)
    host = await connect(await cluster.node(0))
    code = (await host.create()).code
    codes = []
    for n in range(4):  # the same address guessing through node 0, 1, 2, 0
        guesser = await connect(await cluster.node(n % 3), ip="203.0.113.9")
        with pytest.raises(SignalingRefused) as refused:
            await guesser.join("ZZZZ" if code != "ZZZZ" else "YYYY", "G")
        codes.append(refused.value.error.code)
    assert codes == ["room_not_found"] * 3 + ["rate_limited"]
    honest = await connect(await cluster.node(1), ip="198.51.100.7")
    assert (await honest.join(code, "Honest")).seat == 1


async def test_a_player_active_on_another_node_keeps_a_quiet_host_room_open(
    make_cluster: MakeCluster, connect: Connect
) -> None:
    cluster = await make_cluster(idle_timeout=1.5)
    host = await connect(await cluster.node(0))
    code = (await host.create()).code
    eve = await connect(await cluster.node(1))
    await eve.join(code, "Eve")
    await host.expect(p.PeerJoined, WITHIN)
    # The host says nothing for 2.5 s (past the idle timeout); Eve, elsewhere, keeps talking.
    loop = asyncio.get_running_loop()
    until = loop.time() + 2.5
    n = 0
    while loop.time() < until:
        n += 1
        await eve.send(p.Ping(id=n))
        assert await eve.expect(p.Pong, WITHIN) == p.Pong(id=n)
        await asyncio.sleep(0.2)  # the scenario: steady activity over time
    late = await connect(await cluster.node(2))
    assert (await late.join(code, "Late")).seat == 2  # the room is still there
    # Then everyone falls silent: the room closes as idle, on every node.
    assert await eve.expect(p.RoomClosed, WITHIN) == p.RoomClosed(reason="idle")
    assert (await host.expect(p.PeerJoined, WITHIN)).seat == 2
    assert await host.expect(p.RoomClosed, WITHIN) == p.RoomClosed(reason="idle")
