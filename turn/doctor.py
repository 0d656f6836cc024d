"""`quibble doctor`: probe the network, then say in plain words whether players can connect.

The report is a tree of msgspec Structs with stable field names (``--json`` prints it as one
document). run_doctor() runs the probes (local interfaces and ICE host candidates, STUN and
NAT behaviour per address family, TURN allocations over each configured transport, the
signaling service, real data channels through each path that should work) and ends with a
Verdict: a stable code, the exit status, a summary, and what to do about it.

decide_verdict() is pure: it reads the facts in a report and nothing else, so every verdict
is tested without a network.
"""

from __future__ import annotations

import asyncio
import shlex
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

import msgspec

from peer import exit_codes
from turn.address_scope import Scope, scope_of
from turn.allocation import AllocationReport, probe_allocation
from turn.config import IceSettings, IceUrl, TurnPath, settings_from_servers
from turn.hop_probe import cgnat_hop, first_hops
from turn.ice_servers import IceServer
from turn.stun_probe import (
    Address,
    Behaviour,
    Family,
    FamilyProbe,
    format_address,
    probe_family,
    resolve_server,
)

SCHEMA_VERSION = 1
DOCTOR_CLIENT_ID = "doctor"

VerdictCode = Literal[
    "direct",  # no NAT: players reach this machine directly
    "direct_via_stun",  # endpoint-independent NAT: STUN hole punching works
    "stun_mapping_unknown",  # STUN works; one server only, so the mapping is not known
    "relay",  # symmetric NAT: only a TURN relay reaches it, and the relay works
    "tcp_relay",  # UDP blocked: TURN over TCP/TLS works
    "lan_only",  # nothing configured to look outside: LAN players connect directly
    "needs_relay",  # symmetric NAT and no TURN configured
    "udp_blocked",  # no STUN answer over UDP, no TURN over TCP configured
    "relay_failing",  # a relay is needed and one is configured, but it does not work
    "no_path",  # nothing answers at all
    "no_network",  # no usable interface address
]
PathName = Literal["host", "srflx", "relay"]
RoomStatus = Literal["ok", "failed", "pending"]
IceSource = Literal["local", "signaling", "none"]


class InterfaceInfo(msgspec.Struct, frozen=True, kw_only=True):
    """One address of one local network interface."""

    name: str
    address: str
    family: Family
    scope: Scope


class CandidateInfo(msgspec.Struct, frozen=True, kw_only=True):
    """One ICE host candidate aioice gathered (what a peer offers to the other side)."""

    type: str
    protocol: str
    address: str
    port: int


class StunServerReport(msgspec.Struct, frozen=True, kw_only=True):
    """One STUN server address probed from the shared socket of its family."""

    url: str
    address: str | None  # the resolved ip:port; None when the name did not resolve
    family: Family | None
    ok: bool
    rtt_ms: float | None = None
    mapped_address: str | None = None  # our public address as this server saw it
    other_address: str | None = None  # RFC 5780 OTHER-ADDRESS (the server supports it)
    error: str | None = None


class UdpFamilyReport(msgspec.Struct, frozen=True, kw_only=True):
    """UDP over one address family: did any STUN server answer?"""

    family: Family
    tested: bool  # False: no STUN server of this family was configured (or resolved)
    udp_ok: bool | None  # None when not tested
    local_address: str | None = None
    mapped_addresses: list[str] = msgspec.field(default_factory=list)


class UdpReport(msgspec.Struct, frozen=True, kw_only=True):
    """UDP reachability, IPv4 and IPv6 separately."""

    ipv4: UdpFamilyReport
    ipv6: UdpFamilyReport

    @property
    def any_tested(self) -> bool:
        """True when a STUN server of either family was probed."""
        return self.ipv4.tested or self.ipv6.tested

    @property
    def any_ok(self) -> bool:
        """True when any STUN server answered over UDP."""
        return bool(self.ipv4.udp_ok or self.ipv6.udp_ok)


