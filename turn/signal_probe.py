"""Signaling checks for `quibble doctor`: HTTP ``/healthz``, the WebSocket, its ICE config.

The WebSocket check opens a throwaway room (``create``), reads the ``created`` answer with
the ICE servers the service hands a host, and leaves at once, so it never lingers.
aiohttp and the signaling client are imported inside the function: `quibble --help` stays
fast, and turn/ only needs them when a signaling URL is given.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

from turn.ice_servers import IceServer


@dataclass
class SignalResult:
    """What the signaling service answered."""

    url: str
    http_ok: bool = False
    http_status: int | None = None
    http_ms: float | None = None
    ws_ok: bool = False
    ws_ms: float | None = None
    ice_servers: list[IceServer] = field(default_factory=list)
    error: str | None = None


def healthz_url(signal_url: str) -> str:
    """The ``/healthz`` URL of a signaling base URL (http(s)://, ws(s):// or .../ws)."""
    from peer.signal_client import ws_url

    parts = urlsplit(ws_url(signal_url))  # validates the scheme, ends the path in /ws
    scheme = {"ws": "http", "wss": "https"}[parts.scheme]
    path = parts.path.removesuffix("/ws") + "/healthz"
    return urlunsplit((scheme, parts.netloc, path, "", ""))


async def probe_signaling(signal_url: str, *, time_limit: float) -> SignalResult:
    """Check the service over HTTP and WebSocket; never raises for a network failure."""
    import aiohttp

    from peer.signal_client import SignalingClient, SignalingError
    from signaling import protocol as sp

    result = SignalResult(url=signal_url)
    errors: list[str] = []
    timeout = aiohttp.ClientTimeout(total=time_limit)
    started = time.perf_counter()
    try:
        async with aiohttp.ClientSession(timeout=timeout) as session:
            async with session.get(healthz_url(signal_url)) as response:
                result.http_status = response.status
                result.http_ok = response.status == 200
                result.http_ms = (time.perf_counter() - started) * 1000
                if not result.http_ok:
                    errors.append(f"GET /healthz answered HTTP {response.status}")
    except (aiohttp.ClientError, OSError, TimeoutError) as exc:
        errors.append(f"HTTP: {type(exc).__name__}: {exc}".rstrip(": "))

    started = time.perf_counter()
    client = None
    try:
        client = await SignalingClient.connect(signal_url, within_s=time_limit)
        client.send(sp.Create())
        created = await client.expect(sp.Created, within_s=time_limit)
        assert isinstance(created, sp.Created)
        result.ws_ok = True
        result.ws_ms = (time.perf_counter() - started) * 1000
        result.ice_servers = list(created.ice_servers)
        client.send(sp.Leave())
    except SignalingError as exc:
        errors.append(f"WebSocket: {exc.code}: {exc.message}")
    except TimeoutError:
        errors.append(f"WebSocket: no answer to `create` within {time_limit:g} s")
    except (OSError, ValueError) as exc:
        errors.append(f"WebSocket: {exc}")
    finally:
        if client is not None:
            await client.close()
    result.error = "; ".join(errors) or None
    return result
