"""A player whose link is cut mid-round comes back with its seat, coins and hand."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from peer.webrtc import DataChannelTransport
from tests.net.peer_harness import HostProcess, ManualPlayer, iptables

pytestmark = [pytest.mark.net, pytest.mark.slow]


def _seat(status: dict[str, Any], seat: int) -> dict[str, Any]:
    """That seat's row in the host's status file (an empty dict if not listed yet)."""
    return next((p for p in status["players"] if p["seat"] == seat), {})


def _nominated_local_port(transport: DataChannelTransport) -> int:
    connection = transport.pc.sctp.transport.transport._connection  # type: ignore[union-attr]
    pair = next(iter(connection._nominated.values()))
    return int(pair.local_candidate.port)


async def test_cut_player_rejoins_and_keeps_seat_coins_and_hand(tmp_path: Path) -> None:
    # Long phases and players who never ready: nothing moves while the player is away.
    host = await HostProcess.start(
        tmp_path, "--rounds", "1", "--phase-seconds", "120", "--autostart", "3", "--seed", "9",
    )
    players = [ManualPlayer(host, f"P{i}") for i in range(3)]
    rule: list[str] = []
    try:
        for pl in players:
            await pl.view_where(lambda v: v.phase == "betting")
        target = players[0]
        before = target.player.view
        assert before is not None and before.hand
        transport = target.player._transport
        assert isinstance(transport, DataChannelTransport)
        port = str(_nominated_local_port(transport))
        # A real cut: every UDP packet of that ICE pair vanishes, in both directions.
        rule = ["INPUT", "-p", "udp", "-m", "multiport", "--ports", port, "-j", "DROP"]
        iptables("-I", *rule)
        away = await host.wait_status(lambda s: _seat(s, before.seat).get("connected") is False)
        assert away["phase"] == "betting"
        back = await host.wait_status(
            lambda s: _seat(s, before.seat).get("connections") == 2
            and _seat(s, before.seat)["connected"]
        )
        assert back["phase"] == "betting" and len(back["players"]) == 3
        after = await target.view_where(lambda v: True)
        assert target.player.stats.reconnects == 1
        assert after.seat == before.seat
        assert after.coins == before.coins
        assert after.hand == before.hand
        assert after.debt == before.debt
        for pl in players:
            pl.ready_from_now_on()
        finals = [await pl.view_where(lambda v: v.phase == "over", within_s=60) for pl in players]
        assert len({tuple(v.winners) for v in finals}) == 1
        assert await host.wait(within_s=30) == 0
    finally:
        if rule:
            iptables("-D", *rule)
        for pl in players:
            await pl.close()
        await host.stop()