class NatReport(msgspec.Struct, frozen=True, kw_only=True):
    """What the NAT in front of this machine does (IPv4, where NATs live)."""

    behind_nat: bool | None  # None when no STUN server answered
    public_address: str | None  # the mapped address the first server saw
    mapping_varies_by_destination: bool | None  # None: fewer than two destinations answered
    mapping: Behaviour  # RFC 5780 mapping behaviour ("unknown" without enough evidence)
    filtering: Behaviour  # RFC 5780 filtering behaviour ("unknown" without RFC 5780)
    rfc5780_server: str | None  # the server whose OTHER-ADDRESS made RFC 5780 tests possible
    cgnat: bool  # the local or mapped address, or a router on the way, is in 100.64.0.0/10
    # Routers at TTL 1, 2, ... towards the first IPv4 STUN server (None: that one kept
    # quiet); a 100.64/10 router behind the home router shows a carrier-grade NAT.
    hops: list[str | None] = msgspec.field(default_factory=list)
    cgnat_hop: str | None = None  # the first router address in 100.64.0.0/10

    @property
    def symmetric(self) -> bool:
        """True when the public mapping changes with the destination (STUN is not enough)."""
        return bool(self.mapping_varies_by_destination) or self.mapping in (
            "address_dependent",
            "address_and_port_dependent",
        )


class SignalingReport(msgspec.Struct, frozen=True, kw_only=True):
    """The signaling service over HTTP and WebSocket, and the ICE servers it hands out."""

    url: str
    http_ok: bool
    http_status: int | None
    ws_ok: bool
    ice_servers: list[IceServer]
    http_ms: float | None = None
    ws_ms: float | None = None
    error: str | None = None


class PathReport(msgspec.Struct, frozen=True, kw_only=True):
    """One way a player could reach this machine, checked end to end or predicted."""

    path: PathName
    via: str | None  # the STUN/TURN URL the path goes through
    checked: bool  # True: a real data channel was opened (or tried); False: predicted
    ok: bool | None  # None: cannot tell
    rtt_ms: float | None = None
    open_ms: float | None = None
    note: str = ""


class RoomReport(msgspec.Struct, frozen=True, kw_only=True):
    """With --room: the real path to that running host."""

    code: str
    status: RoomStatus  # "pending" is kept for builds without the player client
    path: str | None = None  # host / srflx / relay, as ICE nominated it
    rtt_ms: float | None = None  # median of a few game-protocol pings
    open_ms: float | None = None  # offer to data channel open
    error: str | None = None


class IceAdvice(msgspec.Struct, frozen=True, kw_only=True):
    """The ICE configuration this network calls for (no secrets in it)."""

    stun: list[str]
    turn: list[str]
    relay_only: bool
    flags: str  # the `quibble host`/`join` flags that give this configuration (shell-quoted)
    why: str


class Verdict(msgspec.Struct, frozen=True, kw_only=True):
    """The answer: a stable code, the exit status, plain words, and what to do."""

    code: VerdictCode
    ok: bool  # a player could connect
    exit_code: int
    summary: str
    remediation: list[str] = msgspec.field(default_factory=list)
    ice_advice: IceAdvice | None = None


_PENDING = Verdict(code="no_path", ok=False, exit_code=exit_codes.NO_PATH, summary="pending")


class DoctorReport(msgspec.Struct, frozen=True, kw_only=True):
    """Everything `quibble doctor` found (``--json`` prints this as one document)."""

    schema: int = SCHEMA_VERSION
    started_at: str
    duration_ms: float
    stun_urls: list[str]
    turn_urls: list[str]
    turn_auth: Literal["secret", "static", "none"]
    # Where the STUN/TURN servers probed came from: this command's --config/env/flags, or
    # (when those give none) the list the signaling service hands its clients.
    ice_source: IceSource = "local"
    interfaces: list[InterfaceInfo]
    host_candidates: list[CandidateInfo]
    udp: UdpReport
    stun: list[StunServerReport]
    nat: NatReport
    turn: list[AllocationReport]
    signaling: SignalingReport | None
    paths: list[PathReport]
    room: RoomReport | None
    verdict: Verdict = _PENDING


# ---------------------------------------------------------------------------------------
# Progress


class ProgressEvent(msgspec.Struct, frozen=True):
    """One step of the probes starting or finishing, for a progress display."""

    step: str  # interfaces, stun, turn, signaling, paths, room
    state: Literal["start", "done"]
    detail: str


Progress = Callable[[ProgressEvent], None]


def _no_progress(event: ProgressEvent) -> None:
    pass


def _ms(value: float | None) -> float | None:
    """Milliseconds to 0.001 ms: finer digits are noise in a report."""
    return None if value is None else round(value, 3)


# ---------------------------------------------------------------------------------------
# Probes


@dataclass(frozen=True)
class DoctorOptions:
    """What to probe. ``settings`` holds STUN/TURN URLs and TURN credentials."""

    settings: IceSettings
    signal_url: str | None = None
    room: str | None = None
    time_limit: float = 5.0  # per probe
    end_to_end: bool = True  # open real data channels (the slowest part)


