"""STUN probes: the RFC 5780 classification rules, and the probe against a fake server.

The fake server listens on loopback (127.0.0.1 and 127.0.0.2, two ports each), offers
OTHER-ADDRESS, answers CHANGE-REQUEST from its other address/port, and plays a NAT: it
reports the mapped address a NAT with the chosen mapping behaviour would give, and drops
the changed-source answers a NAT with the chosen filtering behaviour would drop. The real
NATs are in tests/net/test_doctor_topologies.py.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import pytest
from aioice import stun

from turn.hop_probe import cgnat_hop, first_hops
from turn.stun_probe import (
    CHANGE_IP,
    CHANGE_PORT,
    StunSocket,
    classify_filtering,
    classify_mapping,
    is_cgnat,
    mapping_varies,
    probe_family,
)

LOCAL = ("192.168.1.2", 5000)
PUBLIC = "198.51.100.2"


@pytest.mark.parametrize(
    ("primary", "alt_ip", "alt_both", "expected"),
    [
        (None, None, None, "unknown"),
        (LOCAL, None, None, "no_nat"),
        ((PUBLIC, 40000), None, None, "unknown"),
        ((PUBLIC, 40000), (PUBLIC, 40000), None, "endpoint_independent"),
        ((PUBLIC, 40000), (PUBLIC, 40001), (PUBLIC, 40001), "address_dependent"),
        ((PUBLIC, 40000), (PUBLIC, 40001), (PUBLIC, 40002), "address_and_port_dependent"),
        ((PUBLIC, 40000), (PUBLIC, 40001), None, "unknown"),
    ],
)
def test_classify_mapping(primary, alt_ip, alt_both, expected) -> None:  # type: ignore[no-untyped-def]
    assert classify_mapping(LOCAL, primary, alt_ip, alt_both) == expected


@pytest.mark.parametrize(
    ("primary", "both", "port_only", "expected"),
    [
        (False, False, False, "unknown"),
        (True, True, True, "endpoint_independent"),
        (True, True, False, "endpoint_independent"),
        (True, False, True, "address_dependent"),
        (True, False, False, "address_and_port_dependent"),
    ],
)
def test_classify_filtering(primary: bool, both: bool, port_only: bool, expected: str) -> None:
    assert classify_filtering(primary, both, port_only) == expected


def test_mapping_varies() -> None:
    assert mapping_varies([]) is None
    assert mapping_varies([(PUBLIC, 1)]) is None
    assert mapping_varies([(PUBLIC, 1), (PUBLIC, 1)]) is False
    assert mapping_varies([(PUBLIC, 1), (PUBLIC, 2)]) is True


@pytest.mark.parametrize(
    ("address", "expected"),
    [("100.64.0.1", True), ("100.127.255.255", True), ("100.128.0.1", False),
     ("192.168.1.1", False), ("::1", False), ("junk", False)],
)
def test_is_cgnat(address: str, expected: bool) -> None:
    assert is_cgnat(address) is expected


# -- a fake RFC 5780 server playing a NAT ---------------------------------------------------


class FakeServer:
    """Four sockets: (ip1|ip2) x (port1|port2), all answering Binding requests."""

    def __init__(self, mapping: str, filtering: str, rfc5780: bool = True) -> None:
        self.mapping = mapping  # eim / adm / apdm / none (report the real source)
        self.filtering = filtering  # eif / adf / apdf
        self.rfc5780 = rfc5780
        self.transports: dict[tuple[str, int], asyncio.DatagramTransport] = {}
        self.requests = 0

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        for _ in range(20):
            p1, p2 = _free_udp_port(), _free_udp_port()
            try:
                for ip in ("127.0.0.1", "127.0.0.2"):
                    for port in (p1, p2):
                        addr = (ip, port)
                        transport, _ = await loop.create_datagram_endpoint(
                            lambda addr=addr: _Answerer(self, addr), local_addr=addr
                        )
                        self.transports[addr] = transport
                self.ports = (p1, p2)
                return
            except OSError:
                self.close()
        raise OSError("no free port pair on loopback")

    @property
    def primary(self) -> tuple[str, int]:
        return ("127.0.0.1", self.ports[0])

    def mapped_for(self, source: tuple[str, int], at: tuple[str, int]) -> tuple[str, int]:
        if self.mapping == "none":
            return source
        ip_index = 0 if at[0] == "127.0.0.1" else 1
        port_index = 0 if at[1] == self.ports[0] else 1
        offset = {"eim": 0, "adm": ip_index, "apdm": ip_index * 2 + port_index}[self.mapping]
        return (PUBLIC, 40000 + offset)

    def answer(self, data: bytes, source: tuple[str, int], at: tuple[str, int]) -> None:
        self.requests += 1
        request = stun.parse_message(data)
        flags = request.attributes.get("CHANGE-REQUEST", 0) if self.rfc5780 else 0
        out_ip = at[0] if not flags & CHANGE_IP else _other(at[0], "127.0.0.1", "127.0.0.2")
        out_port = at[1] if not flags & CHANGE_PORT else _other(at[1], *self.ports)
        if flags & CHANGE_IP and self.filtering in ("adf", "apdf"):
            return  # the NAT drops an answer from an address we never sent to
        if flags & CHANGE_PORT and self.filtering == "apdf":
            return
        response = stun.Message(
            message_method=stun.Method.BINDING, message_class=stun.Class.RESPONSE,
            transaction_id=request.transaction_id,
        )
        response.attributes["XOR-MAPPED-ADDRESS"] = self.mapped_for(source, at)
        if self.rfc5780:
            response.attributes["OTHER-ADDRESS"] = ("127.0.0.2", self.ports[1])
        response.add_fingerprint()
        self.transports[(out_ip, out_port)].sendto(bytes(response), source)

    def close(self) -> None:
        for t in self.transports.values():
            t.close()
        self.transports.clear()


def _other(value: object, a: object, b: object) -> object:
    return b if value == a else a


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Answerer(asyncio.DatagramProtocol):
    def __init__(self, server: FakeServer, at: tuple[str, int]) -> None:
        self.server, self.at = server, at

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:  # type: ignore[override]
        if data.startswith(b"junk"):
            return
        self.server.answer(data, (addr[0], addr[1]), self.at)


@pytest.fixture
async def make_server() -> AsyncIterator[object]:
    servers: list[FakeServer] = []

    async def make(mapping: str, filtering: str, rfc5780: bool = True) -> FakeServer:
        server = FakeServer(mapping, filtering, rfc5780)
        await server.start()
        servers.append(server)
        return server

    yield make
    for s in servers:
        s.close()


@pytest.mark.parametrize(
    ("mapping", "filtering", "expected_mapping", "expected_filtering", "varies"),
    [
        ("eim", "apdf", "endpoint_independent", "address_and_port_dependent", False),
        ("adm", "adf", "address_dependent", "address_dependent", True),
        ("apdm", "eif", "address_and_port_dependent", "endpoint_independent", True),
        ("none", "eif", "no_nat", "endpoint_independent", False),
    ],
)
async def test_probe_family_classifies_what_the_fake_nat_does(
    make_server, mapping, filtering, expected_mapping, expected_filtering, varies,  # type: ignore[no-untyped-def]
) -> None:
    server = await make_server(mapping, filtering)
    probe = await probe_family("ipv4", [server.primary], time_limit=1.0)
    assert probe.answered
    assert probe.local_address == "127.0.0.1"
    assert probe.rfc5780_server == server.primary
    assert probe.mapping == expected_mapping
    assert probe.filtering == expected_filtering
    assert probe.mapping_varies is varies


async def test_two_plain_servers_show_a_mapping_that_does_not_vary(make_server) -> None:  # type: ignore[no-untyped-def]
    a = await make_server("eim", "apdf", rfc5780=False)
    b = await make_server("eim", "apdf", rfc5780=False)
    probe = await probe_family("ipv4", [a.primary, b.primary], time_limit=1.0)
    assert probe.rfc5780_server is None
    assert probe.mapping_varies is False
    assert probe.mapping == "endpoint_independent"
    assert probe.filtering == "unknown"


async def test_one_plain_server_cannot_classify(make_server) -> None:  # type: ignore[no-untyped-def]
    server = await make_server("eim", "apdf", rfc5780=False)
    probe = await probe_family("ipv4", [server.primary], time_limit=1.0)
    assert probe.answered and probe.mapping_varies is None
    assert probe.mapping == "unknown"


async def test_binding_reports_rtt_mapped_and_other_address(make_server) -> None:  # type: ignore[no-untyped-def]
    server = await make_server("eim", "eif")
    sock = await StunSocket.open("ipv4")
    try:
        answer = await sock.binding(server.primary, time_limit=1.0)
        assert answer is not None
        assert answer.mapped == (PUBLIC, 40000)
        assert answer.other_address == ("127.0.0.2", server.ports[1])
        assert answer.source == server.primary
        assert answer.rtt_ms > 0
        changed = await sock.binding(server.primary, time_limit=1.0, change_ip=True,
                                     change_port=True)
        assert changed is not None and changed.source == ("127.0.0.2", server.ports[1])
    finally:
        sock.close()


async def test_silence_and_junk_give_none_without_raising() -> None:
    loop = asyncio.get_running_loop()
    junk_sent = asyncio.Event()

    class Junk(asyncio.DatagramProtocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.transport = transport

        def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:  # type: ignore[override]
            self.transport.sendto(b"\x01\x01 not stun at all", addr)  # type: ignore[attr-defined]
            self.transport.sendto(b"\x00" * 4096, addr)  # type: ignore[attr-defined]
            junk_sent.set()

    transport, _ = await loop.create_datagram_endpoint(Junk, local_addr=("127.0.0.1", 0))
    sock = await StunSocket.open("ipv4")
    try:
        target = transport.get_extra_info("sockname")
        assert await sock.binding(target, time_limit=0.6) is None
        assert junk_sent.is_set()
    finally:
        sock.close()
        transport.close()


@pytest.mark.parametrize(
    ("hops", "expected"),
    [
        ([], None),
        (["192.168.1.1", None, "203.0.113.1"], None),
        (["192.168.1.1", "100.64.10.1", "100.127.0.1"], "100.64.10.1"),
        ([None, "100.100.0.1"], "100.100.0.1"),
        (["100.128.0.1"], None),  # just outside 100.64.0.0/10
    ],
)
def test_cgnat_hop(hops: list[str | None], expected: str | None) -> None:
    assert cgnat_hop(hops) == expected


async def test_first_hops_only_walks_ipv4() -> None:
    assert await first_hops(("2001:db8::1", 3478)) == []


async def test_first_hops_reaching_a_local_stun_server_at_once(make_server) -> None:  # type: ignore[no-untyped-def]
    # On loopback the server is the first hop: its answer ends the walk there.
    server = await make_server("none", "eif")
    assert await first_hops(server.primary, time_limit=1.0) == ["127.0.0.1"]
