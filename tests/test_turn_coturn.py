"""The generated coturn configuration, exercised on a real `turnserver` on loopback.

Allocations with fresh, expired and wrong REST credentials over UDP and TCP; the denied peer
ranges answered with 403 Forbidden IP; quotas. Loopback only: CreatePermission sends nothing
to the peer address, it only asks coturn whether it would relay there.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.net.turn_server import make_certificate
from turn.allocation import TurnAllocationError, allocate, probe_allocation
from turn.config import ConfigError
from turn.coturn import (
    DENIED_PEER_RANGES,
    CoturnOptions,
    CoturnProcess,
    find_turnserver,
    free_port,
    render_config,
    wait_until_listening,
)
from turn.credentials import issue_credential

SECRET = "test-secret-0123456789"
LOOPBACK = "127.0.0.1"

pytestmark = pytest.mark.skipif(
    find_turnserver() is None, reason="coturn is not installed (scripts/install-system-deps.sh)"
)

StartCoturn = Callable[..., CoturnProcess]


@pytest.fixture
def start_coturn() -> Iterator[StartCoturn]:
    """Start turnservers on loopback with the generated configuration; stop them after."""
    started: list[CoturnProcess] = []

    def start(**overrides: object) -> CoturnProcess:
        options = CoturnOptions(
            **{
                "secret": SECRET,
                "listening_ips": (LOOPBACK,),
                "relay_ips": (LOOPBACK,),
                "port": free_port(LOOPBACK),
                "min_port": 40000,
                "max_port": 40999,
                **overrides,  # type: ignore[arg-type]
            }
        )
        coturn = CoturnProcess(options)
        started.append(coturn)
        coturn.wait_ready()
        return coturn

    yield start
    for coturn in started:
        coturn.stop()


@pytest.fixture
def coturn(start_coturn: StartCoturn) -> CoturnProcess:
    return start_coturn()


def url(coturn: CoturnProcess, transport: str) -> str:
    return f"turn:{LOOPBACK}:{coturn.options.port}?transport={transport}"


@pytest.mark.parametrize("transport", ["udp", "tcp"])
async def test_fresh_credentials_get_a_relay(coturn: CoturnProcess, transport: str) -> None:
    cred = issue_credential(SECRET, f"player-{transport}", time.time(), ttl=600)
    report = await probe_allocation(url(coturn, transport), cred.username, cred.password)
    assert report.ok, report.message
    assert report.outcome == "ok" and report.transport == transport
    assert report.relayed_address is not None
    host, port = report.relayed_address.rsplit(":", 1)
    assert host == LOOPBACK and 40000 <= int(port) <= 40999


@pytest.mark.parametrize("transport", ["udp", "tcp"])
async def test_expired_credentials_are_reported_as_expired(
    coturn: CoturnProcess, transport: str
) -> None:
    cred = issue_credential(SECRET, "late", time.time() - 7200, ttl=3600)
    report = await probe_allocation(url(coturn, transport), cred.username, cred.password)
    assert not report.ok
    assert report.outcome == "expired_credentials"
    assert report.error_code == 401
    assert "expired" in report.message


@pytest.mark.parametrize("transport", ["udp", "tcp"])
async def test_wrong_credentials_are_reported_as_wrong(
    coturn: CoturnProcess, transport: str
) -> None:
    cred = issue_credential("not-the-server-secret", "p", time.time(), ttl=600)
    report = await probe_allocation(url(coturn, transport), cred.username, cred.password)
    assert report.outcome == "wrong_credentials" and report.error_code == 401
    assert "refused the credentials" in report.message


async def test_no_credentials_at_all_is_wrong_credentials(coturn: CoturnProcess) -> None:
    report = await probe_allocation(url(coturn, "udp"), None, None)
    assert report.outcome == "wrong_credentials"


async def test_expired_is_judged_against_the_given_clock(coturn: CoturnProcess) -> None:
    # The same credential, wrong for the server, reads "expired" only when its time is past.
    cred = issue_credential("not-the-server-secret", "p", time.time(), ttl=600)
    report = await probe_allocation(
        url(coturn, "udp"), cred.username, cred.password, now=cred.expires_at + 1
    )
    assert report.outcome == "expired_credentials"


@pytest.mark.parametrize("transport", ["udp", "tcp"])
async def test_nothing_listening_is_unreachable(transport: str) -> None:
    port = free_port(LOOPBACK)
    report = await probe_allocation(
        f"turn:{LOOPBACK}:{port}?transport={transport}", "u", "p", time_limit=2
    )
    assert report.outcome == "unreachable", report.message


async def test_quota_reached_is_reported(start_coturn: StartCoturn) -> None:
    coturn = start_coturn(user_quota=1)
    cred = issue_credential(SECRET, "greedy", time.time(), ttl=600)
    async with await allocate(url(coturn, "udp"), cred.username, cred.password):
        report = await probe_allocation(url(coturn, "tcp"), cred.username, cred.password)
    assert report.outcome == "quota" and report.error_code == 486


@pytest.mark.parametrize(
    "peer",
    [
        "127.0.0.1",  # loopback
        "10.20.30.40",  # private
        "172.16.5.5",  # private
        "192.168.1.1",  # private
        "100.64.0.1",  # carrier-grade NAT
        "169.254.169.254",  # cloud metadata
        "169.254.1.1",  # link-local
        "0.1.2.3",  # "this" network
        "224.0.0.1",  # multicast
        "255.255.255.255",  # broadcast
    ],
)
async def test_denied_ranges_are_refused_by_coturn(coturn: CoturnProcess, peer: str) -> None:
    cred = issue_credential(SECRET, "prober", time.time(), ttl=600)
    async with await allocate(url(coturn, "udp"), cred.username, cred.password) as relay:
        with pytest.raises(TurnAllocationError) as info:
            await relay.create_permission(peer)
    assert info.value.outcome == "forbidden"
    assert info.value.error_code == 403
    assert "Forbidden IP" in str(info.value)


async def test_a_public_peer_is_permitted(coturn: CoturnProcess) -> None:
    # The denial is selective: a public (documentation-range) address gets a permission.
    cred = issue_credential(SECRET, "prober", time.time(), ttl=600)
    async with await allocate(url(coturn, "tcp"), cred.username, cred.password) as relay:
        await relay.create_permission("203.0.113.5")


async def test_allow_lan_opens_exactly_that_range(start_coturn: StartCoturn) -> None:
    coturn = start_coturn(allow_lan=("10.231.0.0/24",))
    cred = issue_credential(SECRET, "lan", time.time(), ttl=600)
    async with await allocate(url(coturn, "udp"), cred.username, cred.password) as relay:
        await relay.create_permission("10.231.0.2")
        with pytest.raises(TurnAllocationError) as info:
            await relay.create_permission("10.231.1.2")
        assert info.value.error_code == 403
        with pytest.raises(TurnAllocationError):
            await relay.create_permission("127.0.0.1")


# --- the configuration text ---------------------------------------------------------------


def test_config_has_the_safe_defaults() -> None:
    text = render_config(CoturnOptions(secret=SECRET))
    lines = set(text.splitlines())
    for line in (
        "use-auth-secret",
        f"static-auth-secret={SECRET}",
        "realm=quibble",
        "fingerprint",
        "no-cli",
        "no-multicast-peers",
        "no-tcp-relay",
        "listening-port=3478",
        "min-port=49152",
        "max-port=65535",
        "log-file=stdout",
        "no-tls",
    ):
        assert line in lines, line
    assert any(line.startswith("user-quota=") for line in lines)
    assert any(line.startswith("total-quota=") for line in lines)
    assert any(line.startswith("max-bps=") for line in lines)
    assert not any(line.startswith("bps-capacity=") for line in lines)  # only when asked
    for denied in (
        "denied-peer-ip=10.0.0.0-10.255.255.255",
        "denied-peer-ip=127.0.0.0-127.255.255.255",
        "denied-peer-ip=169.254.169.254-169.254.169.254",
        "denied-peer-ip=100.64.0.0-100.127.255.255",
        "denied-peer-ip=::1-::1",
        "denied-peer-ip=fc00::-fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
        "denied-peer-ip=fe80::-febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
    ):
        assert denied in lines, denied
    assert not any(line.startswith("allowed-peer-ip") for line in lines)
    assert "allow-loopback-peers" not in text
    assert len([d for d in lines if d.startswith("denied-peer-ip=")]) == len(DENIED_PEER_RANGES)


def test_rfc5780_is_off_unless_asked_for_with_two_addresses() -> None:
    assert "no-rfc5780" in render_config(CoturnOptions(secret=SECRET)).splitlines()
    on = render_config(CoturnOptions(secret=SECRET, rfc5780=True,
                                     listening_ips=("192.0.2.1", "192.0.2.2")))
    assert "no-rfc5780" not in on.splitlines()
    assert {"listening-ip=192.0.2.1", "listening-ip=192.0.2.2"} <= set(on.splitlines())


async def test_rfc5780_config_answers_with_its_other_address(start_coturn: StartCoturn) -> None:
    # The generated configuration with --rfc5780 on two loopback addresses: the STUN answer
    # carries OTHER-ADDRESS, and a CHANGE-REQUEST is answered from the other address.
    from turn.stun_probe import StunSocket

    coturn = start_coturn(listening_ips=(LOOPBACK, "127.0.0.2"), rfc5780=True)
    sock = await StunSocket.open("ipv4")
    try:
        answer = await sock.binding((LOOPBACK, coturn.options.port), time_limit=2)
        assert answer is not None and answer.other_address is not None
        assert answer.other_address[0] == "127.0.0.2"
        changed = await sock.binding((LOOPBACK, coturn.options.port), time_limit=2,
                                     change_ip=True, change_port=True)
        assert changed is not None and changed.source == answer.other_address
    finally:
        sock.close()
    plain = start_coturn()
    sock = await StunSocket.open("ipv4")
    try:
        answer = await sock.binding((LOOPBACK, plain.options.port), time_limit=2)
        assert answer is not None and answer.other_address is None  # the safe default
    finally:
        sock.close()


def test_tls_settings_appear_with_a_certificate(tmp_path: Path) -> None:
    cert, pkey = make_certificate(str(tmp_path), LOOPBACK)
    text = render_config(CoturnOptions(secret=SECRET, cert=cert, pkey=pkey, tls_port=443))
    lines = set(text.splitlines())
    assert {"tls-listening-port=443", f"cert={cert}", f"pkey={pkey}", "no-tlsv1",
            "no-tlsv1_1"} <= lines
    assert "no-tls" not in lines


async def test_turns_allocation_over_tls(start_coturn: StartCoturn, tmp_path: Path) -> None:
    cert, pkey = make_certificate(str(tmp_path), LOOPBACK)
    tls_port = free_port(LOOPBACK)
    coturn = start_coturn(cert=cert, pkey=pkey, tls_port=tls_port)
    wait_until_listening(LOOPBACK, tls_port)
    context = ssl.create_default_context(cafile=cert)
    cred = issue_credential(SECRET, "tls-player", time.time(), ttl=600)
    report = await probe_allocation(
        f"turns:{LOOPBACK}:{tls_port}?transport=tcp", cred.username, cred.password,
        ssl_context=context,
    )
    assert report.ok and report.transport == "tls", report.message
    untrusted = await probe_allocation(
        f"turns:{LOOPBACK}:{tls_port}?transport=tcp", cred.username, cred.password
    )
    assert untrusted.outcome == "error" and "TLS" in untrusted.message
    assert coturn.process.poll() is None


@pytest.mark.parametrize(
    ("options", "names"),
    [
        ({"secret": "short"}, "--secret: at least 16"),
        ({"secret": SECRET + " x"}, "--secret: may not contain spaces"),
        ({"realm": "two words"}, "--realm"),
        ({"port": 0}, "--port: 0 is outside"),
        ({"min_port": 60000, "max_port": 50000}, "--min-port/--max-port"),
        ({"cert": "/etc/hostname"}, "--cert and --pkey go together"),
        ({"cert": "/nonexistent.pem", "pkey": "/nonexistent.key"}, "--cert: /nonexistent.pem"),
        ({"listening_ips": ("not-an-ip",)}, "--listen: 'not-an-ip'"),
        ({"user_quota": 0}, "--user-quota: 0 must be at least 1"),
        ({"max_bps": 1000, "bps_capacity": 999}, "--bps-capacity: 999 is below --max-bps"),
        ({"allow_lan": ("banana",)}, "--allow-lan: 'banana' is not an address range"),
        ({"allow_lan": ("8.8.8.0/24",)}, "--allow-lan: 8.8.8.0/24 is not inside a private"),
        ({"allow_lan": ("127.0.0.0/8",)}, "--allow-lan: 127.0.0.0/8"),
        ({"allow_lan": ("169.254.0.0/16",)}, "--allow-lan: 169.254.0.0/16"),
        ({"allow_lan": ("10.0.0.0/7",)}, "--allow-lan: 10.0.0.0/7"),
        ({"rfc5780": True}, "--rfc5780: needs two --listen addresses"),
        ({"rfc5780": True, "listening_ips": ("192.0.2.1", "2001:db8::1")}, "--rfc5780"),
    ],
)
def test_bad_options_are_refused(options: dict[str, object], names: str) -> None:
    with pytest.raises(ConfigError) as info:
        render_config(CoturnOptions(**{"secret": SECRET, **options}))  # type: ignore[arg-type]
    assert names in str(info.value)


async def test_a_reused_source_port_is_retried_from_a_new_one(coturn: CoturnProcess) -> None:
    # coturn keeps a deleted UDP allocation's 5-tuple for a while and answers a new
    # Allocate from the same source port with 437; the probe retries from a fresh port.
    cred = issue_credential(SECRET, "reuse", time.time(), ttl=600)
    port = free_port(LOOPBACK)
    first = await allocate(url(coturn, "udp"), cred.username, cred.password,
                           local_addr=(LOOPBACK, port))
    await first.close()
    second = await allocate(url(coturn, "udp"), cred.username, cred.password,
                            local_addr=(LOOPBACK, port))
    try:
        assert second.mapped_address is not None and second.mapped_address[1] != port
    finally:
        await second.close()
