"""`quibble doctor` on real NAT topologies: namespaces, veths, iptables NAT and coturn.

Each test builds its own namespaces (tests/net/topology.py) with coturn in the "public"
one, runs the real `quibble doctor` inside a client namespace, and checks what it found and
the verdict it gave. No packet leaves the machine.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from typing import Any

import pytest

from peer import exit_codes
from tests.net.topology import IPTABLES, PUBLIC_SERVER_IPS, Coturn, Netns, Topology
from turn.config import IceSettings, parse_ice_url
from turn.coturn import find_turnserver
from turn.doctor import quick_verdict

pytestmark = [
    pytest.mark.net,
    pytest.mark.skipif(find_turnserver() is None, reason="coturn is not installed"),
    pytest.mark.skipif(not os.path.exists(IPTABLES), reason="iptables is not installed"),
]


def doctor(
    ns: Netns, *args: str, timeout: float = 60, env: dict[str, str] | None = None
) -> tuple[int, dict[str, Any], str]:
    """Run `quibble doctor --json` inside ``ns``: (exit status, report, stderr)."""
    proc = subprocess.run(
        ns.exec_args(sys.executable, "-m", "peer", "doctor", "--json", "--timeout", "3", *args),
        capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})},
    )
    try:
        report = json.loads(proc.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"doctor printed no JSON (exit {proc.returncode}):\n{proc.stderr}")
    return proc.returncode, report, proc.stderr


def stun_args(server: Coturn) -> list[str]:
    return [a for url in server.stun_urls for a in ("--stun", url)]


def turn_args(server: Coturn, *transports: str) -> list[str]:
    args = [a for t in transports for a in ("--turn", server.turn_url(t))]
    return [*args, "--turn-secret", server.secret]


def path(report: dict[str, Any], name: str) -> dict[str, Any]:
    return next(p for p in report["paths"] if p["path"] == name)


def test_public_host_no_nat_is_direct(topo: Topology, topo_coturn: Coturn) -> None:
    host, address = topo.public_host("h")
    code, report, err = doctor(host, *stun_args(topo_coturn))
    assert code == exit_codes.OK, err
    assert report["nat"]["behind_nat"] is False
    assert report["nat"]["mapping"] == "no_nat"
    assert report["nat"]["public_address"].startswith(f"{address}:")
    assert report["nat"]["filtering"] == "endpoint_independent"
    assert report["udp"]["ipv4"]["udp_ok"] is True
    assert report["verdict"]["code"] == "direct"


def test_endpoint_independent_nat_is_direct_via_stun(topo: Topology, topo_coturn: Coturn) -> None:
    site = topo.nat_site("a")
    code, report, err = doctor(site.client, *stun_args(topo_coturn))
    assert code == exit_codes.OK, err
    nat = report["nat"]
    assert nat["behind_nat"] is True
    assert nat["public_address"].startswith(site.wan_ip + ":")
    assert nat["mapping_varies_by_destination"] is False
    assert nat["mapping"] == "endpoint_independent"
    assert nat["filtering"] == "address_and_port_dependent"
    assert nat["rfc5780_server"] is not None
    assert nat["cgnat"] is False and nat["cgnat_hop"] is None
    assert nat["hops"] == [site.lan_ip.rsplit(".", 1)[0] + ".1", PUBLIC_SERVER_IPS[0]]
    assert report["verdict"]["code"] == "direct_via_stun"
    assert path(report, "srflx")["ok"] is True


def test_symmetric_nat_without_turn_needs_relay(topo: Topology, topo_coturn: Coturn) -> None:
    site = topo.nat_site("s", symmetric=True)
    code, report, err = doctor(site.client, *stun_args(topo_coturn))
    assert code == exit_codes.NEEDS_RELAY, err
    nat = report["nat"]
    assert nat["mapping_varies_by_destination"] is True
    assert nat["mapping"] == "address_and_port_dependent"
    assert report["verdict"]["code"] == "needs_relay"
    assert "symmetric NAT" in report["verdict"]["summary"]
    assert path(report, "srflx")["ok"] is False


def test_symmetric_nat_with_turn_relay_passes_end_to_end(
    topo: Topology, topo_coturn: Coturn
) -> None:
    site = topo.nat_site("s", symmetric=True)
    code, report, err = doctor(site.client, *stun_args(topo_coturn), *turn_args(topo_coturn, "udp"))
    assert code == exit_codes.OK, err
    assert report["nat"]["mapping_varies_by_destination"] is True
    assert [t["outcome"] for t in report["turn"]] == ["ok"]
    assert report["turn"][0]["relayed_address"].startswith(PUBLIC_SERVER_IPS[0] + ":")
    relay = path(report, "relay")
    assert relay["checked"] is True and relay["ok"] is True, relay
    assert relay["rtt_ms"] > 0
    assert report["verdict"]["code"] == "relay"


def test_udp_blocked_uses_turn_over_tcp(topo: Topology, topo_coturn: Coturn) -> None:
    site = topo.nat_site("b", block_udp=True)
    code, report, err = doctor(
        site.client, *stun_args(topo_coturn), *turn_args(topo_coturn, "udp", "tcp")
    )
    assert code == exit_codes.OK, err
    assert report["udp"]["ipv4"]["tested"] is True
    assert report["udp"]["ipv4"]["udp_ok"] is False
    outcomes = {t["transport"]: t["outcome"] for t in report["turn"]}
    assert outcomes == {"udp": "unreachable", "tcp": "ok"}
    relay = path(report, "relay")
    assert relay["ok"] is True and relay["via"].endswith("transport=tcp"), relay
    verdict = report["verdict"]
    assert verdict["code"] == "tcp_relay"
    assert "UDP is blocked" in verdict["summary"]
    advice = verdict["ice_advice"]
    assert advice["stun"] == [] and advice["turn"] == [topo_coturn.turn_url("tcp")]
    assert "5 s" in advice["why"]


def test_ipv4_and_ipv6_are_reported_separately(topo: Topology, topo_coturn: Coturn) -> None:
    dual, address = topo.public_host("d", ipv6=True)
    v4_only = topo.nat_site("n")
    args = [*stun_args(topo_coturn), "--stun", topo_coturn.stun_url6]
    _, both, err = doctor(dual, *args, "--no-e2e")
    assert both["udp"]["ipv4"]["udp_ok"] is True, err
    assert both["udp"]["ipv6"]["udp_ok"] is True
    assert both["udp"]["ipv6"]["mapped_addresses"][0].startswith("[2001:db8:")
    v6 = [s for s in both["stun"] if s["family"] == "ipv6"]
    assert len(v6) == 1 and v6[0]["ok"] and v6[0]["rtt_ms"] > 0
    assert both["nat"]["public_address"].startswith(f"{address}:")  # the IPv4 NAT facts

    _, nat_only, err = doctor(v4_only.client, *args, "--no-e2e")
    assert nat_only["udp"]["ipv4"]["udp_ok"] is True, err
    assert nat_only["udp"]["ipv6"]["tested"] is True
    assert nat_only["udp"]["ipv6"]["udp_ok"] is False
    assert nat_only["verdict"]["code"] == "direct_via_stun"


def test_double_nat_behind_a_carrier_grade_nat_is_named(
    topo: Topology, topo_coturn: Coturn
) -> None:
    # Home router on 100.64/10, the provider's NAT in front: neither our address nor the
    # mapped one is in 100.64/10, so only the routers on the way out show it.
    site = topo.cgnat_site("g")
    code, report, err = doctor(site.client, *stun_args(topo_coturn), "--no-e2e")
    assert code == exit_codes.OK, err
    nat = report["nat"]
    assert nat["public_address"].startswith(site.wan_ip + ":")  # the CGN's public address
    assert not nat["public_address"].startswith("100.64.")
    assert report["udp"]["ipv4"]["local_address"] == site.lan_ip
    assert nat["cgnat"] is True
    assert nat["cgnat_hop"] is not None and nat["cgnat_hop"].startswith("100.64.")
    assert nat["hops"][:2] == [site.lan_ip.rsplit(".", 1)[0] + ".1", nat["cgnat_hop"]]
    assert nat["mapping"] == "endpoint_independent"  # RFC 6888: a CGN keeps one mapping
    assert report["verdict"]["code"] == "direct_via_stun"
    assert any("carrier-grade NAT" in line and nat["cgnat_hop"] in line
               for line in report["verdict"]["remediation"])


def test_an_address_in_100_64_is_a_carrier_grade_nat(topo: Topology, topo_coturn: Coturn) -> None:
    site = topo.cgnat_site("m", home_router=False)  # a phone: 100.64 on its own interface
    code, report, err = doctor(site.client, *stun_args(topo_coturn), "--no-e2e")
    assert code == exit_codes.OK, err
    assert report["nat"]["cgnat"] is True
    assert any(i["address"] == site.lan_ip and i["scope"] == "cgnat"
               for i in report["interfaces"])
    assert report["nat"]["public_address"].startswith(site.wan_ip + ":")


def test_office_firewall_only_https_gets_through_turns_on_443(
    topo: Topology, topo_coturn_tls: Coturn, tls_cert: tuple[str, str]
) -> None:
    # No UDP out, TCP only to 443: STUN, TURN/UDP and TURN/TCP on 3478 all fail; TURN over
    # TLS on 443 is the way, and a real data channel goes through it.
    site = topo.nat_site("o", block_udp=True, tcp_ports=[443])
    tls_url = topo_coturn_tls.turn_url("tls")
    code, report, err = doctor(
        site.client, *stun_args(topo_coturn_tls), "--turn", topo_coturn_tls.turn_url("udp"),
        "--turn", topo_coturn_tls.turn_url("tcp"), "--turn", tls_url,
        "--turn-secret", topo_coturn_tls.secret, env={"SSL_CERT_FILE": tls_cert[0]},
    )
    assert code == exit_codes.OK, err
    assert report["udp"]["ipv4"]["udp_ok"] is False
    outcomes = {t["transport"]: t["outcome"] for t in report["turn"]}
    assert outcomes == {"udp": "unreachable", "tcp": "unreachable", "tls": "ok"}, report["turn"]
    relay = path(report, "relay")
    assert relay["checked"] and relay["ok"] and relay["via"] == tls_url, relay
    verdict = report["verdict"]
    assert verdict["code"] == "tcp_relay"
    assert verdict["ice_advice"]["turn"] == [tls_url] and verdict["ice_advice"]["stun"] == []
    assert verdict["ice_advice"]["flags"] == f"--udp-blocked --turn '{tls_url}' --turn-secret ..."


def test_turns_without_a_trusted_certificate_says_tls_failed(
    topo: Topology, topo_coturn_tls: Coturn
) -> None:
    site = topo.nat_site("u", block_udp=True, tcp_ports=[443])
    code, report, err = doctor(
        site.client, "--turn", topo_coturn_tls.turn_url("tls"),
        "--turn-secret", topo_coturn_tls.secret, "--no-e2e",
    )
    assert code == exit_codes.NEEDS_RELAY, err
    [turn] = report["turn"]
    assert turn["outcome"] == "error" and "TLS handshake" in turn["message"], turn
    assert report["verdict"]["code"] == "relay_failing"


def test_quick_verdict_for_the_host_start_up_warns_behind_a_symmetric_nat(
    topo: Topology, topo_coturn: Coturn
) -> None:
    # The fast subset `quibble host` is meant to run at start-up: STUN, NAT, TURN, no
    # data channels. Behind a symmetric NAT without TURN it is not ok, and says why.
    site = topo.nat_site("q", symmetric=True)
    settings = IceSettings(stun=tuple(parse_ice_url(u) for u in topo_coturn.stun_urls))
    verdict = site.client.call(lambda: asyncio.run(quick_verdict(settings)))
    assert (verdict.code, verdict.ok, verdict.exit_code) == (
        "needs_relay", False, exit_codes.NEEDS_RELAY
    )
    assert "symmetric NAT" in verdict.summary
    with_turn = IceSettings(
        stun=settings.stun, turn=(parse_ice_url(topo_coturn.turn_url("udp")),),
        secret=topo_coturn.secret,
    )
    verdict = site.client.call(lambda: asyncio.run(quick_verdict(with_turn)))
    assert (verdict.code, verdict.ok) == ("relay", True)