def list_interfaces() -> list[InterfaceInfo]:
    """Every address of every local interface, with its scope."""
    import ifaddr

    found: list[InterfaceInfo] = []
    for adapter in ifaddr.get_adapters():
        for ip in adapter.ips:
            address = ip.ip if isinstance(ip.ip, str) else ip.ip[0]
            found.append(
                InterfaceInfo(
                    name=str(adapter.nice_name),
                    address=address,
                    family="ipv4" if isinstance(ip.ip, str) else "ipv6",
                    scope=scope_of(address),
                )
            )
    return found


async def gather_host_candidates() -> list[CandidateInfo]:
    """The ICE host candidates aioice gathers here (it skips loopback, as aiortc does)."""
    from aioice import Connection

    connection = Connection(ice_controlling=True, components=1, use_ipv6=True)
    try:
        await connection.gather_candidates()
        return [
            CandidateInfo(
                type=c.type, protocol=c.transport, address=c.host, port=c.port
            )
            for c in connection.local_candidates
        ]
    finally:
        await connection.close()


async def probe_stun(
    urls: Sequence[IceUrl], time_limit: float
) -> tuple[list[StunServerReport], UdpReport, NatReport]:
    """Probe every STUN URL (each resolved address) and classify the NAT per family."""
    resolved = await asyncio.gather(*(resolve_server(u.host, u.port, time_limit) for u in urls))
    by_family: dict[Family, list[Address]] = {"ipv4": [], "ipv6": []}
    url_of: dict[Address, str] = {}
    unresolved: list[str] = []
    for url, addresses in zip(urls, resolved, strict=True):
        if not addresses:
            unresolved.append(str(url))
        for addr in addresses:
            family: Family = "ipv6" if ":" in addr[0] else "ipv4"
            if addr not in url_of:
                by_family[family].append(addr)
                url_of[addr] = str(url)
    hop_target = by_family["ipv4"][0] if by_family["ipv4"] else None
    v4, v6, hops = await asyncio.gather(
        probe_family("ipv4", by_family["ipv4"], time_limit=time_limit),
        probe_family("ipv6", by_family["ipv6"], time_limit=time_limit),
        first_hops(hop_target, time_limit=min(time_limit, 1.5)) if hop_target else _no_hops(),
    )
    servers = [
        StunServerReport(url=u, address=None, family=None, ok=False, error="name did not resolve")
        for u in unresolved
    ]
    for probe in (v4, v6):
        for sa in probe.answers:
            a = sa.answer
            servers.append(
                StunServerReport(
                    url=url_of[sa.server],
                    address=format_address(sa.server),
                    family=probe.family,
                    ok=a is not None,
                    rtt_ms=_ms(a.rtt_ms) if a else None,
                    mapped_address=format_address(a.mapped) if a else None,
                    other_address=(
                        format_address(a.other_address) if a and a.other_address else None
                    ),
                    error=None if a else f"no answer over UDP within {time_limit:g} s",
                )
            )
    udp = UdpReport(ipv4=_udp_family(v4), ipv6=_udp_family(v6))
    return servers, udp, _nat_report(v4 if v4.answered or not v6.answered else v6, hops)


async def _no_hops() -> list[str | None]:
    return []


def _udp_family(probe: FamilyProbe) -> UdpFamilyReport:
    tested = bool(probe.answers)
    mapped: list[str] = []
    for _, m in probe.destinations:
        text = format_address(m)
        if text not in mapped:
            mapped.append(text)
    return UdpFamilyReport(
        family=probe.family,
        tested=tested,
        udp_ok=probe.answered if tested else None,
        local_address=probe.local_address,
        mapped_addresses=mapped,
    )


def _nat_report(probe: FamilyProbe, hops: list[str | None]) -> NatReport:
    first = next((sa.answer for sa in probe.answers if sa.answer), None)
    behind: bool | None = None
    if first is not None:
        behind = probe.mapping != "no_nat"
    return NatReport(
        behind_nat=behind,
        public_address=format_address(first.mapped) if first else None,
        mapping_varies_by_destination=probe.mapping_varies,
        mapping=probe.mapping,
        filtering=probe.filtering,
        rfc5780_server=format_address(probe.rfc5780_server) if probe.rfc5780_server else None,
        cgnat=probe.cgnat or cgnat_hop(hops) is not None,
        hops=hops,
        cgnat_hop=cgnat_hop(hops),
    )


