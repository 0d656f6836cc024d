"""`quibble doctor`: why can't a player connect? Probes the network and says what to do.

Exit status: 0 when a player could connect; 6 (NEEDS_RELAY) when players outside need a
TURN relay and none works; 7 (NO_PATH) when nothing answers at all; 2 on bad arguments.
"""

from __future__ import annotations

import argparse
import re
import sys
import textwrap
from typing import TYPE_CHECKING, Any, TextIO

from peer import exit_codes

if TYPE_CHECKING:
    from turn.doctor import DoctorReport, ProgressEvent

MIN_TIMEOUT = 0.5
WRAP_WIDTH = 92
MAX_TIMEOUT = 60.0
_ROOM_CODE = re.compile(r"^[A-Za-z]{4,8}$")

EPILOG = """\
examples:
  quibble doctor                                   # interfaces and the LAN path only
  quibble doctor --stun stun:stun.example.org:3478 --stun stun:stun2.example.org:3478
  quibble doctor --stun stun:turn.example.org --turn turn:turn.example.org:3478 \\
      --turn 'turn:turn.example.org:3478?transport=tcp' \\
      --turn 'turns:turn.example.org:443?transport=tcp' --turn-secret "$QUIBBLE_TURN_SECRET"
  quibble doctor --signal https://signal.example.org --room ABCD
  quibble doctor --signal https://signal.example.org --room ABCD --relay-only \\
      --turn turn:turn.example.org:3478 --turn-secret SECRET   # force the relay path
  quibble doctor --stun stun:turn.example.org --json > report.json

exit status:
  0  a player could connect (the verdict says how)
  6  players outside your network need a TURN relay, and none works
  7  no path at all: nothing answers
  2  bad arguments

Verdict codes and what to do about each: docs/DOCTOR.md.
"""


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add the `doctor` subcommand."""
    from turn.config import add_ice_arguments

    parser: argparse.ArgumentParser = subparsers.add_parser(
        "doctor",
        help="diagnose why a player cannot connect, and say what to do",
        description=(
            "Probe this network: local interfaces and ICE candidates, UDP over IPv4 and\n"
            "IPv6, each STUN server's round trip and your public address, the NAT's mapping\n"
            "and filtering behaviour (RFC 5780 where the server supports it), TURN\n"
            "allocations, the signaling service, and real data channels through each path.\n"
            "Ends with a verdict in plain words and what to do about it."
        ),
        epilog=EPILOG,
    )
    add_ice_arguments(parser)
    parser.add_argument(
        "--signal", metavar="URL",
        help="signaling service to check over HTTP and WebSocket, e.g. https://signal.example.org",
    )
    parser.add_argument(
        "--room", metavar="CODE", help="check the real path to the running host of this room"
    )
    parser.add_argument(
        "--timeout", metavar="S", type=float, default=5.0,
        help=f"time limit per probe in seconds, {MIN_TIMEOUT:g}-{MAX_TIMEOUT:g} (5)",
    )
    parser.add_argument(
        "--no-e2e", dest="end_to_end", action="store_false",
        help="skip the end-to-end data-channel checks (faster)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    return parser


def _check(args: argparse.Namespace) -> str | None:
    if not MIN_TIMEOUT <= args.timeout <= MAX_TIMEOUT:
        return (
            f"--timeout must be between {MIN_TIMEOUT:g} and {MAX_TIMEOUT:g} s, "
            f"got {args.timeout}"
        )
    if args.room is not None and not _ROOM_CODE.fullmatch(args.room):
        return f"--room: {args.room!r} is not a room code (4-8 letters)"
    if args.room is not None and args.signal is None:
        return "--room needs --signal URL (the service the room lives on)"
    if args.signal is not None:
        from turn.signal_probe import healthz_url

        try:
            healthz_url(args.signal)
        except ValueError as exc:
            return f"--signal: {exc}"
    return None


def run(args: argparse.Namespace) -> int:
    """Run the probes, print the report, and return the verdict's exit status."""
    import asyncio

    import msgspec

    from turn.config import ConfigError, ice_settings_from_args
    from turn.doctor import DoctorOptions, run_doctor

    problem = _check(args)
    if problem is None:
        try:
            settings = ice_settings_from_args(args)
        except ConfigError as exc:
            problem = str(exc)
    if problem is not None:
        print(f"quibble doctor: {problem}", file=sys.stderr)
        return exit_codes.USAGE
    options = DoctorOptions(
        settings=settings,
        signal_url=args.signal,
        room=args.room.upper() if args.room else None,
        time_limit=args.timeout,
        end_to_end=args.end_to_end,
    )
    report = asyncio.run(run_doctor(options, progress=_progress_printer(sys.stderr)))
    if args.json:
        sys.stdout.write(msgspec.json.format(msgspec.json.encode(report)).decode() + "\n")
    else:
        sys.stdout.write(render_report(report))
    return report.verdict.exit_code


def _progress_printer(stream: TextIO) -> Any:
    def show(event: ProgressEvent) -> None:
        mark = "..." if event.state == "start" else "done:"
        print(f"  [{event.step}] {mark} {event.detail}", file=stream, flush=True)

    return show


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} ms"


