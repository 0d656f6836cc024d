"""Fixtures for the namespace topology tests (tests/net/topology.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.net.peer_harness import InProcessPlayer
from tests.net.topology import PUBLIC_SERVER_IPS, Coturn, Topology, start_coturn
from tests.net.turn_server import make_certificate


@pytest.fixture
def topo() -> Iterator[Topology]:
    """A Topology for this test; every namespace and process it made is removed after."""
    topology = Topology()
    try:
        yield topology
    finally:
        topology.close()


@pytest.fixture
def topo_coturn(topo: Topology, tmp_path: Path) -> Coturn:
    """coturn on the topology's "internet" with the generated configuration, RFC 5780 on."""
    return start_coturn(topo, str(tmp_path))


@pytest.fixture
def tls_cert(tmp_path: Path) -> tuple[str, str]:
    """A self-signed certificate (path, key path) for the TURN server's first address."""
    return make_certificate(str(tmp_path), PUBLIC_SERVER_IPS[0])


@pytest.fixture
def topo_coturn_tls(topo: Topology, tmp_path: Path, tls_cert: tuple[str, str]) -> Coturn:
    """Like topo_coturn, plus TURN over TLS on port 443 (``turn_url("tls")``)."""
    return start_coturn(topo, str(tmp_path), tls=tls_cert)


@pytest.fixture
async def cleanup() -> AsyncIterator[list[Any]]:
    """A list to put started servers, hosts and players on: closed or stopped, newest first."""
    things: list[Any] = []
    yield things
    for thing in reversed(things):
        await (thing.close() if isinstance(thing, InProcessPlayer) else thing.stop())
