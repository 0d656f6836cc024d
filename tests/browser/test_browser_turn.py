"""A phone whose RTCPeerConnection may use only TURN relay candidates finishes a game through
a real coturn; and one whose ICE cannot connect at all falls back to the WS relay, saying why.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import Phone
from tests.browser.harness import Host, game_args
from tests.browser.test_browser_game import join_by_link
from tests.net.turn_server import TURN_IP, netns_coturn
from turn.coturn import CoturnProcess, find_turnserver

pytestmark = [pytest.mark.net, pytest.mark.slow, pytest.mark.timeout(240)]

SECRET = "browser-relay-secret-0123"


@pytest.fixture(scope="module")
def coturn() -> Iterator[CoturnProcess]:
    """coturn on the test address, relaying within the suite's namespace only."""
    if find_turnserver() is None:
        pytest.skip("coturn is not installed: run scripts/install-system-deps.sh")
    with netns_coturn(SECRET) as server:
        yield server


def play_alone(tmp_path: Path, phone: Phone, query: str, *host_args: str) -> dict[str, Any]:
    """One phone and two in-process bots play a one-round game; the phone's final state."""
    host = Host(tmp_path, *game_args(seed=3), *host_args)
    try:
        join_by_link(phone, host.base_url, host.code, query)
        phone.wait_phase("over", within_s=120)
        assert host.wait(within_s=30) == 0
        assert [p["connections"] for p in host.status()["players"] if p["name"] == phone.name] == [
            1
        ]
    finally:
        host.stop()
    assert not phone.errors, phone.errors
    return phone.state()


def test_a_relay_only_phone_finishes_the_game_through_coturn(
    tmp_path: Path, phones: Callable[..., Phone], coturn: CoturnProcess
) -> None:
    turn_url = f"turn:{TURN_IP}:{coturn.options.port}?transport=udp"
    # The host hands each player expiring TURN REST credentials through signaling.
    st = play_alone(
        tmp_path, phones("Relay"), "?autoplay=1&relay=turn",
        "--turn", turn_url, "--turn-secret", SECRET,
    )  # fmt: skip
    assert [c["path"] for c in st["connections"]] == ["relay"], st
    assert st["local"] and all(" typ relay " in line for line in st["local"]), st["local"]


def test_a_phone_whose_ice_cannot_connect_plays_over_the_ws_relay_and_says_why(
    tmp_path: Path, phones: Callable[..., Phone]
) -> None:
    # Relay-only with no TURN server configured: no candidate at all, so ICE cannot connect.
    st = play_alone(tmp_path, phones("Walled"), "?autoplay=1&relay=turn&ice_timeout=3000")
    assert [c["path"] for c in st["connections"]] == ["ws-relay"], st
    detail = " ".join(st["detail"])
    assert "ICE did not connect within 3 s" in detail
    assert "Candidates gathered here: host 0, srflx 0, relay 0" in detail
    assert "no TURN relay candidate was gathered" in detail
    assert "relay: no TURN server configured" not in detail  # relay-only says it more exactly
    assert "Falling back to the WS relay" in detail
    assert "quibble doctor" in detail