async def probe_turn(
    settings: IceSettings, time_limit: float, now: float
) -> list[AllocationReport]:
    """One allocation attempt per configured TURN URL, with the configured credentials."""
    creds = settings.turn_credentials(DOCTOR_CLIENT_ID, now)
    user, password = creds if creds else (None, None)
    return list(
        await asyncio.gather(
            *(
                probe_allocation(url, user, password, time_limit=time_limit, now=now)
                for url in settings.turn
            )
        )
    )


async def check_paths(
    settings: IceSettings,
    turn: Sequence[AllocationReport],
    nat: NatReport,
    udp: UdpReport,
    time_limit: float,
    now: float,
) -> list[PathReport]:
    """Real data channels through the host path and each working relay; srflx predicted."""
    from turn.channel_probe import check_local_pair

    checks: list[tuple[PathName, str | None, list[IceServer], bool]] = [
        ("host", None, [], False)
    ]
    creds = settings.turn_credentials(DOCTOR_CLIENT_ID, now)
    tried: set[str] = set()
    for report in turn:
        # One check per transport that allocated: that is a path a player could get.
        if not report.ok or report.transport in tried or "[" in report.url:
            continue
        tried.add(report.transport)
        server = IceServer(
            urls=[report.url],
            username=creds[0] if creds else None,
            credential=creds[1] if creds else None,
        )
        checks.append(("relay", report.url, [server], True))
    results = await asyncio.gather(
        *(
            check_local_pair(servers, relay_only=relay_only, time_limit=2 * time_limit)
            for _, _, servers, relay_only in checks
        )
    )
    paths = [
        PathReport(
            path=name,
            via=via,
            checked=True,
            ok=result.ok,
            rtt_ms=_ms(result.rtt_ms),
            open_ms=_ms(result.open_ms),
            note=(
                f"two local peers met over a {result.path} candidate pair"
                if result.ok
                else result.error or "failed"
            ),
        )
        for (name, via, _, _), result in zip(checks, results, strict=True)
    ]
    paths.insert(1, _predict_srflx(settings, nat, udp))
    return paths


def _predict_srflx(settings: IceSettings, nat: NatReport, udp: UdpReport) -> PathReport:
    via = str(settings.stun[0]) if settings.stun else None
    if not udp.any_tested:
        return PathReport(
            path="srflx", via=via, checked=False, ok=None, note="no STUN server configured"
        )
    if not udp.any_ok:
        return PathReport(
            path="srflx", via=via, checked=False, ok=False, note="no STUN answer over UDP"
        )
    if nat.behind_nat is False:
        return PathReport(
            path="srflx", via=via, checked=False, ok=True,
            note="no NAT: the public address is this machine's own",
        )
    if nat.symmetric:
        return PathReport(
            path="srflx", via=via, checked=False, ok=False,
            note="predicted to fail: the NAT maps each destination to a different port",
        )
    if nat.mapping == "endpoint_independent":
        return PathReport(
            path="srflx", via=via, checked=False, ok=True,
            note="predicted to work: endpoint-independent mapping (checked for real with --room)",
        )
    return PathReport(
        path="srflx", via=via, checked=False, ok=None,
        note="unknown: one STUN server cannot show whether the mapping varies by destination",
    )


async def check_room(
    code: str,
    signal_url: str | None,
    settings: IceSettings,
    time_limit: float,
    *,
    turn: Sequence[AllocationReport] = (),
    udp: UdpReport | None = None,
) -> RoomReport:
    """The real path to the running host of room ``code``, as a player here would get it.

    The probe's ICE servers follow what the other probes found: the TURN transport that
    allocated, and no UDP servers when UDP is blocked (aiortc would stall 5 s on them).
    """
    if signal_url is None:
        return RoomReport(code=code, status="failed", error="--room needs --signal URL")
    from turn.room_probe import probe_room

    working = [t for t in turn if t.ok]
    found = await probe_room(
        signal_url, code, settings, time_limit=time_limit,
        prefer=_best_relay_transport(working) if working else None,
        udp_blocked=udp is not None and udp.any_tested and not udp.any_ok,
    )
    return RoomReport(
        code=code,
        status="ok" if found.ok else "failed",
        path=found.path,
        rtt_ms=_ms(found.rtt_ms),
        open_ms=_ms(found.open_ms),
        error=found.error,
    )


