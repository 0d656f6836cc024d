"""STUN binding probes on `aioice.stun`: round-trip time, mapped address, NAT behaviour.

What `quibble doctor` learns from STUN servers, per address family:

- whether any server answers over UDP at all (none answering: UDP is blocked, or the
  servers are down);
- each server's round-trip time and the public (mapped) address it saw;
- whether the mapping varies by destination, from ONE socket to every server (and, where a
  server offers RFC 5780, to its other address): the test that tells an endpoint-independent
  NAT from a symmetric one;
- where a server implements RFC 5780 (OTHER-ADDRESS and CHANGE-REQUEST; coturn does when it
  listens on two addresses), the mapping and filtering behaviour as RFC 5780 names them;
- carrier-grade NAT (100.64.0.0/10 as the local or the mapped address).

No hairpin probes: firewalls flag them as attacks. The classification rules are pure
functions (classify_mapping, classify_filtering) so they are tested without a network.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from aioice import stun

from turn.address_scope import is_cgnat

Family = Literal["ipv4", "ipv6"]
Behaviour = Literal[
    "no_nat",  # the mapped address is our own address: nothing translates
    "endpoint_independent",
    "address_dependent",
    "address_and_port_dependent",
    "unknown",
]
Address = tuple[str, int]

# CHANGE-REQUEST flags (RFC 5780 section 7.2).
CHANGE_IP = 0x04
CHANGE_PORT = 0x02

_MAX_STUN_BYTES = 2048
# A STUN retransmission schedule short enough for an interactive command: sends at 0, 0.25,
# 0.75, 1.75 s... until the caller's time limit.
_FIRST_RTO = 0.25


def format_address(addr: Address) -> str:
    """``ip:port``, with brackets around an IPv6 address."""
    host = f"[{addr[0]}]" if ":" in addr[0] else addr[0]
    return f"{host}:{addr[1]}"


def family_of(ip: str) -> Family:
    """ipv4 or ipv6 for an address literal."""
    return "ipv6" if ipaddress.ip_address(ip).version == 6 else "ipv4"


@dataclass(frozen=True)
class BindingAnswer:
    """One answered Binding request."""

    mapped: Address  # XOR-MAPPED-ADDRESS (or MAPPED-ADDRESS from an old server)
    rtt_ms: float  # from the last (re)transmission to the answer
    source: Address  # where the answer came from (differs after a CHANGE-REQUEST)
    other_address: Address | None  # RFC 5780 OTHER-ADDRESS, when the server offers it


class _StunSocketProtocol(asyncio.DatagramProtocol):
    """Routes STUN answers to their waiting requests by transaction id, from any source."""

    def __init__(self) -> None:
        self.waiting: dict[bytes, asyncio.Future[tuple[stun.Message, Address]]] = {}

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        if len(data) > _MAX_STUN_BYTES:
            return
        try:
            message = stun.parse_message(data)
        except ValueError:
            return  # not STUN, or mangled: a probe never trusts stray bytes
        future = self.waiting.get(message.transaction_id)
        if future is not None and not future.done():
            future.set_result((message, (str(addr[0]), int(addr[1]))))

    def error_received(self, exc: Exception) -> None:
        # ICMP errors (port unreachable) arrive here; the request then simply times out.
        pass


class StunSocket:
    """One UDP socket sending STUN Binding requests: every probe from it shares its mapping."""

    def __init__(self, transport: asyncio.DatagramTransport, protocol: _StunSocketProtocol):
        self._transport = transport
        self._protocol = protocol

    @classmethod
    async def open(cls, family: Family) -> StunSocket:
        """A socket bound to an ephemeral port on every address of ``family``."""
        loop = asyncio.get_running_loop()
        bind = ("0.0.0.0", 0) if family == "ipv4" else ("::", 0)
        transport, protocol = await loop.create_datagram_endpoint(
            _StunSocketProtocol,
            local_addr=bind,
            family=socket.AF_INET if family == "ipv4" else socket.AF_INET6,
        )
        return cls(transport, protocol)

    @property
    def local_port(self) -> int:
        """The UDP port this socket is bound to."""
        return int(self._transport.get_extra_info("sockname")[1])

    async def binding(
        self,
        server: Address,
        *,
        time_limit: float,
        change_ip: bool = False,
        change_port: bool = False,
    ) -> BindingAnswer | None:
        """Send a Binding request (retransmitted) to ``server``; None when nothing answers.

        With ``change_ip``/``change_port`` the request carries an RFC 5780 CHANGE-REQUEST,
        asking the server to answer from its other address and/or port.
        """
        request = stun.Message(
            message_method=stun.Method.BINDING, message_class=stun.Class.REQUEST
        )
        flags = (CHANGE_IP if change_ip else 0) | (CHANGE_PORT if change_port else 0)
        if flags:
            request.attributes["CHANGE-REQUEST"] = flags
        request.add_fingerprint()
        data = bytes(request)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[tuple[stun.Message, Address]] = loop.create_future()
        self._protocol.waiting[request.transaction_id] = future
        deadline = loop.time() + time_limit
        rto = _FIRST_RTO
        sent_at = time.perf_counter()
        try:
            while True:
                sent_at = time.perf_counter()
                try:
                    self._transport.sendto(data, server)
                except OSError:
                    return None  # no route: as good as no answer
                wait = min(rto, deadline - loop.time())
                if wait <= 0:
                    return None
                done, _ = await asyncio.wait({future}, timeout=wait)
                if done:
                    break
                rto *= 2
        finally:
            self._protocol.waiting.pop(request.transaction_id, None)
        message, source = future.result()
        rtt_ms = (time.perf_counter() - sent_at) * 1000
        if message.message_class != stun.Class.RESPONSE:
            return None  # an error answer (e.g. 420 for an unknown CHANGE-REQUEST)
        mapped = message.attributes.get("XOR-MAPPED-ADDRESS") or message.attributes.get(
            "MAPPED-ADDRESS"
        )
        if mapped is None:
            return None
        other = message.attributes.get("OTHER-ADDRESS") or message.attributes.get(
            "CHANGED-ADDRESS"
        )
        return BindingAnswer(
            mapped=(str(mapped[0]), int(mapped[1])),
            rtt_ms=rtt_ms,
            source=source,
            other_address=(str(other[0]), int(other[1])) if other else None,
        )

    def close(self) -> None:
        """Close the socket."""
        self._transport.close()


def local_address_towards(server: Address) -> str | None:
    """Our source address for packets to ``server`` (a UDP connect sends nothing)."""
    family = socket.AF_INET6 if ":" in server[0] else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        try:
            sock.connect(server)
        except OSError:
            return None
        return str(sock.getsockname()[0])


# ---------------------------------------------------------------------------------------
# Classification (pure)


def classify_mapping(
    local: Address,
    primary: Address | None,
    alternate_ip: Address | None,
    alternate_ip_and_port: Address | None,
) -> Behaviour:
    """RFC 5780 section 4.3: the mapping behaviour from the mapped addresses of tests I-III.

    ``primary`` is what the server's primary address saw; ``alternate_ip`` what its other
    IP on the primary port saw (test II); ``alternate_ip_and_port`` what its other IP and
    port saw (test III). Any missing answer where one is needed gives "unknown".
    """
    if primary is None:
        return "unknown"
    if primary == local:
        return "no_nat"
    if alternate_ip is None:
        return "unknown"
    if alternate_ip == primary:
        return "endpoint_independent"
    if alternate_ip_and_port is None:
        return "unknown"
    if alternate_ip_and_port == alternate_ip:
        return "address_dependent"
    return "address_and_port_dependent"


def classify_filtering(
    primary_answered: bool, change_ip_and_port_answered: bool, change_port_answered: bool
) -> Behaviour:
    """RFC 5780 section 4.4: the filtering behaviour from tests I-III.

    Test II asks for an answer from the other IP and port, test III from the other port
    only; an answer arriving means the NAT (or firewall) let it in.
    """
    if not primary_answered:
        return "unknown"
    if change_ip_and_port_answered:
        return "endpoint_independent"
    if change_port_answered:
        return "address_dependent"
    return "address_and_port_dependent"


def mapping_varies(mapped: Sequence[Address]) -> bool | None:
    """Whether one socket got different mapped addresses from different destinations.

    None when fewer than two destinations answered (nothing to compare).
    """
    if len(mapped) < 2:
        return None
    return len(set(mapped)) > 1


# ---------------------------------------------------------------------------------------
# Probes


@dataclass(frozen=True)
class ServerAnswer:
    """What one STUN server (one resolved address) said to the shared socket."""

    server: Address
    answer: BindingAnswer | None


@dataclass
class FamilyProbe:
    """Everything learnt over one address family."""

    family: Family
    local_address: str | None = None  # our source address towards the first server
    local_port: int | None = None
    answers: list[ServerAnswer] = field(default_factory=list)
    # Mapped addresses seen by the shared socket, per destination (servers + RFC 5780 tests).
    destinations: list[tuple[Address, Address]] = field(default_factory=list)
    rfc5780_server: Address | None = None  # the server used for RFC 5780 tests
    mapping: Behaviour = "unknown"
    filtering: Behaviour = "unknown"

    @property
    def answered(self) -> bool:
        """True when any server answered over this family."""
        return any(a.answer is not None for a in self.answers)

    @property
    def mapping_varies(self) -> bool | None:
        """Whether the shared socket's mapping differed between destinations."""
        return mapping_varies([m for _, m in self.destinations])

    @property
    def cgnat(self) -> bool:
        """True when the local or a mapped address is in 100.64.0.0/10."""
        addresses = [self.local_address or ""] + [m[0] for _, m in self.destinations]
        return any(is_cgnat(a) for a in addresses)


