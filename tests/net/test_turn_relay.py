"""Real aiortc data channels through a real coturn, inside the suite's network namespace.

coturn listens and relays on 10.231.0.1 with `--allow-lan 10.231.0.0/24` (the generated
configuration denies 10/8 otherwise). Both peers are relay-only, over UDP and over TCP to
the TURN server; with UDP blocked by iptables, a TURN/TCP join chosen by aiortc_servers()
still connects.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from aioice import ice

from tests.net.turn_server import TURN_IP, netns_coturn, udp_blocked
from turn import ice_tuning
from turn.config import IceSettings, parse_ice_url, to_rtc_configuration
from turn.coturn import CoturnProcess, find_turnserver
from turn.ice_tuning import (
    install_triggered_check_fix,
    remove_triggered_check_fix,
    triggered_check_fix_installed,
)
from turn.peer_pair import open_pair

pytestmark = [
    pytest.mark.net,
    pytest.mark.skipif(find_turnserver() is None, reason="coturn is not installed"),
]

SECRET = "relay-test-secret-0123"


@pytest.fixture(scope="module")
def coturn() -> Iterator[CoturnProcess]:
    with netns_coturn(SECRET) as server:
        yield server


def ice_settings(coturn: CoturnProcess, *urls: str, relay_only: bool = True) -> IceSettings:
    port = coturn.options.port
    return IceSettings(
        stun=(parse_ice_url(f"stun:{TURN_IP}:{port}"),),
        turn=tuple(parse_ice_url(u.format(ip=TURN_IP, port=port)) for u in urls),
        secret=SECRET,
        relay_only=relay_only,
    )


ALL_TURN_URLS = (
    "turn:{ip}:{port}?transport=udp",
    "turn:{ip}:{port}?transport=tcp",
)


@pytest.mark.parametrize("fix", [False, True], ids=["aioice", "triggered-check-fix"])
@pytest.mark.parametrize("transport", ["udp", "tcp"])
async def test_relay_only_peers_exchange_messages(
    coturn: CoturnProcess, transport: str, fix: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The patch is process-wide: whatever this test sets is put back after it.
    monkeypatch.setattr(ice.Connection, "check_incoming", ice.Connection.check_incoming)
    monkeypatch.setattr(
        ice.Connection, "_quibble_triggered_check_fix", triggered_check_fix_installed(),
        raising=False,
    )
    monkeypatch.setattr(ice_tuning, "_auto", ice_tuning._auto)
    if fix:
        assert install_triggered_check_fix()
    else:
        remove_triggered_check_fix()
    ice_config = ice_settings(coturn, *ALL_TURN_URLS)
    now = time.time()
    # Each peer its own client id, so its own REST username (as each real player gets).
    tag = f"{transport}-{fix}"
    servers_a = ice_config.aiortc_servers(f"player-{tag}", now, prefer=transport)  # type: ignore[arg-type]
    servers_b = ice_config.aiortc_servers(f"host-{tag}", now, prefer=transport)  # type: ignore[arg-type]
    assert [s.urls for s in servers_a] == [[f"turn:{TURN_IP}:{coturn.options.port}"
                                            f"?transport={transport}"]]
    pair = await open_pair(
        to_rtc_configuration(servers_a, relay_only=True),
        to_rtc_configuration(servers_b, relay_only=True),
    )
    try:
        assert pair.path() == ("relay", "relay")
        sdp = pair.pc_a.localDescription.sdp
        assert "typ relay" in sdp and "typ host" not in sdp and "typ srflx" not in sdp
        rtts = await pair.ping(5)
        assert len(rtts) == 5
    finally:
        await pair.close()


@pytest.fixture
def firewall_blocks_udp(coturn: CoturnProcess) -> Iterator[None]:
    with udp_blocked():
        yield


async def test_udp_blocked_join_uses_turn_over_tcp(
    coturn: CoturnProcess, firewall_blocks_udp: None
) -> None:
    ice_config = ice_settings(coturn, *ALL_TURN_URLS, relay_only=False)
    now = time.time()
    servers = ice_config.aiortc_servers("player-blocked", now, udp_blocked=True)
    # No STUN and no UDP TURN: either would only make aioice wait 5 s for nothing.
    assert [s.urls for s in servers] == [[f"turn:{TURN_IP}:{coturn.options.port}?transport=tcp"]]
    host_servers = ice_config.aiortc_servers("host-blocked", now, udp_blocked=True)
    pair = await open_pair(
        to_rtc_configuration(servers, relay_only=False),
        to_rtc_configuration(host_servers, relay_only=False),
    )
    try:
        assert "relay" in pair.path()  # host candidates cannot reach each other over UDP
        assert len(await pair.ping(3)) == 3
    finally:
        await pair.close()
