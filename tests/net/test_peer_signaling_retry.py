"""A player rides out signaling trouble: a node restarted on the same port, Redis blips.

Real aiohttp signaling servers, a real host (HostSignaling + HostSession) and real aiortc
players in the test namespace. ``error unavailable`` comes from the real service, whose room
store here refuses (BackendUnavailable) as a Redis store does when Redis is gone.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from peer import exit_codes
from signaling.backend import BackendUnavailable, InMemoryBackend
from signaling.rooms import InMemoryRoomStore, RoomRecord
from signaling.server import SignalingServer
from signaling.settings import SignalingSettings
from tests.net.peer_harness import (
    HOST_ADDR,
    InProcessHost,
    InProcessPlayer,
    free_port,
    until,
)

pytestmark = [pytest.mark.net]


class FlakyRoomStore(InMemoryRoomStore):
    """Answers ``get_room`` (what a join asks first) with BackendUnavailable while told to."""

    def __init__(self) -> None:
        super().__init__()
        self.refuse = 0  # refusals still to give
        self.refused = 0

    async def get_room(self, code: str) -> RoomRecord | None:
        if self.refuse > 0:
            self.refuse -= 1
            self.refused += 1
            raise BackendUnavailable("redis: connection refused (test)")
        return await super().get_room(code)


def _server(port: int, store: InMemoryRoomStore | None = None) -> SignalingServer:
    settings = SignalingSettings(bind=HOST_ADDR, port=port)
    return SignalingServer(settings, backend=InMemoryBackend(store=store or InMemoryRoomStore()))


async def _server_and_host(
    port: int, cleanup: list[Any], store: InMemoryRoomStore | None = None
) -> tuple[SignalingServer, InProcessHost]:
    """A started server on ``port`` and a host with a room on it, both put on ``cleanup``."""
    server = _server(port, store)
    await server.start()
    cleanup.append(server)
    host = await InProcessHost.start(server.url)
    cleanup.append(host)
    return server, host


@pytest.fixture
async def port() -> int:
    return free_port()


async def test_reconnect_rides_out_a_signaling_restart_on_the_same_port(
    port: int, cleanup: list[Any]
) -> None:
    server, host = await _server_and_host(port, cleanup)
    joiner = InProcessPlayer(server.url, host.code, reconnect_for_s=30.0)
    cleanup.append(joiner)
    assert await joiner.next_connection() == "host"
    await asyncio.wait_for(joiner.player.welcomed.wait(), 30)
    seat = joiner.player.seat.seat
    assert seat is not None

    await server.stop()  # the node dies: connections to its port are refused
    await until(lambda: not host.signaling.connected.is_set())
    link = host.session.links[seat]
    assert link.transport is not None
    await link.transport.close("test: the player's data channel is cut")
    # The player comes back to a port that refuses it, and keeps trying.
    attempts = joiner.player.stats.join_attempts
    await until(lambda: joiner.player.stats.join_attempts >= attempts + 2)
    assert not joiner.task.done()

    restarted = _server(port)  # the same address, as a load balancer would route it
    await restarted.start()
    cleanup.append(restarted)
    assert await joiner.next_connection() == "host"
    await host.session.wait_until(lambda: host.session.links[seat].transport is not None)
    assert joiner.player.stats.reconnects == 1
    assert joiner.player.seat.seat == seat and len(host.session.links) == 1
    assert host.session.links[seat].connections == 2


async def test_reconnect_gives_up_after_reconnect_for_s_with_connection_failed(
    port: int, cleanup: list[Any]
) -> None:
    server, host = await _server_and_host(port, cleanup)
    window = 2.0
    joiner = InProcessPlayer(server.url, host.code, reconnect_for_s=window)
    cleanup.append(joiner)
    assert await joiner.next_connection() == "host"
    await asyncio.wait_for(joiner.player.welcomed.wait(), 30)
    await server.stop()
    [link] = host.session.links.values()
    assert link.transport is not None
    cut = time.monotonic()
    await link.transport.close("test: cut")
    failure = await joiner.failure()
    assert time.monotonic() - cut >= window  # it kept trying for the whole window
    assert failure.exit_code == exit_codes.CONNECTION_FAILED
    assert "gave up reconnecting" in failure.reason and "unreachable" in failure.reason
    assert joiner.player.stats.join_attempts >= 3  # the first join, then retries


async def test_first_join_retries_unavailable_then_plays(
    port: int, cleanup: list[Any]
) -> None:
    store = FlakyRoomStore()
    server, host = await _server_and_host(port, cleanup, store)
    store.refuse = 3  # Redis is down for the player's first three joins
    joiner = InProcessPlayer(server.url, host.code)
    cleanup.append(joiner)
    assert await joiner.next_connection() == "host"
    assert store.refused == 3
    assert joiner.player.stats.join_attempts == 4
    assert server.service.metrics.rejected["unavailable"] == 3


async def test_first_join_gives_up_on_unavailable_after_its_brief_window(
    port: int, cleanup: list[Any]
) -> None:
    store = FlakyRoomStore()
    server, host = await _server_and_host(port, cleanup, store)
    store.refuse = 10**9
    window = 1.0
    started = time.monotonic()
    joiner = InProcessPlayer(server.url, host.code, unavailable_retry_s=window)
    cleanup.append(joiner)
    failure = await joiner.failure()
    assert time.monotonic() - started >= window
    assert failure.exit_code == exit_codes.CONNECTION_FAILED
    assert "unavailable" in failure.reason
    assert joiner.player.stats.join_attempts >= 2


@pytest.mark.parametrize("wrong_code", [True, False])
async def test_first_join_fails_fast_on_a_missing_or_full_room(
    port: int, cleanup: list[Any], wrong_code: bool
) -> None:
    server = SignalingServer(
        SignalingSettings(bind=HOST_ADDR, port=port, max_players_per_room=1)
    )
    await server.start()
    cleanup.append(server)
    host = await InProcessHost.start(server.url)
    cleanup.append(host)
    if not wrong_code:
        first = InProcessPlayer(server.url, host.code)
        cleanup.append(first)
        await first.next_connection()
    joiner = InProcessPlayer(server.url, "ZZZZ" if wrong_code else host.code)
    cleanup.append(joiner)
    failure = await joiner.failure()
    expected = exit_codes.ROOM_NOT_FOUND if wrong_code else exit_codes.ROOM_FULL
    assert failure.exit_code == expected, failure.reason
    assert joiner.player.stats.join_attempts == 1