async def run_doctor(options: DoctorOptions, progress: Progress | None = None) -> DoctorReport:
    """Run every probe and return the whole report with its verdict."""
    emit = progress or _no_progress
    settings = options.settings
    started_wall = datetime.now(UTC)
    started = time.perf_counter()
    now = time.time()
    limit = options.time_limit

    emit(ProgressEvent("interfaces", "start", "local interfaces and ICE host candidates"))
    interfaces = list_interfaces()
    candidates = await gather_host_candidates()
    emit(ProgressEvent("interfaces", "done", f"{len(candidates)} host candidate(s)"))

    async def stun_step() -> tuple[list[StunServerReport], UdpReport, NatReport]:
        emit(ProgressEvent("stun", "start", f"{len(settings.stun)} STUN server(s)"))
        result = await probe_stun(settings.stun, limit)
        answered = sum(1 for s in result[0] if s.ok)
        emit(ProgressEvent("stun", "done", f"{answered}/{len(result[0])} answered"))
        return result

    async def turn_step() -> list[AllocationReport]:
        emit(ProgressEvent("turn", "start", f"{len(settings.turn)} TURN URL(s)"))
        result = await probe_turn(settings, limit, now)
        emit(ProgressEvent("turn", "done", f"{sum(r.ok for r in result)}/{len(result)} allocated"))
        return result

    async def signal_step() -> SignalingReport | None:
        if options.signal_url is None:
            return None
        from turn.signal_probe import probe_signaling

        emit(ProgressEvent("signaling", "start", options.signal_url))
        found = await probe_signaling(options.signal_url, time_limit=limit)
        emit(ProgressEvent("signaling", "done", "reachable" if found.ws_ok else "unreachable"))
        return SignalingReport(
            url=found.url, http_ok=found.http_ok, http_status=found.http_status,
            ws_ok=found.ws_ok, ice_servers=found.ice_servers, http_ms=_ms(found.http_ms),
            ws_ms=_ms(found.ws_ms), error=found.error,
        )

    ice_source: IceSource = "none" if settings.is_empty else "local"
    if settings.is_empty and options.signal_url is not None:
        # Nothing configured here: probe what the service hands its clients (a player
        # holds no TURN secret, only the credentials the service issues).
        signaling = await signal_step()
        if signaling is not None and signaling.ice_servers:
            settings = settings_from_servers(
                signaling.ice_servers, relay_only=options.settings.relay_only
            )
            ice_source = "signaling" if not settings.is_empty else "none"
        (stun, udp, nat), turn = await asyncio.gather(stun_step(), turn_step())
    else:
        (stun, udp, nat), turn, signaling = await asyncio.gather(
            stun_step(), turn_step(), signal_step()
        )

    paths: list[PathReport] = []
    if options.end_to_end:
        emit(ProgressEvent("paths", "start", "opening real data channels"))
        paths = await check_paths(settings, turn, nat, udp, limit, now)
        emit(ProgressEvent("paths", "done", ", ".join(
            f"{p.path}:{'ok' if p.ok else 'failed' if p.ok is False else '?'}"
            for p in paths if p.checked
        )))
    else:
        paths = [_predict_srflx(settings, nat, udp)]

    room: RoomReport | None = None
    if options.room is not None:
        emit(ProgressEvent("room", "start", f"room {options.room}"))
        room = await check_room(
            options.room, options.signal_url, settings, limit, turn=turn, udp=udp
        )
        emit(ProgressEvent("room", "done", f"{room.status} {room.path or ''}".strip()))

    report = DoctorReport(
        started_at=started_wall.isoformat(timespec="seconds"),
        duration_ms=_ms((time.perf_counter() - started) * 1000) or 0.0,
        stun_urls=[str(u) for u in settings.stun],
        turn_urls=[str(u) for u in settings.turn],
        turn_auth="secret" if settings.secret else "static" if settings.user else "none",
        ice_source=ice_source,
        interfaces=interfaces,
        host_candidates=candidates,
        udp=udp,
        stun=stun,
        nat=nat,
        turn=turn,
        signaling=signaling,
        paths=paths,
        room=room,
    )
    return msgspec.structs.replace(report, verdict=decide_verdict(report))


# ---------------------------------------------------------------------------------------
# Verdict (pure)

RELAY_SETUP = (
    "Run a TURN relay: `quibble turn config` prints a safe coturn configuration and "
    "`quibble turn serve` runs it; then start the host with "
    "`quibble host --turn turn:HOST:3478 --turn-secret ...`."
)
TCP_443_HINT = (
    "Networks that block UDP usually allow TCP to port 443: offer "
    "`turns:HOST:443?transport=tcp` (TURN over TLS) so players on them get through."
)