async def probe_family(
    family: Family, servers: Sequence[Address], *, time_limit: float
) -> FamilyProbe:
    """Probe every server of one family from one socket, then classify the NAT.

    Mapping tests run on the shared socket (its mapping towards every destination is what
    matters); filtering tests run on a fresh socket that has sent only to the server's
    primary address, so no earlier probe has opened the filter for the other address.
    """
    probe = FamilyProbe(family=family)
    if not servers:
        return probe
    probe.local_address = local_address_towards(servers[0])
    sock = await StunSocket.open(family)
    try:
        probe.local_port = sock.local_port
        answers = await asyncio.gather(
            *(sock.binding(s, time_limit=time_limit) for s in servers)
        )
        probe.answers = [ServerAnswer(s, a) for s, a in zip(servers, answers, strict=True)]
        probe.destinations = [(s, a.mapped) for s, a in zip(servers, answers, strict=True) if a]
        first = next((sa for sa in probe.answers if sa.answer is not None), None)
        if first is None or first.answer is None:
            return probe
        local = (probe.local_address or "", probe.local_port)
        rfc = next(
            (sa for sa in probe.answers if sa.answer and _usable_other(sa.server, sa.answer)),
            None,
        )
        if rfc is None or rfc.answer is None or rfc.answer.other_address is None:
            probe.mapping = "no_nat" if first.answer.mapped == local else "unknown"
            if probe.mapping == "unknown" and probe.mapping_varies is not None:
                # Two plain servers still tell endpoint-independent from "varies", though not
                # address- from address-and-port-dependent.
                probe.mapping = "endpoint_independent" if not probe.mapping_varies else "unknown"
            return probe
        probe.rfc5780_server = rfc.server
        other = rfc.answer.other_address
        alt_ip = (other[0], rfc.server[1])
        test2, test3 = await asyncio.gather(
            sock.binding(alt_ip, time_limit=time_limit),
            sock.binding(other, time_limit=time_limit),
        )
        probe.destinations += [(d, a.mapped) for d, a in ((alt_ip, test2), (other, test3)) if a]
        probe.mapping = classify_mapping(
            local,
            rfc.answer.mapped,
            test2.mapped if test2 else None,
            test3.mapped if test3 else None,
        )
        if probe.mapping == "unknown" and probe.mapping_varies is False:
            # The other address did not answer, but plain servers agreed on one mapping.
            probe.mapping = "endpoint_independent"
    finally:
        sock.close()
    probe.filtering = await _probe_filtering(family, rfc.server, time_limit)
    return probe


