"""The doctor's prediction against the path real players get, across two NATed sites.

Two sites behind their own NAT routers, coturn and a `quibble signal` service on the
"internet" namespace. `quibble doctor` runs on both sites; predict_pair_path() turns the two
reports into the path ICE should find; then a real `quibble host` on site A and a real
`quibble join --bot` on site B connect, and the host's status file shows the path the
player actually got.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import msgspec
import pytest

from tests.net.topology import IPTABLES, PUBLIC_SERVER_IPS, Coturn, Netns, Site, Topology
from turn.coturn import find_turnserver
from turn.doctor import DoctorReport, predict_pair_path

pytestmark = [
    pytest.mark.net,
    pytest.mark.skipif(find_turnserver() is None, reason="coturn is not installed"),
    pytest.mark.skipif(not os.path.exists(IPTABLES), reason="iptables is not installed"),
]

SIGNAL_IP = PUBLIC_SERVER_IPS[1]
SIGNAL_PORT = 8080
SIGNAL_URL = f"http://{SIGNAL_IP}:{SIGNAL_PORT}"
# The real path each prediction stands for (peer/transport.Path values).
EXPECTED = {"direct": {"host", "srflx"}, "relay": {"relay"}, "none": {"ws-relay"}}


def ice_args(server: Coturn, with_turn: bool) -> list[str]:
    args = ["--stun", server.stun_urls[0]]
    if with_turn:
        args += ["--turn", server.turn_url("udp"), "--turn-secret", server.secret]
    return args


def start_doctor(ns: Netns, server: Coturn, with_turn: bool) -> subprocess.Popen[str]:
    stun = [a for url in server.stun_urls for a in ("--stun", url)]
    turn = ["--turn", server.turn_url("udp"), "--turn-secret", server.secret] if with_turn else []
    return subprocess.Popen(
        ns.exec_args(sys.executable, "-m", "peer", "doctor", "--json", "--no-e2e",
                     "--timeout", "3", *stun, *turn),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def doctor_report(proc: subprocess.Popen[str]) -> DoctorReport:
    out, err = proc.communicate(timeout=60)
    assert out, err
    return msgspec.json.decode(out, type=DoctorReport)


def wait_for_player_path(status: Path, host: subprocess.Popen[str], within_s: float) -> str:
    """Poll the host's status file (rewritten on every change) until a player has a path."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        assert host.poll() is None, f"host exited with {host.returncode}"
        try:
            doc: dict[str, Any] = json.loads(status.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            doc = {}
        for player in doc.get("players", []):
            if player["connected"] and player["path"] != "unknown":
                return str(player["path"])
        time.sleep(0.05)  # the status file has no change notification; bounded by deadline
    raise AssertionError(f"no player connected within {within_s} s: {status.read_text()!r}")


def real_path(
    topo: Topology, tmp: Path, host_site: Site, player_site: Site, args: list[str],
    player_args: list[str] | None = None,
) -> tuple[str, str]:
    """Host on ``host_site``, a bot joins from ``player_site``: (room code, the bot's path)."""
    status = tmp / "status.json"
    log = open(tmp / "host.log", "w")
    host = topo.spawn(
        host_site.client, sys.executable, "-m", "peer", "host", "--signal", SIGNAL_URL,
        "--status", str(status), "--no-qr", "--journal", str(tmp / "game.sqlite"), *args,
        stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
    )
    log.close()
    deadline = time.monotonic() + 30
    code = ""
    while not code and time.monotonic() < deadline:
        assert host.poll() is None, (tmp / "host.log").read_text()
        try:
            code = json.loads(status.read_text()).get("room", "")
        except (FileNotFoundError, json.JSONDecodeError):
            time.sleep(0.05)  # bounded by the deadline above
    assert code, (tmp / "host.log").read_text()
    join_log = open(tmp / "join.log", "w")
    topo.spawn(
        player_site.client, sys.executable, "-m", "peer", "join", code, "--name", "Bot1",
        "--bot", "random", "--signal", SIGNAL_URL, "--json", "--ice-timeout", "4",
        *(args if player_args is None else player_args),
        stdin=subprocess.DEVNULL, stdout=join_log, stderr=subprocess.STDOUT,
    )
    join_log.close()
    return code, wait_for_player_path(status, host, within_s=30)


@pytest.mark.parametrize(
    ("host_kind", "player_symmetric", "with_turn", "prediction"),
    [
        ("cone", False, False, "direct"),
        ("cgnat", False, False, "direct"),
        ("symmetric", False, True, "relay"),
        ("symmetric", True, False, "none"),
    ],
    ids=["cone-cone-stun", "cgnat-cone-stun", "symmetric-cone-turn",
         "symmetric-symmetric-no-turn"],
)
def test_doctor_predicts_the_path_real_players_get(
    topo: Topology, topo_coturn: Coturn, tmp_path: Path,
    host_kind: str, player_symmetric: bool, with_turn: bool, prediction: str,
) -> None:
    # "cgnat": the host on a home LAN whose router sits behind a carrier-grade NAT (double
    # NAT, both endpoint-independent): hole punching still works through both layers.
    if host_kind == "cgnat":
        host_site = topo.cgnat_site("h")
    else:
        host_site = topo.nat_site("h", symmetric=host_kind == "symmetric")
    player_site = topo.nat_site("p", symmetric=player_symmetric)
    signal = topo.spawn(
        topo.pub, sys.executable, "-m", "peer", "signal", "--bind", SIGNAL_IP,
        "--port", str(SIGNAL_PORT), *ice_args(topo_coturn, with_turn),
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    doctors = [start_doctor(s.client, topo_coturn, with_turn) for s in (host_site, player_site)]
    host_report, player_report = (doctor_report(d) for d in doctors)
    assert predict_pair_path(host_report, player_report) == prediction
    assert host_report.nat.cgnat is (host_kind == "cgnat")
    topo.pub.wait_tcp(SIGNAL_IP, SIGNAL_PORT)
    assert signal.poll() is None
    code, got = real_path(topo, tmp_path, host_site, player_site, ice_args(topo_coturn, with_turn))
    assert got in EXPECTED[prediction], (got, prediction)

    # `doctor --room` from a second machine on the player's site finds the same path.
    room_doctor = subprocess.run(
        player_site.client.exec_args(
            sys.executable, "-m", "peer", "doctor", "--json", "--no-e2e", "--timeout", "3",
            "--signal", SIGNAL_URL, "--room", code, *ice_args(topo_coturn, with_turn)),
        capture_output=True, text=True, timeout=60,
    )
    found = json.loads(room_doctor.stdout)
    assert found["signaling"]["http_ok"] and found["signaling"]["ws_ok"], found["signaling"]
    assert found["signaling"]["ice_servers"][0]["urls"] == [topo_coturn.stun_urls[0]]
    room = found["room"]
    if prediction == "none":
        assert room["status"] == "failed" and "WebSocket relay" in room["error"], room
    else:
        assert room["status"] == "ok", room
        assert room["path"] in EXPECTED[prediction] and room["rtt_ms"] > 0, room


def test_udp_blocked_player_following_the_doctors_advice_gets_the_tcp_relay(
    topo: Topology, topo_coturn: Coturn, tmp_path: Path
) -> None:
    host_site = topo.nat_site("h")
    player_site = topo.nat_site("p", block_udp=True)
    host_args = ice_args(topo_coturn, with_turn=True)
    topo.spawn(
        topo.pub, sys.executable, "-m", "peer", "signal", "--bind", SIGNAL_IP,
        "--port", str(SIGNAL_PORT), *host_args,
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    tcp_url = topo_coturn.turn_url("tcp")
    proc = subprocess.run(
        player_site.client.exec_args(
            sys.executable, "-m", "peer", "doctor", "--json", "--no-e2e", "--timeout", "3",
            "--stun", topo_coturn.stun_urls[0], "--turn", topo_coturn.turn_url("udp"),
            "--turn", tcp_url, "--turn-secret", topo_coturn.secret),
        capture_output=True, text=True, timeout=60,
    )
    verdict = json.loads(proc.stdout)["verdict"]
    assert verdict["code"] == "tcp_relay", verdict
    advice = verdict["ice_advice"]
    assert advice["flags"] == f"--udp-blocked --turn '{tcp_url}' --turn-secret ..."

    # The player configures ICE as advised: no STUN, only TURN over TCP.
    player_args = ["--udp-blocked", "--turn", tcp_url, "--turn-secret", topo_coturn.secret]
    topo.pub.wait_tcp(SIGNAL_IP, SIGNAL_PORT)
    _, got = real_path(topo, tmp_path, host_site, player_site, host_args, player_args)
    assert got == "relay"
