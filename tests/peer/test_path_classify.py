"""Naming a connection's path from its nominated candidate pair."""

from __future__ import annotations

import pytest

from peer.webrtc import classify_pair

# (local type, remote type, remote address, path); tests/browser checks rtc.js against it.
PAIRS: list[tuple[str, str, str | None, str]] = [
    ("host", "host", "10.231.0.2", "host"),
    ("host", "srflx", "198.51.100.2", "srflx"),
    ("srflx", "host", "10.0.0.5", "srflx"),
    ("relay", "host", "10.0.0.5", "relay"),
    ("host", "relay", "203.0.113.1", "relay"),
    # A browser's mDNS-hidden host candidate, learned from its checks on this LAN.
    ("host", "prflx", "192.168.1.23", "host"),
    ("host", "prflx", "fe80::1", "host"),
    # The same from beyond a NAT: the NAT's public mapping.
    ("host", "prflx", "198.51.100.2", "srflx"),
    ("host", "prflx", "100.64.0.7", "srflx"),
    ("host", "prflx", None, "srflx"),
    ("prflx", "host", "192.168.1.23", "srflx"),
    ("host", "weird", "10.0.0.1", "unknown"),
]


@pytest.mark.parametrize(("local", "remote", "address", "path"), PAIRS)
def test_pair_types_and_the_remote_address_name_the_path(
    local: str, remote: str, address: str | None, path: str
) -> None:
    assert classify_pair(local, remote, address) == path