def _usable_other(server: Address, answer: BindingAnswer) -> bool:
    other = answer.other_address
    return other is not None and other[0] != server[0] and other[1] != server[1]


async def _probe_filtering(family: Family, server: Address, time_limit: float) -> Behaviour:
    sock = await StunSocket.open(family)
    try:
        first = await sock.binding(server, time_limit=time_limit)
        if first is None:
            return "unknown"
        # Both changed-source requests go out together: only our outbound packets (all to
        # the primary address) open the filter, so neither answer can help the other in.
        # A shorter wait: a filtered answer never comes, and waiting it out is pure delay.
        short = max(0.5, min(time_limit, 1.5))
        both, port_only = await asyncio.gather(
            sock.binding(server, time_limit=short, change_ip=True, change_port=True),
            sock.binding(server, time_limit=short, change_port=True),
        )
        return classify_filtering(
            True,
            both is not None and both.source[0] != server[0],
            port_only is not None and port_only.source[1] != server[1],
        )
    finally:
        sock.close()


async def resolve_server(host: str, port: int, time_limit: float) -> list[Address]:
    """Every address (IPv4 and IPv6) of a STUN server, or [] when it does not resolve."""
    try:
        ipaddress.ip_address(host)
        return [(host, port)]
    except ValueError:
        pass
    loop = asyncio.get_running_loop()
    try:
        infos = await asyncio.wait_for(
            loop.getaddrinfo(host, port, type=socket.SOCK_DGRAM), time_limit
        )
    except (OSError, TimeoutError):
        return []
    found: list[Address] = []
    for _family, _type, _proto, _canon, sockaddr in infos:
        addr = (str(sockaddr[0]), int(sockaddr[1]))
        if addr not in found:
            found.append(addr)
    return found
