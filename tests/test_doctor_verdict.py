"""decide_verdict() and predict_pair_path(): every verdict code from the facts alone."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from peer import exit_codes
from turn.allocation import AllocationReport
from turn.doctor import (
    CandidateInfo,
    DoctorReport,
    InterfaceInfo,
    NatReport,
    PathReport,
    SignalingReport,
    StunServerReport,
    UdpFamilyReport,
    UdpReport,
    decide_verdict,
    predict_pair_path,
    scope_of,
)

UDP_URL = "turn:203.0.113.1:3478?transport=udp"
TCP_URL = "turn:203.0.113.1:3478?transport=tcp"


def nat(**kw: Any) -> NatReport:
    fields: dict[str, Any] = dict(
        behind_nat=True, public_address="198.51.100.2:40000",
        mapping_varies_by_destination=False, mapping="endpoint_independent",
        filtering="address_and_port_dependent", rfc5780_server="203.0.113.1:3478", cgnat=False,
    )
    fields.update(kw)
    return NatReport(**fields)


NO_NAT = nat(behind_nat=None, public_address=None, mapping_varies_by_destination=None,
             mapping="unknown", filtering="unknown", rfc5780_server=None)
SYMMETRIC = nat(mapping_varies_by_destination=True, mapping="address_and_port_dependent")


def udp(ok: bool | None) -> UdpReport:
    tested = ok is not None
    return UdpReport(
        ipv4=UdpFamilyReport(family="ipv4", tested=tested, udp_ok=ok),
        ipv6=UdpFamilyReport(family="ipv6", tested=False, udp_ok=None),
    )


def alloc(url: str, outcome: str = "ok") -> AllocationReport:
    transport = "tcp" if "tcp" in url else "udp"
    return AllocationReport(
        url=url, transport=transport, outcome=outcome,  # type: ignore[arg-type]
        ok=outcome == "ok", message=f"{outcome} at {url}",
        relayed_address="203.0.113.1:50000" if outcome == "ok" else None,
    )


def relay_path(url: str, ok: bool = True) -> PathReport:
    return PathReport(path="relay", via=url, checked=True, ok=ok, note="" if ok else "timed out")


def report(**kw: Any) -> DoctorReport:
    fields: dict[str, Any] = dict(
        started_at="2026-01-01T00:00:00+00:00", duration_ms=1.0,
        stun_urls=[], turn_urls=[], turn_auth="none",
        interfaces=[InterfaceInfo(name="eth0", address="192.168.1.2", family="ipv4",
                                  scope="private")],
        host_candidates=[CandidateInfo(type="host", protocol="udp", address="192.168.1.2",
                                       port=5000)],
        udp=udp(None), stun=[], nat=NO_NAT, turn=[], signaling=None,
        paths=[PathReport(path="host", via=None, checked=True, ok=True)], room=None,
    )
    fields.update(kw)
    return DoctorReport(**fields)


def test_nothing_configured_is_lan_only_and_ok() -> None:
    v = decide_verdict(report())
    assert (v.code, v.ok, v.exit_code) == ("lan_only", True, exit_codes.OK)
    assert "--stun" in " ".join(v.remediation)


def test_stun_names_that_do_not_resolve_are_no_path_not_lan_only() -> None:
    unresolved = StunServerReport(url="stun:typo.example.org:3478", address=None, family=None,
                                  ok=False, error="name did not resolve")
    v = decide_verdict(report(stun_urls=[unresolved.url], stun=[unresolved]))
    assert (v.code, v.ok, v.exit_code) == ("no_path", False, exit_codes.NO_PATH)
    assert "stun:typo.example.org:3478 did not resolve" in v.summary


def test_no_usable_address_is_no_network() -> None:
    lo = InterfaceInfo(name="lo", address="127.0.0.1", family="ipv4", scope="loopback")
    v = decide_verdict(report(interfaces=[lo], host_candidates=[]))
    assert (v.code, v.exit_code) == ("no_network", exit_codes.NO_PATH)


def test_no_nat_is_direct() -> None:
    v = decide_verdict(report(udp=udp(True), nat=nat(behind_nat=False, mapping="no_nat")))
    assert (v.code, v.exit_code) == ("direct", exit_codes.OK)


def test_endpoint_independent_nat_is_direct_via_stun_and_suggests_a_backup_relay() -> None:
    v = decide_verdict(report(udp=udp(True), nat=nat()))
    assert (v.code, v.exit_code) == ("direct_via_stun", exit_codes.OK)
    assert any("quibble turn" in line for line in v.remediation)


def test_endpoint_independent_nat_with_working_relay_has_no_backup_advice() -> None:
    v = decide_verdict(report(udp=udp(True), nat=nat(), turn=[alloc(UDP_URL)],
                              paths=[relay_path(UDP_URL)]))
    assert v.code == "direct_via_stun"
    assert not any("quibble turn" in line for line in v.remediation)


def test_one_server_without_rfc5780_cannot_tell_the_mapping() -> None:
    v = decide_verdict(report(udp=udp(True), nat=nat(
        mapping="unknown", mapping_varies_by_destination=None, rfc5780_server=None)))
    assert (v.code, v.exit_code) == ("stun_mapping_unknown", exit_codes.OK)
    assert "--stun` twice" in v.remediation[0]


def test_symmetric_nat_without_turn_needs_a_relay() -> None:
    v = decide_verdict(report(udp=udp(True), nat=SYMMETRIC))
    assert (v.code, v.ok, v.exit_code) == ("needs_relay", False, exit_codes.NEEDS_RELAY)
    assert v.summary.startswith("You are behind a symmetric NAT")
    assert "quibble turn" in v.summary


@pytest.mark.parametrize("mapping", ["address_dependent", "address_and_port_dependent"])
def test_rfc5780_dependent_mapping_counts_as_symmetric(mapping: str) -> None:
    v = decide_verdict(report(udp=udp(True), nat=nat(
        mapping=mapping, mapping_varies_by_destination=None)))
    assert v.code == "needs_relay"


def test_symmetric_nat_with_working_relay_is_ok_and_names_the_url() -> None:
    v = decide_verdict(report(udp=udp(True), nat=SYMMETRIC,
                              turn=[alloc(TCP_URL), alloc(UDP_URL)],
                              paths=[relay_path(TCP_URL), relay_path(UDP_URL)]))
    assert (v.code, v.exit_code) == ("relay", exit_codes.OK)
    assert v.ice_advice is not None and v.ice_advice.turn == [UDP_URL]  # UDP preferred
    assert "--turn-secret ..." in v.ice_advice.flags


def test_symmetric_nat_with_wrong_credentials_says_so() -> None:
    v = decide_verdict(report(udp=udp(True), nat=SYMMETRIC,
                              turn=[alloc(UDP_URL, "wrong_credentials")]))
    assert (v.code, v.exit_code) == ("relay_failing", exit_codes.NEEDS_RELAY)
    assert "wrong_credentials" in v.summary
    assert "static-auth-secret" in v.remediation[0]


def test_allocation_ok_but_relay_channel_fails_is_relay_failing() -> None:
    v = decide_verdict(report(udp=udp(True), nat=SYMMETRIC, turn=[alloc(UDP_URL)],
                              paths=[relay_path(UDP_URL, ok=False)]))
    assert v.code == "relay_failing"
    assert "no data channel opened through the relay" in v.summary


def test_udp_blocked_with_tcp_relay_is_ok_and_advises_no_udp_servers() -> None:
    v = decide_verdict(report(udp=udp(False),
                              turn=[alloc(UDP_URL, "unreachable"), alloc(TCP_URL)],
                              paths=[relay_path(TCP_URL)]))
    assert (v.code, v.exit_code) == ("tcp_relay", exit_codes.OK)
    assert "UDP is blocked" in v.summary
    assert v.ice_advice is not None
    assert v.ice_advice.stun == [] and v.ice_advice.turn == [TCP_URL]
    assert "5 s" in v.ice_advice.why


def test_udp_blocked_without_turn_needs_a_relay_over_tcp() -> None:
    v = decide_verdict(report(udp=udp(False)))
    assert (v.code, v.exit_code) == ("udp_blocked", exit_codes.NEEDS_RELAY)
    assert "use TURN over TCP on port 443" in v.summary


def test_udp_blocked_mentions_the_websocket_relay_when_signaling_answers() -> None:
    sig = SignalingReport(url="http://s", http_ok=True, http_status=200, ws_ok=True,
                          ice_servers=[])
    v = decide_verdict(report(udp=udp(False), signaling=sig))
    assert v.code == "udp_blocked"
    assert any("WebSocket" in line for line in v.remediation)


def test_udp_blocked_and_turn_unreachable_everywhere_is_no_path() -> None:
    v = decide_verdict(report(udp=udp(False), turn=[alloc(UDP_URL, "unreachable"),
                                                    alloc(TCP_URL, "unreachable")]))
    assert (v.code, v.exit_code) == ("no_path", exit_codes.NO_PATH)


def test_udp_blocked_and_tcp_turn_refuses_credentials_is_relay_failing() -> None:
    v = decide_verdict(report(udp=udp(False), turn=[alloc(TCP_URL, "expired_credentials")]))
    assert (v.code, v.exit_code) == ("relay_failing", exit_codes.NEEDS_RELAY)
    assert "expired" in v.remediation[0]


def test_turn_only_configuration_with_working_relay_is_relay() -> None:
    v = decide_verdict(report(turn=[alloc(UDP_URL)], paths=[relay_path(UDP_URL)]))
    assert (v.code, v.exit_code) == ("relay", exit_codes.OK)


def test_cgnat_is_named_in_the_remediation() -> None:
    v = decide_verdict(report(udp=udp(True), nat=nat(cgnat=True)))
    assert any("carrier-grade NAT" in line for line in v.remediation)


def test_a_cgnat_router_on_the_way_out_is_named() -> None:
    hops = ["192.168.1.1", "100.64.10.1", "203.0.113.1"]
    v = decide_verdict(report(udp=udp(True), nat=nat(cgnat=True, hops=hops,
                                                     cgnat_hop="100.64.10.1")))
    assert v.code == "direct_via_stun"  # a CGN keeping one mapping still lets STUN work
    assert any("router 100.64.10.1" in line for line in v.remediation)


def test_verdict_ignores_the_reports_own_verdict_field() -> None:
    r = report(udp=udp(True), nat=SYMMETRIC)
    again = msgspec.structs.replace(r, verdict=decide_verdict(r))
    assert decide_verdict(again) == decide_verdict(r)


@pytest.mark.parametrize(
    ("address", "scope"),
    [("127.0.0.1", "loopback"), ("fe80::1", "link_local"), ("192.168.1.2", "private"),
     ("100.64.1.1", "cgnat"), ("203.0.113.5", "public"), ("8.8.8.8", "public"),
     ("fd00::2", "private"), ("fe80::1%eth0", "link_local")],
)
def test_scope_of(address: str, scope: str) -> None:
    assert scope_of(address) == scope


# -- two sides -----------------------------------------------------------------------------

CONE_APDF = nat()
CONE_ADF = nat(filtering="address_dependent")
PUBLIC_OPEN = nat(behind_nat=False, mapping="no_nat", filtering="endpoint_independent")


@pytest.mark.parametrize(
    ("a", "b", "relay", "expected"),
    [
        (CONE_APDF, CONE_APDF, False, "direct"),
        (SYMMETRIC, CONE_ADF, False, "direct"),
        (SYMMETRIC, PUBLIC_OPEN, False, "direct"),
        (SYMMETRIC, CONE_APDF, True, "relay"),
        (SYMMETRIC, CONE_APDF, False, "none"),
        (SYMMETRIC, SYMMETRIC, True, "relay"),
        (NO_NAT, CONE_APDF, True, "relay"),
    ],
)
def test_predict_pair_path(a: NatReport, b: NatReport, relay: bool, expected: str) -> None:
    turn = [alloc(UDP_URL)] if relay else []
    assert predict_pair_path(report(nat=a, turn=turn), report(nat=b)) == expected
    assert predict_pair_path(report(nat=b), report(nat=a, turn=turn)) == expected
