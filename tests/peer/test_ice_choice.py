"""The one STUN and one TURN URL the host's and players' aiortc get, chosen on purpose.

The signaling service hands out every URL (browsers use them all) in the operator's order;
aiortc would take the first of each. These check what aiortc itself makes of the choice
(its own connection_kwargs), for the player and for the host.
"""

from __future__ import annotations

from typing import Any

import pytest
from aiortc.rtcicetransport import connection_kwargs

from peer import exit_codes
from peer.host_signaling import HostSignaling
from peer.ice_choice import aiortc_servers_for
from peer.player import Player, PlayerOptions
from turn.config import IceSettings, parse_ice_url, to_rtc_configuration
from turn.ice_servers import IceServer

TCP = "turn:10.0.0.9:3478?transport=tcp"
UDP = "turn:10.0.0.9:3478?transport=udp"
TLS = "turns:10.0.0.9:443?transport=tcp"
STUN_A = "stun:10.0.0.9:3478"
STUN_B = "stun:10.0.0.8:3478"
SECRET = "operator-secret-0123"


def _handed_out(*turn: str) -> list[IceServer]:
    """What the signaling service gives a client: every URL, in the operator's order."""
    settings = IceSettings(
        stun=(parse_ice_url(STUN_A), parse_ice_url(STUN_B)),
        turn=tuple(parse_ice_url(u) for u in turn),
        secret=SECRET,
    )
    return settings.servers_for_client("player-x", 1_000_000.0)


def _what_aiortc_uses(servers: list[IceServer], relay_only: bool = False) -> dict[str, Any]:
    config = to_rtc_configuration(servers, relay_only)
    assert config.iceServers is not None
    return connection_kwargs(config.iceServers)


def _player(ice: IceSettings | None = None, **options: Any) -> Player:
    return Player(
        PlayerOptions(signal_url="http://x", code="ABCD", name="Ana", ice=ice or IceSettings(),
                      **options)
    )


def test_a_tcp_first_list_still_gives_the_players_aiortc_the_udp_turn_url() -> None:
    handed = _handed_out(TCP, UDP, TLS)
    assert handed[1].urls[0] == TCP  # what aiortc would have used, left to itself
    assert _what_aiortc_uses(handed)["turn_transport"] == "tcp"

    servers = _player().ice_servers(handed)
    assert [s.urls for s in servers] == [[STUN_A], [UDP]]
    assert servers[1].username == handed[1].username  # the service's credential travels
    assert servers[1].credential == handed[1].credential
    used = _what_aiortc_uses(servers)
    assert used["stun_server"] == ("10.0.0.9", 3478)
    assert used["turn_server"] == ("10.0.0.9", 3478)
    assert used["turn_transport"] == "udp" and not used["turn_ssl"]


def test_the_host_makes_the_same_choice_from_the_list_it_was_handed() -> None:
    host = HostSignaling(None, "http://x", IceSettings())
    host.ice_servers = _handed_out(TLS, TCP, UDP)
    servers = host.aiortc_servers()
    assert [s.urls for s in servers] == [[STUN_A], [UDP]]
    assert _what_aiortc_uses(servers)["turn_transport"] == "udp"


def test_relay_only_keeps_a_turn_url_and_drops_stun() -> None:
    handed = _handed_out(TCP, UDP)
    player_servers = _player(IceSettings(relay_only=True)).ice_servers(handed)
    assert [s.urls for s in player_servers] == [[UDP]]
    used = _what_aiortc_uses(player_servers, relay_only=True)
    assert "stun_server" not in used and used["turn_transport"] == "udp"

    host = HostSignaling(None, "http://x", IceSettings(relay_only=True))
    host.ice_servers = handed
    assert [s.urls for s in host.aiortc_servers()] == [[UDP]]


def test_relay_only_with_only_tcp_turn_handed_out_still_has_a_turn_url() -> None:
    servers = _player(IceSettings(relay_only=True)).ice_servers(_handed_out(TCP))
    assert [s.urls for s in servers] == [[TCP]]


