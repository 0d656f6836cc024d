"""TURN relay benchmark: join time, round trip and relayed bytes, direct versus relayed.

Runs inside the test network namespace (re-executes itself under `unshare --net` when run as
root outside it), with a real coturn on 10.231.0.1 relaying between 10.231.0.x peers:

1. Time to open a data channel: direct (LAN, no servers) and relay-only over TURN/UDP and
   TURN/TCP, as aioice 0.13 does it and with turn.ice_tuning's triggered-check fix.
2. Round trip (data channel ping-pong) direct vs through the relay, as a ratio.
3. UDP blocked by iptables: the join time with a naive ICE list (STUN + TURN/TCP: aioice
   waits 5 s for the STUN answer) against the list IceSettings.aiortc_servers(udp_blocked=
   True) gives (TURN/TCP only), and the same through TURN over TLS (turns:, a throwaway
   certificate trusted through SSL_CERT_FILE).
4. A real game (`quibble host` + N `quibble join --bot`): every player on LAN direct, then
   every player --relay-only through coturn; action-to-view latency and RTT side by side,
   and the bytes coturn relayed per player (its own session counters).

QUIBBLE_BENCH_MAX_BPS sets coturn's per-session max-bps for the game (to see what a tight
cap does to it). Everything stays on this machine. Usage:
    sudo .venv/bin/python bench/turn.py [--runs 7] [--pings 300] [--players 15] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.net.turn_server import (  # noqa: E402
    RELAY_PORTS,
    TURN_IP,
    make_certificate,
    netns_coturn,
    netns_coturn_options,
    udp_blocked,
)
from turn.config import IceSettings, parse_ice_url, to_rtc_configuration  # noqa: E402
from turn.coturn import CoturnProcess, free_port  # noqa: E402
from turn.credentials import issue_credential  # noqa: E402
from turn.ice_servers import IceServer  # noqa: E402
from turn.ice_tuning import (  # noqa: E402
    install_triggered_check_fix,
    remove_triggered_check_fix,
)
from turn.peer_pair import open_pair  # noqa: E402

SECRET = "bench-relay-secret-0123456789"


def reexec_in_namespace() -> None:
    if os.environ.get("QUIBBLE_TEST_NETNS") == "1":
        return
    if os.geteuid() != 0:
        sys.exit("bench/turn.py needs root to make its network namespace (or run it under "
                 "`unshare --net scripts/in-test-netns.sh`)")
    script = str(ROOT / "scripts" / "in-test-netns.sh")
    os.execvp("unshare", ["unshare", "--net", script, sys.executable, *sys.argv])


def set_fix(enabled: bool) -> None:
    """Switch the triggered-check fix on or off for the following runs."""
    if enabled:
        install_triggered_check_fix()
    else:
        remove_triggered_check_fix()


def settings(port: int, *urls: str, relay_only: bool) -> IceSettings:
    return IceSettings(
        stun=(parse_ice_url(f"stun:{TURN_IP}:{port}"),),
        turn=tuple(parse_ice_url(u.format(ip=TURN_IP, port=port)) for u in urls),
        secret=SECRET,
        relay_only=relay_only,
    )


def stats(samples: Sequence[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "n": len(ordered),
        "p50": statistics.median(ordered),
        "p95": ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))],
        "min": ordered[0],
        "max": ordered[-1],
    }


ServerChoice = Callable[[str], list[IceServer]]


def fixed(servers: list[IceServer]) -> ServerChoice:
    return lambda _client_id: servers


_runs = iter(range(10**9))


async def time_open(
    servers_a: ServerChoice, servers_b: ServerChoice, relay_a: bool, relay_b: bool,
    runs: int, time_limit: float = 15.0,
) -> dict[str, float]:
    """Open ``runs`` pairs; each peer gets its own client id, hence its own TURN username
    (coturn's user-quota counts allocations per username, as it would per real player)."""
    totals = []
    failed = 0
    for _ in range(runs):
        run = next(_runs)
        try:
            pair = await open_pair(
                to_rtc_configuration(servers_a(f"a{run}"), relay_a),
                to_rtc_configuration(servers_b(f"b{run}"), relay_b),
                time_limit=time_limit,
            )
        except TimeoutError:
            failed += 1
            continue
        totals.append(pair.timings.total_s * 1000)
        await pair.close()
    return (stats(totals) if totals else {}) | {"failed": failed}


async def bench_open_times(port: int, runs: int) -> dict[str, Any]:
    results: dict[str, Any] = {}
    results["direct (LAN, no servers)"] = await time_open(fixed([]), fixed([]), False, False, runs)
    for transport in ("udp", "tcp"):
        ice_config = settings(port, f"turn:{{ip}}:{{port}}?transport={transport}",
                              relay_only=True)

        def servers(client_id: str, ice_config: IceSettings = ice_config) -> list[IceServer]:
            return ice_config.aiortc_servers(client_id, time.time())

        for fix in (False, True):
            set_fix(fix)
            label = "fix" if fix else "aioice"
            results[f"relay-only both, TURN/{transport.upper()} ({label})"] = await time_open(
                servers, servers, True, True, runs
            )
            results[f"player relay-only, host direct, TURN/{transport.upper()} ({label})"] = (
                await time_open(servers, servers, True, False, runs)
            )
    set_fix(True)
    return results


async def bench_rtt(port: int, pings: int) -> dict[str, Any]:
    now = time.time()
    results: dict[str, Any] = {}
    configs: list[tuple[str, list[IceServer], list[IceServer], bool]] = [
        ("direct", [], [], False)
    ]
    for transport in ("udp", "tcp"):
        ice_config = settings(port, f"turn:{{ip}}:{{port}}?transport={transport}",
                              relay_only=True)
        configs.append((f"relay TURN/{transport.upper()}",
                        ice_config.aiortc_servers(f"rtt-a-{transport}", now),
                        ice_config.aiortc_servers(f"rtt-b-{transport}", now), True))
    for label, servers_a, servers_b, relay in configs:
        pair = await open_pair(
            to_rtc_configuration(servers_a, relay), to_rtc_configuration(servers_b, relay)
        )
        await pair.ping(20)  # warm up (SCTP congestion window, channel binds)
        rtts = await pair.ping(pings)
        results[label] = {k: v * 1000 if k != "n" else v for k, v in stats(rtts).items()}
        results[label]["path"] = "/".join(pair.path())
        await pair.close()
    direct = results["direct"]["p50"]
    for label in results:
        results[label]["ratio_p50"] = results[label]["p50"] / direct
    return results


async def bench_udp_blocked(port: int, runs: int, tls_port: int) -> dict[str, Any]:
    ice_config = settings(
        port, "turn:{ip}:{port}?transport=udp", "turn:{ip}:{port}?transport=tcp",
        f"turns:{{ip}}:{tls_port}?transport=tcp", relay_only=False,
    )
    tcp_url = f"turn:{TURN_IP}:{port}?transport=tcp"

    def naive(client_id: str) -> list[IceServer]:
        # What a client gets by taking "the first STUN and a TCP TURN URL" blindly.
        [_, turn_all] = ice_config.servers_for_client(client_id, time.time())
        return [IceServer(urls=[f"stun:{TURN_IP}:{port}"]),
                IceServer(urls=[tcp_url], username=turn_all.username,
                          credential=turn_all.credential)]

    def informed(client_id: str) -> list[IceServer]:
        return ice_config.aiortc_servers(client_id, time.time(), udp_blocked=True)

    results: dict[str, Any] = {}
    with udp_blocked():
        set_fix(False)
        results["naive STUN + TURN/TCP, both sides blocked (aioice)"] = await time_open(
            naive, naive, False, False, max(2, runs // 3)
        )
        results["naive STUN + TURN/TCP, player blocked (aioice)"] = await time_open(
            naive, informed, False, False, max(2, runs // 3)
        )
        results["aiortc_servers(udp_blocked=True): TURN/TCP only (aioice)"] = await time_open(
            informed, informed, False, False, runs
        )
        set_fix(True)
        results["aiortc_servers(udp_blocked=True): TURN/TCP only (fix)"] = await time_open(
            informed, informed, False, False, runs
        )

        def over_tls(client_id: str) -> list[IceServer]:
            return ice_config.aiortc_servers(
                client_id, time.time(), udp_blocked=True, prefer="tls"
            )

        results["aiortc_servers(udp_blocked=True, prefer=tls): TURN/TLS only (fix)"] = (
            await time_open(over_tls, over_tls, False, False, runs)
        )
    return results


# --- a real game -------------------------------------------------------------------------

@contextmanager
def relay_byte_counter(port: int) -> Iterator[Callable[[], int]]:
    """Count every byte (IP packets) in or out of coturn: both legs, client <-> listening
    port and relay ports <-> peer, so the count is an upper bound for any billing rule.

    iptables counts each locally sent packet once in OUTPUT; a chain of its own that only
    RETURNs leaves every other rule as it was.
    """
    chain = "QBENCH_TURN"
    relay_range = f"{RELAY_PORTS[0]}:{RELAY_PORTS[1]}"
    matches = [["-p", proto, flag, str(port)]
               for proto in ("udp", "tcp") for flag in ("--dport", "--sport")]
    matches += [["-p", "udp", flag, relay_range] for flag in ("--dport", "--sport")]
    subprocess.run(["iptables", "-N", chain], check=True)
    subprocess.run(["iptables", "-A", chain, "-j", "RETURN"], check=True)
    for match in matches:
        subprocess.run(["iptables", "-I", "OUTPUT", *match, "-j", chain], check=True)

    def read() -> int:
        out = subprocess.run(["iptables", "-nvxL", "OUTPUT"], check=True,
                             capture_output=True, text=True).stdout
        return sum(int(line.split()[1]) for line in out.splitlines()
                   if len(line.split()) > 2 and line.split()[2] == chain)

    try:
        yield read
    finally:
        for match in matches:
            subprocess.run(["iptables", "-D", "OUTPUT", *match, "-j", chain], check=True)
        subprocess.run(["iptables", "-F", chain], check=True)
        subprocess.run(["iptables", "-X", chain], check=True)


async def run_game(
    tmp: Path, players: int, rounds: int, phase_seconds: int, turn_url: str | None
) -> tuple[list[dict[str, Any]], dict[str, Any], float]:
    sys.path.insert(0, str(ROOT))
    from tests.net.peer_harness import HostProcess, JoinProcess

    started = time.perf_counter()
    host_args = ["--rounds", str(rounds), "--phase-seconds", str(phase_seconds),
                 "--autostart", str(players), "--seed", "5"]
    if turn_url:
        host_args += ["--turn", turn_url, "--turn-secret", SECRET]
    host = await HostProcess.start(tmp, *host_args)
    joins = []
    for i in range(players):
        extra = ["--bot", "heuristic" if i % 2 else "random", "--seed", str(i)]
        if turn_url:
            cred = issue_credential(SECRET, f"player{i}", time.time(), ttl=3600)
            extra += ["--relay-only", "--turn", turn_url, "--turn-user", cred.username,
                      "--turn-pass", cred.password]
        joins.append(await JoinProcess.start(tmp, host.code, host.signal_url, f"P{i}", *extra))
    try:
        results = await asyncio.gather(*(j.result(within_s=600) for j in joins))
        await host.wait(within_s=60)
    finally:
        for j in joins:
            await j.stop()
        await host.stop()
    status = host.status()
    return [doc for _, doc, _ in results], status, time.perf_counter() - started


def summarize_game(docs: list[dict[str, Any]], status: dict[str, Any]) -> dict[str, Any]:
    """Latency and app bytes as the players reported them (`quibble join --json`)."""
    a2v = [d["action_to_view_ms"]["p50"] for d in docs if d.get("action_to_view_ms")]
    joins = [d["join_ms"] for d in docs if d.get("join_ms") is not None]
    return {
        "paths": sorted({d.get("path", "?") for d in docs}),
        "action_to_view_p50_ms": statistics.median(a2v) if a2v else None,
        "join_ms_p50": statistics.median(joins) if joins else None,
        "join_ms_max": max(joins) if joins else None,
        "app_bytes_in_per_player": statistics.median([d.get("bytes_in", 0) for d in docs]),
        "all_finished": all(d.get("winners") for d in docs) and status.get("phase") == "over",
    }


def max_bps_override() -> dict[str, object]:
    value = os.environ.get("QUIBBLE_BENCH_MAX_BPS")
    return {"max_bps": int(value)} if value else {}


async def bench_game(players: int, rounds: int, phase_seconds: int) -> dict[str, Any]:
    """The same game twice: every player direct, then every player relay-only (host direct)."""
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        docs, status, wall = await run_game(Path(tmp), players, rounds, phase_seconds, None)
        results["direct"] = summarize_game(docs, status) | {"wall_s": wall}
    with tempfile.TemporaryDirectory() as tmp, netns_coturn(SECRET, **max_bps_override()) as coturn:
        port = coturn.options.port
        turn_url = f"turn:{TURN_IP}:{port}?transport=udp"
        with relay_byte_counter(port) as relayed:
            docs, status, wall = await run_game(Path(tmp), players, rounds, phase_seconds,
                                                turn_url)
            total = relayed()
        results["relay"] = summarize_game(docs, status) | {
            "wall_s": wall,
            "relayed_bytes_total": total,
            "relayed_bytes_per_player": total / players,
        }
    direct, relay = (results[k].get("action_to_view_p50_ms") for k in ("direct", "relay"))
    if direct and relay:
        results["relay"]["action_to_view_p50_ratio"] = relay / direct
    return results


async def bench_heartbeat_bytes(seconds: int) -> dict[str, Any]:
    """Bytes/s through the relay for one idle connected player: the app's heartbeat (one
    ping and one pong a second, as peer/host.py sends them) plus ICE consent checks, SCTP
    acknowledgements and DTLS framing."""
    from peer.protocol import Ping, Pong, encode

    ping = encode(Ping(id=123456, sent_ms=1_733_300_000_000, rtt_ms=12.5)).decode()
    pong = encode(Pong(id=123456, sent_ms=1_733_300_000_000)).decode()
    with netns_coturn(SECRET) as coturn:
        port = coturn.options.port
        ice_config = settings(port, "turn:{ip}:{port}?transport=udp", relay_only=True)
        now = time.time()
        pair = await open_pair(
            to_rtc_configuration(ice_config.aiortc_servers("idle-player", now), True),
            to_rtc_configuration(ice_config.aiortc_servers("idle-host", now), False),
        )
        pair.channel_a.on("message", lambda _m: pair.channel_a.send(pong))
        try:
            with relay_byte_counter(port) as relayed:
                started = time.perf_counter()
                for _ in range(seconds):
                    pair.channel_b.send(ping)  # host -> player
                    await asyncio.sleep(1.0)  # the heartbeat's own pace, not a sync wait
                elapsed = time.perf_counter() - started
                total = relayed()
        finally:
            await pair.close()
    return {"heartbeat": {"seconds": elapsed, "bytes": total, "bytes_per_s": total / elapsed,
                          "ping_frame_bytes": len(ping), "pong_frame_bytes": len(pong)}}


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    certs = tempfile.mkdtemp(prefix="quibble-bench-tls-")
    cert, key = make_certificate(certs, TURN_IP)
    os.environ["SSL_CERT_FILE"] = cert  # the clients' default SSL context trusts it
    options = netns_coturn_options(
        SECRET, cert=cert, pkey=key, tls_port=free_port(TURN_IP)
    )
    report: dict[str, Any] = {}
    sections: list[tuple[str, Callable[[], Awaitable[dict[str, Any]]]]] = []
    if args.runs:
        sections.append(("open_ms", lambda: bench_open_times(options.port, args.runs)))
    if args.pings:
        sections.append(("rtt_ms", lambda: bench_rtt(options.port, args.pings)))
    if args.runs:
        sections.append(
            ("udp_blocked_open_ms",
             lambda: bench_udp_blocked(options.port, args.runs, options.tls_port))
        )
    with CoturnProcess(options) as coturn:
        coturn.wait_ready()
        for name, section in sections:
            print(f"== {name}", file=sys.stderr, flush=True)
            report[name] = await section()
    if args.heartbeat_seconds:
        print("== relayed bytes of an idle player", file=sys.stderr, flush=True)
        report["idle_relay"] = await bench_heartbeat_bytes(args.heartbeat_seconds)
    if args.players:
        print("== game", file=sys.stderr, flush=True)
        report["game"] = await bench_game(args.players, args.rounds, args.phase_seconds)
    if "idle_relay" in report and "game" in report:
        report["hour"] = hour_estimate(report, args.players, args.dollars_per_gb)
    shutil.rmtree(certs, ignore_errors=True)
    return report


def hour_estimate(report: dict[str, Any], players: int, dollars_per_gb: float) -> dict[str, Any]:
    """A 1-hour game: the measured game's relayed bytes plus an hour of measured heartbeat."""
    per_player = (report["game"]["relay"]["relayed_bytes_per_player"]
                  + report["idle_relay"]["heartbeat"]["bytes_per_s"] * 3600)
    gb = per_player / 1e9
    return {
        "1-hour game": {
            "relayed_MB_per_player": per_player / 1e6,
            "dollars_per_GB": dollars_per_gb,
            "cost_one_relayed_player": gb * dollars_per_gb,
            f"cost_all_{players}_relayed": gb * dollars_per_gb * players,
            f"cost_per_1000_games_all_{players}_relayed": gb * dollars_per_gb * players * 1000,
        }
    }


def print_report(report: dict[str, Any]) -> None:
    for section, rows in report.items():
        print(f"\n{section}")
        for label, row in rows.items():
            if isinstance(row, dict):
                cells = ", ".join(
                    f"{k}={v:.1f}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()
                )
                print(f"  {label:<62} {cells}")
            else:
                print(f"  {label:<62} {row}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7,
                        help="connections per open-time row (0: skip)")
    parser.add_argument("--pings", type=int, default=300, help="round trips per RTT row (0: skip)")
    parser.add_argument("--players", type=int, default=15, help="bots in the game (0: skip)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds of the game")
    parser.add_argument("--phase-seconds", type=int, default=2, help="each timed phase")
    parser.add_argument("--heartbeat-seconds", type=int, default=30,
                        help="seconds of idle heartbeat to measure through the relay (0: skip)")
    parser.add_argument("--dollars-per-gb", type=float, default=0.40,
                        help="TURN relay price for the cost estimate (default 0.40 $/GB)")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    args = parser.parse_args()
    reexec_in_namespace()
    report = asyncio.run(main_async(args))
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print_report(report)


if __name__ == "__main__":
    main()
