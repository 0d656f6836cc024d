"""Fixtures: a real redis-server for the signaling tests, and clusters of signaling nodes.

``redis_server`` starts Debian's ``redis-server`` on a free loopback port in a temporary
directory and kills it at the end. ``make_cluster`` gives the routing suite its nodes: for
the in-memory backend every "node" is the one server (one process is all it has); for Redis
each node is its own server sharing one key prefix.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import pytest

from signaling.server import SignalingServer
from signaling.settings import SignalingSettings
from tests.redis_server import RedisServer, unique_prefix


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """One redis-server per test module (tests keep apart by key prefix)."""
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.kill()


class Cluster:
    """``node(i)``: the i-th signaling node of a test (started on first use)."""

    def __init__(self, backend: str, redis_url: str | None, overrides: dict[str, Any]) -> None:
        self.backend = backend
        self.redis_url = redis_url
        self.prefix = unique_prefix()
        self.overrides = overrides
        self.nodes: dict[int, SignalingServer] = {}

    @property
    def shared(self) -> bool:
        """True when nodes are distinct processes' worth of state (Redis)."""
        return self.backend == "redis"

    async def node(self, index: int) -> SignalingServer:
        """Node ``index`` (for the in-memory backend, always the same single server)."""
        key = index if self.shared else 0
        if key not in self.nodes:
            values: dict[str, Any] = {
                "trust_forwarded_for": True,
                "heartbeat": 5.0,
                "node_heartbeat": 0.2,
                "node_timeout": 1.0,
                **self.overrides,
            }
            if self.shared:
                values |= {"redis_url": self.redis_url, "redis_prefix": self.prefix}
            server = SignalingServer(SignalingSettings(**values), host="127.0.0.1", port=0)
            await server.start()
            self.nodes[key] = server
        return self.nodes[key]

    async def stop(self) -> None:
        """Stop every node."""
        for server in self.nodes.values():
            await server.stop()


MakeCluster = Callable[..., Awaitable[Cluster]]


@pytest.fixture(params=["memory", "redis"])
async def make_cluster(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[MakeCluster]:
    """Clusters for one backend (the test runs once per backend)."""
    backend: str = request.param
    redis_url = None
    if backend == "redis":
        redis_url = request.getfixturevalue("redis_server").url
    clusters: list[Cluster] = []

    async def _make(**overrides: Any) -> Cluster:
        cluster = Cluster(backend, redis_url, overrides)
        clusters.append(cluster)
        return cluster

    yield _make
    for cluster in clusters:
        await cluster.stop()
