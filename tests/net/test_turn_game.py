"""A whole game where the host and every player are --relay-only through a real coturn.

Over UDP and over TCP to the TURN server. The players get TURN REST credentials issued for
them (as the signaling service would) and pass them as --turn-user/--turn-pass, so no
player ever holds the shared secret.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.net.peer_harness import HostProcess, JoinProcess, play_to_the_end
from tests.net.turn_server import TURN_IP, netns_coturn
from turn.coturn import CoturnProcess, find_turnserver
from turn.credentials import issue_credential

pytestmark = [
    pytest.mark.net,
    pytest.mark.slow,
    pytest.mark.skipif(find_turnserver() is None, reason="coturn is not installed"),
]

SECRET = "game-relay-secret-0123"
PLAYERS = 4


@pytest.fixture(scope="module")
def coturn() -> Iterator[CoturnProcess]:
    with netns_coturn(SECRET) as server:
        yield server


@pytest.mark.parametrize("transport", ["udp", "tcp"])
async def test_every_player_relay_only_plays_a_whole_game(
    tmp_path: Path, coturn: CoturnProcess, transport: str
) -> None:
    turn_url = f"turn:{TURN_IP}:{coturn.options.port}?transport={transport}"
    host = await HostProcess.start(
        tmp_path, "--rounds", "1", "--phase-seconds", "2", "--autostart", str(PLAYERS),
        "--seed", "11", "--turn", turn_url, "--turn-secret", SECRET, "--relay-only",
    )
    joins = []
    for i in range(PLAYERS):
        cred = issue_credential(SECRET, f"player{i}", time.time(), ttl=600)
        joins.append(
            await JoinProcess.start(
                tmp_path, host.code, host.signal_url, f"Relay{i}", "--bot", "random",
                "--seed", str(i), "--relay-only", "--turn", turn_url,
                "--turn-user", cred.username, "--turn-pass", cred.password,
            )
        )
    results = await play_to_the_end(host, joins)
    for code, doc, out in results:
        assert code == 0, out
        assert doc["path"] == "relay", doc  # not the WS relay: the TURN relay carried it
        assert doc["winners"], doc
    assert len({tuple(doc["winners"]) for _, doc, _ in results}) == 1
    final = host.status()
    assert final["phase"] == "over"
    assert sorted(p["path"] for p in final["players"]) == ["relay"] * PLAYERS