def test_udp_blocked_leaves_every_udp_server_out() -> None:
    handed = _handed_out(UDP, TCP, TLS)
    servers = _player(udp_blocked=True).ice_servers(handed)
    assert [s.urls for s in servers] == [[TCP]]  # no STUN: aioice would wait 5 s on it
    host = HostSignaling(None, "http://x", IceSettings(), udp_blocked=True)
    host.ice_servers = handed
    assert [s.urls for s in host.aiortc_servers()] == [[TCP]]


def test_a_preferred_transport_wins_when_configured() -> None:
    servers = _player(turn_prefer="tls").ice_servers(_handed_out(UDP, TCP, TLS))
    assert [s.urls for s in servers] == [[STUN_A], [TLS]]
    used = _what_aiortc_uses(servers)
    assert used["turn_ssl"] and used["turn_transport"] == "tcp"


def test_local_settings_win_over_the_handed_out_list() -> None:
    local = IceSettings(
        stun=(parse_ice_url(STUN_B),),
        turn=(parse_ice_url(TCP), parse_ice_url(UDP)),
        user="u",
        password="p",
    )
    servers = aiortc_servers_for(local, _handed_out(TLS), "player-Ana", now=0.0)
    assert [s.urls for s in servers] == [[STUN_B], [UDP]]
    assert servers[1].username == "u"


def test_no_servers_anywhere_is_an_empty_list_never_the_public_stun() -> None:
    assert _player().ice_servers([]) == []
    config = to_rtc_configuration(_player().ice_servers([]), False)
    assert config.iceServers == []


def test_join_accepts_relay_only_alone_since_turn_may_come_from_signaling(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # `quibble join CODE --relay-only` (issue 4): the TURN servers come from the service.
    # A bad --name stops it right after the ICE settings were accepted.
    from peer.cli import main

    assert main(["join", "ABCD", "--name", " ", "--relay-only"]) == exit_codes.USAGE
    err = capsys.readouterr().err
    assert "--name must be" in err and "relay-only" not in err
    assert main(["join", "ABCD", "--name", "Ana", "--relay-only", "--no-relay-only",
                 "--turn-user", "u"]) == exit_codes.USAGE  # still validated
    assert "--turn-user" in capsys.readouterr().err


def test_join_flags_steer_the_choice(monkeypatch: pytest.MonkeyPatch) -> None:
    # `quibble join --turn-via tcp --udp-blocked` reaches the player's options.
    from peer import join_runner
    from peer.cli import main
    from peer.player import PlayerFailure

    seen: list[PlayerOptions] = []

    class Stopped(Player):
        async def run(self) -> Any:
            seen.append(self.options)
            raise PlayerFailure(exit_codes.CONNECTION_FAILED, "stopped by the test")

    monkeypatch.setattr(join_runner, "Player", Stopped)
    code = main(["join", "ABCD", "--name", "Ana", "--bot", "random", "--signal",
                 "http://127.0.0.1:9", "--turn-via", "tcp", "--udp-blocked"])
    assert code == exit_codes.CONNECTION_FAILED
    assert [(o.turn_prefer, o.udp_blocked) for o in seen] == [("tcp", True)]
    assert _player(turn_prefer="tcp").ice_servers(_handed_out(UDP, TCP))[-1].urls == [TCP]


def test_host_flags_steer_the_choice(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    # `quibble host --turn-via tls --udp-blocked` reaches the host's signaling side.
    from peer import host_runner
    from peer.cli import main
    from peer.signal_client import SignalingError

    seen: list[HostSignaling] = []

    class Stopped(HostSignaling):
        async def open(self) -> Any:
            seen.append(self)
            raise SignalingError("stopped", "by the test")

    monkeypatch.setattr(host_runner, "HostSignaling", Stopped)
    code = main(["host", "--bind", "127.0.0.1", "--port", "0", "--no-qr", "--journal",
                 str(tmp_path / "g.sqlite"), "--turn-via", "tls", "--udp-blocked"])
    assert code != exit_codes.OK
    assert [(h.turn_prefer, h.udp_blocked) for h in seen] == [("tls", True)]
