"""A TURN allocation probe on aioice's TURN client, over UDP, TCP or TLS.

It answers "does this TURN server give me a relay, and if not, why": wrong credentials,
expired credentials (coturn answers both with the same 401, so the expiry in a REST username
is checked here), unreachable, quota, or forbidden. `quibble doctor` and the tests use it;
TurnAllocation.create_permission() shows which peers the server refuses to relay to.
"""

from __future__ import annotations

import asyncio
import socket
import ssl as ssl_module
import time
from datetime import UTC, datetime
from typing import Literal

import msgspec
from aioice import stun
from aioice.turn import (
    DEFAULT_ALLOCATION_LIFETIME,
    DEFAULT_CHANNEL_REFRESH_TIME,
    TurnClientTcpProtocol,
    TurnClientUdpProtocol,
)

from turn.config import IceUrl, TurnPath, parse_ice_url
from turn.credentials import credential_expiry

Outcome = Literal[
    "ok",
    "wrong_credentials",
    "expired_credentials",
    "unreachable",
    "quota",
    "forbidden",
    "error",
]


class AllocationReport(msgspec.Struct, frozen=True, kw_only=True):
    """The result of one TURN allocation attempt (JSON-friendly, for `doctor --json`)."""

    url: str
    transport: TurnPath
    outcome: Outcome
    ok: bool
    message: str
    relayed_address: str | None = None  # "ip:port" the relay allocated for us
    mapped_address: str | None = None  # our address as the TURN server saw it
    error_code: int | None = None  # the STUN error code, when the server answered one
    elapsed_ms: float | None = None


class TurnAllocationError(Exception):
    """An allocation or permission the TURN server refused, or could not be reached for."""

    def __init__(self, outcome: Outcome, message: str, error_code: int | None = None) -> None:
        super().__init__(message)
        self.outcome: Outcome = outcome
        self.error_code = error_code


class _ProbeUdpProtocol(TurnClientUdpProtocol):
    """aioice's UDP TURN client, remembering an ICMP error (port closed) for the report."""

    icmp_error: OSError | None = None

    def error_received(self, exc: Exception) -> None:
        if isinstance(exc, OSError):
            self.icmp_error = exc


_TurnProtocol = TurnClientTcpProtocol | _ProbeUdpProtocol


class TurnAllocation:
    """A live allocation on a TURN server; close() deletes it."""

    def __init__(
        self, url: IceUrl, protocol: _TurnProtocol, relayed: tuple[str, int]
    ) -> None:
        self.url = url
        self._protocol = protocol
        self.relayed_address = relayed
        mapped = protocol.mapped_address
        self.mapped_address: tuple[str, int] | None = (
            (mapped[0], mapped[1]) if mapped else None
        )

    async def create_permission(self, peer_ip: str, time_limit: float = 5.0) -> None:
        """Ask the server to let ``peer_ip`` talk through this allocation.

        Raises TurnAllocationError with outcome "forbidden" (403) when the server refuses to
        relay to that address, e.g. a denied-peer-ip range.
        """
        request = stun.Message(
            message_method=stun.Method.CREATE_PERMISSION, message_class=stun.Class.REQUEST
        )
        request.attributes["XOR-PEER-ADDRESS"] = (peer_ip, 0)
        try:
            await asyncio.wait_for(self._protocol.request_with_retry(request), time_limit)
        except stun.TransactionFailed as exc:
            code, reason = _error_code(exc)
            outcome: Outcome = "forbidden" if code == 403 else "error"
            raise TurnAllocationError(
                outcome, f"CreatePermission for {peer_ip} refused: {code} {reason}", code
            ) from None
        except (TimeoutError, stun.TransactionTimeout):
            raise TurnAllocationError(
                "unreachable", f"no answer to CreatePermission for {peer_ip}"
            ) from None

    async def close(self) -> None:
        """Delete the allocation (best effort, bounded) and close the connection."""
        try:
            # aioice's delete() closes the transport even when cancelled here.
            await asyncio.wait_for(self._protocol.delete(), 2.0)
        except (TimeoutError, OSError):
            self._protocol.transport.close()

    async def __aenter__(self) -> TurnAllocation:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()