def decide_verdict(report: DoctorReport) -> Verdict:
    """The verdict for the facts in ``report`` (its own ``verdict`` field is ignored)."""
    usable = [i for i in report.interfaces if i.scope not in ("loopback", "link_local")]
    if not usable or not report.host_candidates:
        return Verdict(
            code="no_network", ok=False, exit_code=exit_codes.NO_PATH,
            summary="This machine has no usable network address: no player can reach it.",
            remediation=["Connect to a network (Wi-Fi or cable) and run `quibble doctor` again."],
        )

    relays_ok = [t for t in report.turn if t.ok]
    relay_checks = [p for p in report.paths if p.path == "relay" and p.checked]
    relay_works = bool(relays_ok) and (not relay_checks or any(p.ok for p in relay_checks))
    tcp_relays = [t for t in relays_ok if t.transport in ("tcp", "tls")]
    tcp_relay_works = bool(tcp_relays) and (
        not relay_checks
        or any(p.ok and p.via in {t.url for t in tcp_relays} for p in relay_checks)
    )
    turn_error = _turn_problem(report)
    notes = _caveats(report)

    unresolved = [s.url for s in report.stun if s.address is None]
    if unresolved and not report.udp.any_tested and not report.turn:
        return Verdict(
            code="no_path", ok=False, exit_code=exit_codes.NO_PATH,
            summary=(
                f"No STUN server could be looked up ({', '.join(unresolved)} did not resolve), "
                "so nothing outside could be checked. Players on your local network can "
                "still connect directly."
            ),
            remediation=[
                "Check the server names for typos, and that this machine can resolve names "
                "(is it online? does its DNS work?).",
                *notes,
            ],
        )

    if not report.udp.any_tested and not report.turn:
        return Verdict(
            code="lan_only", ok=True, exit_code=exit_codes.OK,
            summary=(
                "Players on your local network can connect directly. No STUN or TURN server "
                "is configured, so whether players outside can reach you was not checked."
            ),
            remediation=[
                "To check the way in from outside, give a STUN server: "
                "`quibble doctor --stun stun:HOST:3478` (two, to detect a symmetric NAT).",
                *notes,
            ],
        )

    if report.udp.any_tested and not report.udp.any_ok:
        return _udp_blocked_verdict(report, tcp_relay_works, tcp_relays, turn_error, notes)

    if not report.udp.any_tested:
        # Only TURN configured: the relay is what players would use.
        if relay_works:
            url = _best_relay(relays_ok)
            return Verdict(
                code="relay", ok=True, exit_code=exit_codes.OK,
                summary="Players can reach you through the TURN relay "
                f"({url}); no STUN server was given, so direct paths were not checked.",
                remediation=notes,
                ice_advice=_relay_advice(url, udp_ok=True),
            )
        return Verdict(
            code="relay_failing", ok=False, exit_code=exit_codes.NEEDS_RELAY,
            summary=f"The TURN relay does not work: {turn_error}",
            remediation=[_fix_turn(report), *notes],
        )

    nat = report.nat
    if nat.behind_nat is False and not nat.symmetric:
        return Verdict(
            code="direct", ok=True, exit_code=exit_codes.OK,
            summary=(
                f"No NAT: this machine's own address {nat.public_address} is public, "
                "so players can connect to you directly."
            ),
            remediation=notes,
        )
    if nat.symmetric:
        if relay_works:
            url = _best_relay(relays_ok)
            return Verdict(
                code="relay", ok=True, exit_code=exit_codes.OK,
                summary=(
                    "You are behind a symmetric NAT (your public port changes with each "
                    "destination): players outside your network can only reach you through "
                    f"a TURN relay, and the relay {url} works."
                ),
                remediation=notes,
                ice_advice=_relay_advice(url, udp_ok=True),
            )
        if report.turn:
            return Verdict(
                code="relay_failing", ok=False, exit_code=exit_codes.NEEDS_RELAY,
                summary=(
                    "You are behind a symmetric NAT: players outside your network can only "
                    f"reach you through a TURN relay, and the one configured fails: {turn_error}"
                ),
                remediation=[_fix_turn(report), *notes],
            )
        return Verdict(
            code="needs_relay", ok=False, exit_code=exit_codes.NEEDS_RELAY,
            summary=(
                "You are behind a symmetric NAT: players outside your network can only "
                "reach you through a TURN relay. Configure one with `quibble turn ...`."
            ),
            remediation=[RELAY_SETUP, *notes],
        )
    backup = (
        [] if relay_works else
        ["Players behind a symmetric NAT (some mobile and office networks) will still need "
         "a TURN relay. " + RELAY_SETUP]
    )
    if nat.mapping == "endpoint_independent":
        return Verdict(
            code="direct_via_stun", ok=True, exit_code=exit_codes.OK,
            summary=(
                f"You are behind a NAT that keeps one public address ({nat.public_address}) "
                "for every destination: players outside connect directly to you via STUN."
            ),
            remediation=[*notes, *backup],
        )
    return Verdict(
        code="stun_mapping_unknown", ok=True, exit_code=exit_codes.OK,
        summary=(
            f"STUN works (public address {nat.public_address}), but with one STUN server the "
            "doctor cannot tell whether your NAT is symmetric."
        ),
        remediation=[
            "Give a second STUN server at another address (`--stun` twice), or one that "
            "supports RFC 5780 (coturn listening on two addresses).",
            *notes,
            *backup,
        ],
    )


