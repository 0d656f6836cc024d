"""What the host and players know about their links: peer-left, ICE bounds, the network check.

Real aiohttp signaling, a real host (HostSignaling + HostSession) and real aiortc peers in
the test namespace.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from game.actions import StartGame
from peer import protocol as p
from peer.signal_client import SignalingClient
from signaling import protocol as sp
from signaling.server import SignalingServer
from signaling.settings import SignalingSettings
from tests.net.peer_harness import (
    HOST_ADDR,
    HostProcess,
    InProcessHost,
    InProcessPlayer,
    until,
)
from turn.config import IceSettings, parse_ice_url

pytestmark = [pytest.mark.net]

OTHER_ADDR = "10.231.0.2"  # the namespace's second veth end


@pytest.fixture
async def server() -> AsyncIterator[SignalingServer]:
    async with SignalingServer(SignalingSettings(bind=HOST_ADDR, port=0)) as running:
        yield running


@pytest.fixture
def silent_stun() -> Iterator[tuple[str, socket.socket]]:
    """A STUN URL whose UDP port is bound but never read: requests go in, nothing answers."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((OTHER_ADDR, 0))
    try:
        yield f"stun:{OTHER_ADDR}:{sock.getsockname()[1]}", sock
    finally:
        sock.close()


def _was_asked(sock: socket.socket) -> bool:
    """True if anything (a STUN binding request) reached the silent server's port."""
    sock.setblocking(False)
    try:
        return len(sock.recv(2048)) > 0
    except BlockingIOError:
        return False


# ---- peer-left --------------------------------------------------------------------------


async def test_peer_left_takes_a_ws_relay_player_away_at_once(
    server: SignalingServer, cleanup: list[Any]
) -> None:
    host = await InProcessHost.start(server.url)
    cleanup.append(host)
    # A player on the WS relay, by hand: join signaling, hello through relay frames.
    client = await SignalingClient.connect(server.url)
    client.send(sp.Join(code=host.code, name="Rel"))
    await client.expect(sp.Joined, within_s=10)
    client.send(sp.Relay(data=p.encode(p.Hello(version=p.PROTOCOL_VERSION, name="Rel")).decode()))
    relayed = await client.expect(sp.Relay, within_s=10)
    assert isinstance(relayed, sp.Relay)
    welcome = p.decode_host_frame(relayed.data)
    assert isinstance(welcome, p.Welcome)
    link = host.session.links[welcome.seat]
    relay = link.transport
    assert relay is not None and relay.path == "ws-relay"

    await client.close()  # the player's socket goes: its game link with it
    async with asyncio.timeout(20):  # the host's heartbeat would take 60 s here
        await relay.wait_closed()
        await host.session.wait_until(lambda: link.transport is None)
    assert relay.close_reason == "player left signaling (disconnected)"
    [player] = [x for x in host.session.state.players if x.seat == welcome.seat]
    assert not player.connected  # SetConnected(false): the seat is away, and passes


async def test_peer_left_leaves_a_live_data_channel_alone(
    server: SignalingServer, cleanup: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    host = await InProcessHost.start(server.url)
    cleanup.append(host)
    left: asyncio.Queue[tuple[int, str]] = asyncio.Queue()
    on_peer_left = host.signaling.on_peer_left

    def spy(seat: int, reason: str) -> None:
        on_peer_left(seat, reason)
        left.put_nowait((seat, reason))

    monkeypatch.setattr(host.signaling, "on_peer_left", spy)
    joiner = InProcessPlayer(server.url, host.code)
    cleanup.append(joiner)
    assert await joiner.next_connection() == "host"
    await asyncio.wait_for(joiner.player.welcomed.wait(), 30)
    seat = joiner.player.seat.seat
    assert seat is not None
    link = host.session.links[seat]
    channel = link.transport
    assert channel is not None

    client = joiner.player._client  # the player's signaling socket drops, nothing else
    assert client is not None
    await client.close()
    assert (await asyncio.wait_for(left.get(), 20))[1] == "disconnected"

    assert link.transport is channel and not channel.closed
    # The data channel still carries the game both ways: an action in, its answer out.
    frames = joiner.player.stats.frames_in
    joiner.player.act([StartGame()])  # refused (one player of three), over the channel
    await until(lambda: joiner.player.stats.frames_in > frames, within_s=20)
    assert joiner.player.rejections and joiner.player.rejections[-1].code
    assert joiner.player.stats.reconnects == 0 and joiner.player.path == "host"


# ---- ICE gathering inside --ice-timeout ------------------------------------------------


@pytest.mark.parametrize(
    ("who_has_it", "ice_timeout_s"),
    [("player", 3.0), ("host and player", 6.0)],  # 6.0: `quibble join`'s default bound
)
async def test_a_silent_stun_server_does_not_push_a_lan_join_past_the_bound(
    silent_stun: tuple[str, socket.socket],
    cleanup: list[Any],
    who_has_it: str,
    ice_timeout_s: float,
) -> None:
    url, sock = silent_stun
    silent = IceSettings(stun=(parse_ice_url(url),))
    # "host and player": the host configures the STUN server and the embedded service
    # hands the same list to its players, as `quibble host --stun URL` does.
    both = who_has_it == "host and player"
    server = SignalingServer(
        SignalingSettings(bind=HOST_ADDR, port=0),
        ice_provider=silent.provider() if both else None,
    )
    await server.start()
    cleanup.append(server)
    host = await InProcessHost.start(server.url, silent if both else None)
    cleanup.append(host)
    joiner = InProcessPlayer(
        server.url, host.code, ice=IceSettings() if both else silent, ice_timeout_s=ice_timeout_s
    )
    cleanup.append(joiner)
    # aioice alone waits 5 s for this server's answer: past the 3 s bound, and with host
    # and player both waiting, past the 6 s one. Either way the player would fall back to
    # the WS relay.
    assert await joiner.next_connection() == "host"
    ice_ms = joiner.player.stats.ice_ms
    assert ice_ms is not None and ice_ms < ice_timeout_s * 1000
    assert _was_asked(sock)  # the STUN server really was in the player's configuration


# ---- the host's start-up network check ----------------------------------------------


async def test_the_host_prints_a_network_check_only_when_ice_servers_are_configured(
    tmp_path: Path, silent_stun: tuple[str, socket.socket]
) -> None:
    url, _ = silent_stun
    (tmp_path / "with").mkdir()
    host = await HostProcess.start(tmp_path / "with", "--stun", url)
    try:
        await until(
            lambda: any(line.startswith("Network check:") for line in host.stdout), within_s=60
        )
    finally:
        await host.stop()
    [line] = [x for x in host.stdout if x.startswith("Network check:")]
    assert line.startswith("Network check: WARNING:"), line  # nothing answered it