def _error_code(exc: stun.TransactionFailed) -> tuple[int, str]:
    code, reason = exc.response.attributes.get("ERROR-CODE", (0, "unknown error"))
    return int(code), str(reason)


def _as_ice_url(url: IceUrl | str) -> IceUrl:
    return parse_ice_url(url, where="TURN URL") if isinstance(url, str) else url


async def allocate(
    url: IceUrl | str,
    username: str | None,
    password: str | None,
    *,
    time_limit: float = 5.0,
    now: float | None = None,
    ssl_context: ssl_module.SSLContext | None = None,
    lifetime: int = DEFAULT_ALLOCATION_LIFETIME,
    local_addr: tuple[str, int] | None = None,
) -> TurnAllocation:
    """Create a TURN allocation on ``url``; raise TurnAllocationError saying why not.

    ``local_addr`` binds the client socket (e.g. to probe from one interface).

    ``now`` (unix seconds, default the clock) decides whether a 401 means "expired": a REST
    username whose expiry has passed is reported as expired_credentials, any other 401 as
    wrong_credentials. ``ssl_context`` is for turns: (default: the system's trust store).

    A 437 (allocation mismatch) is retried once from a new socket: coturn keeps a deleted
    UDP allocation's 5-tuple for a while, and the OS may hand out that source port again.
    """
    parsed = _as_ice_url(url)
    if parsed.scheme == "stun":
        raise TurnAllocationError("error", f"{parsed} is a STUN URL, not a TURN URL")
    when = time.time() if now is None else now
    try:
        return await _allocate_once(
            parsed, username, password, time_limit, when, ssl_context, lifetime, local_addr
        )
    except TurnAllocationError as exc:
        if exc.error_code != 437:
            raise
    fresh = (local_addr[0], 0) if local_addr else None
    return await _allocate_once(
        parsed, username, password, time_limit, when, ssl_context, lifetime, fresh
    )


async def _allocate_once(
    parsed: IceUrl,
    username: str | None,
    password: str | None,
    time_limit: float,
    when: float,
    ssl_context: ssl_module.SSLContext | None,
    lifetime: int,
    local_addr: tuple[str, int] | None,
) -> TurnAllocation:
    loop = asyncio.get_running_loop()
    server = (parsed.host, parsed.port)
    path = parsed.turn_path
    protocol: _TurnProtocol
    try:
        if path == "udp":
            _, protocol = await asyncio.wait_for(
                loop.create_datagram_endpoint(
                    lambda: _ProbeUdpProtocol(
                        server, username, password, lifetime, DEFAULT_CHANNEL_REFRESH_TIME
                    ),
                    remote_addr=server,
                    local_addr=local_addr,
                ),
                time_limit,
            )
        else:
            context: ssl_module.SSLContext | None = None
            if path == "tls":
                context = ssl_context or ssl_module.create_default_context()
            _, protocol = await asyncio.wait_for(
                loop.create_connection(
                    lambda: TurnClientTcpProtocol(
                        server, username, password, lifetime, DEFAULT_CHANNEL_REFRESH_TIME
                    ),
                    host=parsed.host,
                    port=parsed.port,
                    ssl=context,
                    local_addr=local_addr,
                ),
                time_limit,
            )
    except socket.gaierror as exc:
        raise TurnAllocationError(
            "unreachable", f"cannot resolve {parsed.host!r}: {exc.strerror}"
        ) from None
    except ssl_module.SSLError as exc:
        raise TurnAllocationError("error", f"TLS handshake with {parsed} failed: {exc}") from None
    except TimeoutError:
        raise TurnAllocationError(
            "unreachable", f"no {path.upper()} connection to {parsed} within {time_limit:g} s"
        ) from None
    except OSError as exc:
        raise TurnAllocationError(
            "unreachable", f"cannot connect to {parsed} over {path.upper()}: "
            f"{exc.strerror or exc}"
        ) from None

    try:
        relayed = await asyncio.wait_for(protocol.connect(), time_limit)
    except BaseException as exc:
        protocol.transport.close()
        if isinstance(exc, (TimeoutError, stun.TransactionTimeout)):
            raise _timeout_error(parsed, protocol, time_limit) from None
        if isinstance(exc, stun.TransactionFailed):
            raise _refusal_error(parsed, exc, username, when) from None
        if isinstance(exc, ConnectionError):
            raise TurnAllocationError("error", f"{parsed}: {exc}") from None
        raise
    return TurnAllocation(parsed, protocol, (relayed[0], relayed[1]))