def _udp_blocked_verdict(
    report: DoctorReport,
    tcp_relay_works: bool,
    tcp_relays: Sequence[AllocationReport],
    turn_error: str,
    notes: list[str],
) -> Verdict:
    if tcp_relay_works:
        url = _best_relay(tcp_relays)
        advice = _relay_advice(url, udp_ok=False)
        return Verdict(
            code="tcp_relay", ok=True, exit_code=exit_codes.OK,
            summary=(
                "UDP is blocked here: no STUN server answered over UDP. Players can still "
                f"connect through TURN over TCP ({url}), which works."
            ),
            remediation=[advice.why, TCP_443_HINT, *notes],
            ice_advice=advice,
        )
    answered = [t for t in report.turn if t.outcome != "unreachable"]
    if report.turn and answered:
        return Verdict(
            code="relay_failing", ok=False, exit_code=exit_codes.NEEDS_RELAY,
            summary=(
                "UDP is blocked here, so players need TURN over TCP, and the TURN server "
                f"answers but gives no relay: {turn_error}"
            ),
            remediation=[_fix_turn(report), TCP_443_HINT, *notes],
        )
    signal_ok = report.signaling is not None and report.signaling.ws_ok
    if report.turn and not signal_ok:
        return Verdict(
            code="no_path", ok=False, exit_code=exit_codes.NO_PATH,
            summary=(
                "Nothing outside answers: no STUN server over UDP and no TURN server over "
                "any transport. This network blocks outgoing traffic, or the servers are "
                "down. Players on your local network can still connect directly."
            ),
            remediation=[
                f"Check the servers are running and reachable: {turn_error}",
                TCP_443_HINT,
                *notes,
            ],
        )
    fallback = (
        ["The signaling service answers over WebSocket: its last-resort data relay can "
         "carry a game, slowly and at the service's cost."]
        if signal_ok else []
    )
    return Verdict(
        code="udp_blocked", ok=False, exit_code=exit_codes.NEEDS_RELAY,
        summary=(
            "UDP is blocked here (no STUN server answered over UDP): use TURN over TCP on "
            "port 443. Players on your local network can still connect directly."
        ),
        remediation=[
            RELAY_SETUP.replace("turn:HOST:3478", "turns:HOST:443?transport=tcp"),
            "With UDP blocked, run the host and Python players with --udp-blocked (no STUN, "
            "TURN over TCP/TLS only): aiortc otherwise waits 5 s for STUN answers that "
            "cannot come.",
            *fallback,
            *notes,
        ],
    )


def _best_relay(relays: Sequence[AllocationReport]) -> str:
    order = {"udp": 0, "tcp": 1, "tls": 2}
    return min(relays, key=lambda r: order.get(r.transport, 3)).url


def _best_relay_transport(relays: Sequence[AllocationReport]) -> TurnPath:
    order = {"udp": 0, "tcp": 1, "tls": 2}
    return min(relays, key=lambda r: order.get(r.transport, 3)).transport


def _relay_advice(url: str, *, udp_ok: bool) -> IceAdvice:
    auth = "--turn-secret ..."
    if udp_ok:
        return IceAdvice(
            stun=[], turn=[url], relay_only=False,
            flags=f"--turn {shlex.quote(url)} {auth}",
            why=f"aiortc uses one TURN URL: give the host and Python players {url}, the one "
            "that works here. Browsers get every configured URL from the signaling service.",
        )
    return IceAdvice(
        stun=[], turn=[url], relay_only=False,
        flags=f"--udp-blocked --turn {shlex.quote(url)} {auth}",
        why=(
            "Run the host and Python players with --udp-blocked and this TURN URL "
            f"(`--turn {url}`), no --stun; with the list from a signaling service, "
            "--udp-blocked alone picks the TCP/TLS TURN URL. aiortc waits 5 s for STUN "
            "answers over UDP before it uses TURN over TCP, and here those answers never come."
        ),
    )


