"""The first routers on the way out, to spot a carrier-grade NAT hiding behind the home router.

Behind a carrier-grade NAT (RFC 6598) the home router's WAN side sits in 100.64.0.0/10 and
a second NAT at the provider does the translation STUN sees. Neither this machine's address
nor the STUN-mapped one is then in 100.64.0.0/10, so the doctor looks at the routers in
between, as `traceroute` would: one small UDP datagram per TTL 1..N towards the STUN
server, each from its own socket, and the ICMP "time exceeded" each router sends back names
that router. Linux hands those ICMP errors to an unprivileged UDP socket through
IP_RECVERR, so no raw socket (and no root) is needed; elsewhere the probe reports nothing.

The datagrams are STUN Binding requests: harmless to any router or server on the way, and
answered by the STUN server if a TTL reaches it (which ends the walk).
"""

from __future__ import annotations

import asyncio
import ipaddress
import select
import socket
import struct
import sys
import time
from collections.abc import Sequence

from aioice import stun

# Linux values (the socket module of Python 3.11 lacks IP_RECVERR).
IP_RECVERR = 11
SO_EE_ORIGIN_ICMP = 2
ICMP_TIME_EXCEEDED = 11
ICMP_DEST_UNREACH = 3
_EE_FORMAT = "=IBBBBII"  # struct sock_extended_err
_EE_SIZE = struct.calcsize(_EE_FORMAT)

MAX_HOPS = 4  # home router, maybe a CGN, the provider's first routers: CGNs sit early
CGNAT = ipaddress.ip_network("100.64.0.0/10")


def supported() -> bool:
    """True where ICMP errors reach a UDP socket through IP_RECVERR (Linux)."""
    return sys.platform.startswith("linux")


async def first_hops(
    target: tuple[str, int], *, max_hops: int = MAX_HOPS, time_limit: float = 1.0
) -> list[str | None]:
    """The routers at TTL 1..max_hops towards IPv4 ``target``: address, or None if silent.

    The list stops at the hop that answered for the target itself (a STUN answer or an
    ICMP "unreachable" from it). Empty when unsupported here or ``target`` is not IPv4.
    """
    if not supported() or ipaddress.ip_address(target[0]).version != 4:
        return []
    return await asyncio.to_thread(_walk, target, max_hops, time_limit)


def _walk(target: tuple[str, int], max_hops: int, time_limit: float) -> list[str | None]:
    sockets: list[socket.socket] = []
    try:
        for ttl in range(1, max_hops + 1):
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sockets.append(sock)
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_IP, IP_RECVERR, 1)
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, ttl)
            request = stun.Message(
                message_method=stun.Method.BINDING, message_class=stun.Class.REQUEST
            )
            try:
                sock.sendto(bytes(request), target)
            except OSError:
                pass  # no route: that hop stays silent
        return _collect(sockets, time_limit)
    finally:
        for sock in sockets:
            sock.close()


def _collect(sockets: Sequence[socket.socket], time_limit: float) -> list[str | None]:
    hops: list[str | None] = [None] * len(sockets)
    reached: int | None = None  # index of the first socket whose probe got to the target
    pending = dict(enumerate(sockets))
    poller = select.poll()
    by_fd: dict[int, int] = {}
    for index, each in pending.items():
        poller.register(each, select.POLLIN | select.POLLERR)
        by_fd[each.fileno()] = index
    deadline = time.monotonic() + time_limit
    while pending:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        for fd, _events in poller.poll(remaining * 1000):
            index = by_fd[fd]
            sock = pending.get(index)
            if sock is None:
                continue
            outcome = _read(sock)
            if outcome is None:
                continue
            kind, address = outcome
            hops[index] = address
            poller.unregister(sock)
            del pending[index]
            if kind == "target" and (reached is None or index < reached):
                reached = index
        if reached is not None and all(i > reached for i in pending):
            break  # every hop before the target has spoken or been given up on
    return hops if reached is None else hops[: reached + 1]


def _read(sock: socket.socket) -> tuple[str, str] | None:
    """("router"|"target", address) from an ICMP error or a STUN answer; None if nothing."""
    try:
        _data, ancillary, _flags, _addr = sock.recvmsg(512, 512, socket.MSG_ERRQUEUE)
    except BlockingIOError:
        pass
    except OSError:
        return None
    else:
        for level, kind, payload in ancillary:
            if level != socket.IPPROTO_IP or kind != IP_RECVERR or len(payload) < _EE_SIZE + 8:
                continue
            _errno, origin, icmp_type, _code, _pad, _info, _data32 = struct.unpack_from(
                _EE_FORMAT, payload
            )
            offender = socket.inet_ntoa(payload[_EE_SIZE + 4 : _EE_SIZE + 8])
            if origin == SO_EE_ORIGIN_ICMP and icmp_type == ICMP_TIME_EXCEEDED:
                return "router", offender
            if origin == SO_EE_ORIGIN_ICMP and icmp_type == ICMP_DEST_UNREACH:
                return "target", offender
        return None
    try:
        _answer, source = sock.recvfrom(2048)  # the STUN server itself answered
    except OSError:
        return None
    return "target", str(source[0])


def cgnat_hop(hops: Sequence[str | None]) -> str | None:
    """The first hop address in 100.64.0.0/10, or None."""
    for hop in hops:
        if hop is not None and ipaddress.ip_address(hop) in CGNAT:
            return hop
    return None