def _timeout_error(
    url: IceUrl, protocol: _TurnProtocol, time_limit: float
) -> TurnAllocationError:
    if isinstance(protocol, _ProbeUdpProtocol) and protocol.icmp_error is not None:
        reason = protocol.icmp_error.strerror or str(protocol.icmp_error)
        return TurnAllocationError(
            "unreachable", f"{url}: nothing listens there over UDP ({reason})"
        )
    if url.turn_path == "udp":
        return TurnAllocationError(
            "unreachable",
            f"{url}: no answer over UDP within {time_limit:g} s (UDP blocked, or no server there)",
        )
    return TurnAllocationError(
        "unreachable", f"{url}: connected, but no TURN answer within {time_limit:g} s"
    )


def _refusal_error(
    url: IceUrl, exc: stun.TransactionFailed, username: str | None, now: float
) -> TurnAllocationError:
    code, reason = _error_code(exc)
    if code == 401:
        if username is None:
            return TurnAllocationError(
                "wrong_credentials", f"{url}: the server wants credentials (401)", code
            )
        expiry = credential_expiry(username)
        if expiry is not None and now >= expiry:
            stamp = datetime.fromtimestamp(expiry, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
            return TurnAllocationError(
                "expired_credentials",
                f"{url}: the TURN credentials expired at {stamp} ({int(now - expiry)} s ago); "
                "the server answered 401 Unauthorized. Fetch fresh ones (rejoin).",
                code,
            )
        return TurnAllocationError(
            "wrong_credentials",
            f"{url}: the TURN server refused the credentials (401 Unauthorized): wrong "
            "secret or password, or the server's clock disagrees with ours",
            code,
        )
    if code in (486, 508):
        return TurnAllocationError(
            "quota", f"{url}: allocation quota or capacity reached ({code} {reason})", code
        )
    if code == 403:
        return TurnAllocationError("forbidden", f"{url}: allocation forbidden (403 {reason})", code)
    return TurnAllocationError("error", f"{url}: TURN error {code} {reason}", code)


async def probe_allocation(
    url: IceUrl | str,
    username: str | None,
    password: str | None,
    *,
    time_limit: float = 5.0,
    now: float | None = None,
    ssl_context: ssl_module.SSLContext | None = None,
) -> AllocationReport:
    """Try one allocation on ``url`` and report the relayed address or why it failed.

    Never raises for a TURN failure: the report's ``outcome`` says what happened. The
    allocation is deleted again before returning.
    """
    parsed = _as_ice_url(url)
    started = time.perf_counter()
    try:
        allocation = await allocate(
            parsed, username, password, time_limit=time_limit, now=now, ssl_context=ssl_context
        )
    except TurnAllocationError as exc:
        return AllocationReport(
            url=str(parsed),
            transport=parsed.turn_path,
            outcome=exc.outcome,
            ok=False,
            message=str(exc),
            error_code=exc.error_code,
            elapsed_ms=(time.perf_counter() - started) * 1000,
        )
    elapsed = (time.perf_counter() - started) * 1000
    try:
        relayed = allocation.relayed_address
        mapped = allocation.mapped_address
        return AllocationReport(
            url=str(parsed),
            transport=parsed.turn_path,
            outcome="ok",
            ok=True,
            message=f"relay allocated at {_hostport(relayed)}",
            relayed_address=_hostport(relayed),
            mapped_address=_hostport(mapped) if mapped else None,
            elapsed_ms=elapsed,
        )
    finally:
        await allocation.close()


def _hostport(addr: tuple[str, int]) -> str:
    host = f"[{addr[0]}]" if ":" in addr[0] else addr[0]
    return f"{host}:{addr[1]}"
