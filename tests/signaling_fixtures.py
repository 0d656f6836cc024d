"""Fixtures shared by the signaling test modules (loaded with ``pytest_plugins``).

``start`` runs real servers on 127.0.0.1 port 0, trusting X-Forwarded-For so that clients
can claim distinct addresses on loopback; ``connect`` opens real WebSocket clients.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from signaling.client import SignalingClient
from signaling.server import SignalingServer
from signaling.settings import SignalingSettings

WITHIN = 10.0  # a bound on waiting for one event, never a measured claim

Start = Callable[..., Awaitable[SignalingServer]]
Connect = Callable[..., Awaitable[SignalingClient]]


@pytest.fixture
async def start() -> AsyncIterator[Start]:
    """Start servers with settings overrides (and ``ice_provider``); stopped at the end."""
    servers: list[SignalingServer] = []

    async def _start(**overrides: Any) -> SignalingServer:
        ice_provider = overrides.pop("ice_provider", None)
        values: dict[str, Any] = {"trust_forwarded_for": True, "heartbeat": 5.0, **overrides}
        server = SignalingServer(
            SignalingSettings(**values), ice_provider=ice_provider, host="127.0.0.1", port=0
        )
        await server.start()
        servers.append(server)
        return server

    yield _start
    for server in servers:
        await server.stop()


@pytest.fixture
async def connect() -> AsyncIterator[Connect]:
    """Open clients (from a claimed address ``ip`` if given); all closed at the end."""
    clients: list[SignalingClient] = []

    async def _connect(
        server: SignalingServer, ip: str | None = None, **kw: Any
    ) -> SignalingClient:
        headers = {"X-Forwarded-For": ip} if ip else None
        client = await SignalingClient.connect(server.ws_url, headers=headers, **kw)
        clients.append(client)
        return client

    yield _connect
    for client in clients:
        await client.close()
