"""How far an IP address reaches (loopback, link-local, private, CGNAT, public).

One rule for the doctor's report and for naming a connection's path (peer/webrtc.py).
"""

from __future__ import annotations

import ipaddress
from typing import Final, Literal

Scope = Literal["loopback", "link_local", "private", "cgnat", "public"]

CGNAT_NETWORK: Final = ipaddress.ip_network("100.64.0.0/10")
# TEST-NET and documentation ranges count as "private" to ipaddress; they stand in for
# public addresses in our test topologies, and on a real network they never appear.
_DOCUMENTATION: Final = tuple(
    ipaddress.ip_network(n)
    for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32")
)


def is_cgnat(ip: str) -> bool:
    """True for an address in the carrier-grade NAT range 100.64.0.0/10 (RFC 6598)."""
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return addr.version == 4 and addr in CGNAT_NETWORK


def scope_of(address: str) -> Scope:
    """How far an address reaches: loopback, link-local, private, CGNAT or public."""
    ip = ipaddress.ip_address(address.split("%")[0])
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link_local"
    if is_cgnat(str(ip)):
        return "cgnat"
    if ip.is_private and not any(ip.version == n.version and ip in n for n in _DOCUMENTATION):
        return "private"
    return "public"