def _words(behaviour: str) -> str:
    return behaviour.replace("_", "-")


def _wrap(text: str, first: str, rest: str) -> list[str]:
    # Plain words for a terminal: wrapped at word boundaries, never inside a URL or flag.
    return textwrap.wrap(
        text, WRAP_WIDTH, initial_indent=first, subsequent_indent=rest,
        break_long_words=False, break_on_hyphens=False,
    )


def render_report(report: DoctorReport) -> str:
    """The report as readable text (what `quibble doctor` prints without --json)."""
    out: list[str] = []
    add = out.append
    add(f"quibble doctor  {report.started_at}  ({report.duration_ms / 1000:.1f} s)")
    if report.ice_source == "signaling":
        add("STUN/TURN servers probed: the ones the signaling service hands its clients")
    add("")
    add("Local interfaces")
    for i in report.interfaces:
        add(f"  {i.name:<12} {i.address:<28} {i.family}  {i.scope}")
    add("ICE host candidates")
    for c in report.host_candidates or []:
        add(f"  {c.protocol} {c.address}:{c.port}")
    if not report.host_candidates:
        add("  none (no usable address)")
    add("")
    add("UDP")
    for fam in (report.udp.ipv4, report.udp.ipv6):
        name = "IPv4" if fam.family == "ipv4" else "IPv6"
        if not fam.tested:
            add(f"  {name}: not tested (no {name} STUN server)")
        elif fam.udp_ok:
            mapped = ", ".join(fam.mapped_addresses) or "-"
            add(f"  {name}: ok   local {fam.local_address}   public {mapped}")
        else:
            add(f"  {name}: NO ANSWER from any STUN server (UDP blocked, or servers down)")
    if report.stun:
        add("STUN servers")
        for s in report.stun:
            if s.ok:
                rfc = "  RFC 5780" if s.other_address else ""
                add(f"  {s.url:<32} {_ms(s.rtt_ms):>9}   you are {s.mapped_address}{rfc}")
            else:
                add(f"  {s.url:<32} FAILED: {s.error}")
    nat = report.nat
    if nat.behind_nat is not None:
        add("NAT")
        add(f"  behind a NAT: {'yes' if nat.behind_nat else 'no'}"
            f"   public address: {nat.public_address}")
        varies = nat.mapping_varies_by_destination
        add("  mapping varies by destination: "
            + ("unknown (one destination)" if varies is None else "YES" if varies else "no"))
        via = f" (RFC 5780 tests via {nat.rfc5780_server})" if nat.rfc5780_server else ""
        add(f"  mapping: {_words(nat.mapping)}   filtering: {_words(nat.filtering)}{via}")
        cgn = f" (router {nat.cgnat_hop})" if nat.cgnat_hop else ""
        add(f"  carrier-grade NAT: {'YES' if nat.cgnat else 'no'}{cgn}")
        if nat.hops:
            add("  routers on the way out: " + " > ".join(h or "*" for h in nat.hops))
    if report.turn:
        add("TURN")
        for t in report.turn:
            if t.ok:
                add(f"  {t.url:<40} ok   relay {t.relayed_address}   {_ms(t.elapsed_ms)}")
            else:
                add(f"  {t.url:<40} FAILED ({t.outcome}): {t.message}")
    if report.signaling is not None:
        sig = report.signaling
        add("Signaling")
        add(f"  {sig.url}   HTTP {'ok' if sig.http_ok else 'FAILED'}"
            f"   WebSocket {'ok' if sig.ws_ok else 'FAILED'}")
        for server in sig.ice_servers:
            add(f"  hands out: {', '.join(server.urls)}")
        if sig.error:
            add(f"  {sig.error}")
    if report.paths:
        add("Paths")
        for p in report.paths:
            state = "ok" if p.ok else "FAILED" if p.ok is False else "unknown"
            kind = "checked" if p.checked else "predicted"
            rtt = f"   rtt {_ms(p.rtt_ms)}" if p.rtt_ms is not None else ""
            via = f"   via {p.via}" if p.via else ""
            add(f"  {p.path:<6} {state:<8} ({kind}){rtt}{via}")
            if p.note:
                add(f"         {p.note}")
    if report.room is not None:
        room = report.room
        add(f"Room {room.code}: {room.status}"
            + (f"   path {room.path}" if room.path else "")
            + (f"   {room.error}" if room.error else ""))
    verdict = report.verdict
    add("")
    add(f"Verdict: {verdict.code}  (exit {verdict.exit_code})")
    out.extend(_wrap(verdict.summary, "  ", "  "))
    if verdict.remediation:
        add("What to do")
        for line in verdict.remediation:
            out.extend(_wrap(line, "  - ", "    "))
    if verdict.ice_advice is not None:
        add(f"ICE for this network: {verdict.ice_advice.flags}")
        out.extend(_wrap(verdict.ice_advice.why, "  ", "  "))
    return "\n".join(out) + "\n"