def _turn_problem(report: DoctorReport) -> str:
    if not report.turn:
        return "no TURN server configured"
    failed = [t for t in report.turn if not t.ok]
    if failed:
        return "; ".join(t.message for t in failed)
    bad_checks = [p for p in report.paths if p.path == "relay" and p.checked and not p.ok]
    if bad_checks:
        return "allocations work, but no data channel opened through the relay: " + "; ".join(
            p.note for p in bad_checks
        )
    return "unknown"


def _fix_turn(report: DoctorReport) -> str:
    outcomes = {t.outcome for t in report.turn if not t.ok}
    if "expired_credentials" in outcomes:
        return "The TURN credentials have expired: fetch fresh ones (rejoin) or issue new ones."
    if "wrong_credentials" in outcomes:
        return (
            "The TURN server refused the credentials: check --turn-secret matches coturn's "
            "static-auth-secret (or --turn-user/--turn-pass), and that both clocks are right."
        )
    if "quota" in outcomes:
        return "The TURN server is at its allocation quota: raise user-quota/total-quota."
    if "unreachable" in outcomes:
        return "The TURN server cannot be reached: check its address, port and firewall."
    return "Check the TURN server's log (`quibble turn serve` shows it)."


def _caveats(report: DoctorReport) -> list[str]:
    notes: list[str] = []
    if report.nat.cgnat:
        where = (
            f" (router {report.nat.cgnat_hop} on the way out)" if report.nat.cgnat_hop else ""
        )
        notes.append(
            "Your provider puts you behind a carrier-grade NAT (100.64.0.0/10)"
            f"{where}: port forwarding on your router cannot help, and players outside "
            "may need a relay."
        )
    host = next((p for p in report.paths if p.path == "host" and p.checked), None)
    if host is not None and host.ok is False:
        notes.append(f"Even two local peers could not connect: {host.note}")
    if report.signaling is not None and not report.signaling.ws_ok:
        notes.append(f"The signaling service is not reachable: {report.signaling.error}")
    if report.room is not None and report.room.status == "failed":
        notes.append(f"Room {report.room.code}: {report.room.error}")
    if report.room is not None and report.room.status == "ok":
        rtt = f", round trip {report.room.rtt_ms:.1f} ms" if report.room.rtt_ms else ""
        notes.append(
            f"Room {report.room.code}: a player here reaches its host over a "
            f"{report.room.path} path{rtt}."
        )
    return notes


# ---------------------------------------------------------------------------------------
# Two sides: which path will a player get?

PairPath = Literal["direct", "relay", "none"]


def predict_pair_path(a: DoctorReport, b: DoctorReport) -> PairPath:
    """The path ICE will find between the machines of two doctor reports.

    "direct" (host or server-reflexive candidates, hole punching), "relay" (only through
    TURN, and a relay works for at least one side), or "none". Both sides send checks, so
    a symmetric NAT on one side is still punched through when the other side's NAT keeps
    one mapping and filters by address only (its filter opens for the symmetric side's IP);
    against port-dependent filtering, or a second symmetric NAT, only a relay works.
    """
    if _direct_possible(a.nat, b.nat):
        return "direct"
    relay_ok = any(t.ok for t in a.turn) or any(t.ok for t in b.turn)
    return "relay" if relay_ok else "none"


def _direct_possible(a: NatReport, b: NatReport) -> bool:
    if a.behind_nat is None or b.behind_nat is None:
        return False  # one side has no UDP way out at all
    if not a.symmetric and not b.symmetric:
        return True
    if a.symmetric and b.symmetric:
        return False
    other = b if a.symmetric else a
    return other.behind_nat is False or other.filtering in (
        "endpoint_independent",
        "address_dependent",
    )


async def quick_verdict(settings: IceSettings, time_limit: float = 2.0) -> Verdict:
    """The fast subset `quibble host` runs at start-up: STUN, NAT and TURN, no data channels.

    The host warns with the verdict's summary when it is not ``ok``.
    """
    report = await run_doctor(
        DoctorOptions(settings=settings, time_limit=time_limit, end_to_end=False)
    )
    return report.verdict
