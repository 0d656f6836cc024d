"""Host benchmark: N bot players (in other processes) against one `quibble host`.

Prints, for N = 1, 10, 50, 100 players over WebRTC data channels and then with every player
on the signaling WebSocket relay: time-to-join p50/p95 (player start -> first view),
action-to-view latency p50/p99 (an action sent -> the next view back), host CPU seconds and
peak RSS for the whole game, and bytes the host sent per player per game; then the relay
figures as a ratio of the data-channel ones. All of it twice: with bots that act the
instant a view arrives (each phase change is a burst of N actions: the worst case) and with
bots that think 0.3-3 s before each move, as people do (--think).

Runs only inside the test network namespace (no packet may leave this machine):

    unshare --net scripts/in-test-netns.sh .venv/bin/python bench/host.py
    ... bench/host.py --players 10,50 --modes dc --rounds 3
    .venv/bin/python bench/host.py --compare-views --players 6,10,50,100 --rounds 3
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

# bench/ holds signaling.py and turn.py, which would shadow the packages of those names.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent.resolve()]

HOST_ADDR = "10.231.0.1"
_SIGNAL_LINE = re.compile(
    r"^or: quibble join (?P<code>[A-Z]{4,8}) --name NAME --signal (?P<url>\S+)"
)


def pct(samples: list[float], q: float) -> float | None:
    """The q-quantile (nearest rank) of samples, or None if there are none."""
    if not samples:
        return None
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# ---- worker: many players in one process -------------------------------------------------


async def worker(args: argparse.Namespace) -> None:
    """Run ``args.count`` bot players concurrently; print one JSON line of their figures."""
    import logging

    from game import HeuristicBot
    from peer.player import Player, PlayerFailure, PlayerOptions

    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("aioice").setLevel(logging.ERROR)
    logging.getLogger("asyncio").setLevel(logging.CRITICAL)

    async def one(i: int) -> dict[str, Any]:
        options = PlayerOptions(
            signal_url=args.signal, code=args.code, name=f"B{args.offset + i}",
            force_relay=args.relay, ice_timeout_s=30.0,
            bot_delay_s=args.think_ms[0] / 1000,
            bot_delay_jitter_s=(args.think_ms[1] - args.think_ms[0]) / 1000,
            packed=not args.unpacked,
        )
        player = Player(options, bot=HeuristicBot(args.offset + i))
        try:
            await player.run()
            ok = True
        except PlayerFailure as exc:
            ok = False
            print(f"player {i}: {exc.reason}", file=sys.stderr)
        return {
            "ok": ok,
            "path": player.path,
            "join_ms": player.stats.join_ms,
            "a2v_ms": player.stats.action_to_view_ms,
            "bytes_in": player.stats.bytes_in,
        }

    results = await asyncio.gather(*(one(i) for i in range(args.count)))
    print(json.dumps(results), flush=True)


def log_file(path: Path) -> Any:
    """An append-mode file a child process writes its stderr to."""
    return path.open("ab")


# ---- full views or deltas: bytes per player per game, in one process -------------------------


async def view_bytes(
    n: int, deltas: bool, rounds: int, packed: bool = False
) -> tuple[float, float]:
    """(bytes, frames) the host sends each player in one game of n in-process bots."""
    from game import GameConfig, HeuristicBot, PhaseSeconds, RandomBot, new_game
    from peer.host import HostOptions, HostSession
    from peer.player import Player, PlayerOptions
    from peer.transport import memory_pair

    phases = PhaseSeconds(**dict.fromkeys(
        ("betting", "item", "discussion", "reveal", "race", "payout", "purchase"), 30))
    config = GameConfig(seed=5, rounds=rounds, phase_seconds=phases, max_players=max(n, 3),
                        min_players=min(3, n))
    session = HostSession(new_game(config), "VIEW",
                          options=HostOptions(autostart=n, max_players=n, view_deltas=deltas))
    session.start()

    async def bot(i: int) -> None:
        host_end, mine = memory_pair()
        # A little thinking time, spread over the table, so readiness trickles in.
        options = PlayerOptions(signal_url="", code="VIEW", name=f"B{i}",
                                bot_delay_s=0.02 * (i % 5), packed=packed)
        player = Player(options, bot=(HeuristicBot if i % 2 else RandomBot)(i))
        served = asyncio.get_running_loop().create_task(session.serve(host_end, f"B{i}"))
        await player.play_over(mine)
        await mine.close("done")
        await served

    await asyncio.gather(*(bot(i) for i in range(n)))
    links = session.links.values()
    return (statistics.fmean(x.bytes_sent for x in links),
            statistics.fmean(x.frames_sent for x in links))


async def compare_views(players: list[int], rounds: int) -> None:
    """Print full views against deltas (and packed deltas), bytes per player per game."""
    print(f"Full views vs deltas ({rounds} rounds, in-process bots, host -> one player)")
    print("| players | full views: bytes/game | deltas: bytes/game | full / deltas "
          "| deltas, packed: bytes/game | full / packed deltas |")
    print("|---|---|---|---|---|---|")
    for n in players:
        full, _ = await view_bytes(n, False, rounds)
        delta, _ = await view_bytes(n, True, rounds)
        packed, _ = await view_bytes(n, True, rounds, packed=True)
        print(f"| {n} | {full:.0f} | {delta:.0f} | {full / delta:.1f}x | {packed:.0f} "
              f"| {full / packed:.1f}x |", flush=True)


# ---- driver --------------------------------------------------------------------------------


Think = tuple[int, int]  # a bot waits uniformly between these many ms before each move


def parse_think(text: str) -> Think:
    """'0' (act at once) or 'LO-HI' milliseconds."""
    lo, _, hi = text.partition("-")
    low, high = int(lo), int(hi or lo)
    if not 0 <= low <= high <= 60_000:
        raise argparse.ArgumentTypeError(f"bad thinking time {text!r}: use MS or LO-HI")
    return low, high


def think_label(think: Think) -> str:
    return "at once" if think == (0, 0) else f"{think[0] / 1000:g}-{think[1] / 1000:g} s"


async def run_case(
    n: int, relay: bool, rounds: int, workers: int, tmp: Path, think: Think = (0, 0),
    bot_nice: int = 10, unpacked: bool = False,
) -> dict[str, Any]:
    """One host and n bot players to the end of a game; the figures of that game."""
    status_path = tmp / f"status-{n}-{int(relay)}-{think[1]}.json"
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    # BENCH_PROFILE=FILE: run the host under cProfile (how the host's hot spots were found).
    profile_to = os.environ.get("BENCH_PROFILE")
    profile = ["-m", "cProfile", "-o", f"{profile_to}.{n}"] if profile_to else []
    host = await asyncio.create_subprocess_exec(
        sys.executable, *profile, "-m", "peer", "host", "--bind", HOST_ADDR, "--port", "0",
        "--no-qr",
        "--status", str(status_path), "--journal", str(status_path.with_suffix(".sqlite")),
        "--rounds", str(rounds), "--phase-seconds", "60", "--seed", "1",
        "--autostart", str(n), "--min-players", str(min(n, 3)), "--max-players", str(n),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
        stdin=asyncio.subprocess.DEVNULL, env=env,
    )
    assert host.stdout is not None
    code = url = ""
    async with asyncio.timeout(30):
        while not code:
            line = (await host.stdout.readline()).decode()
            if not line:
                raise RuntimeError("host exited before printing its room")
            match = _SIGNAL_LINE.match(line)
            if match:
                code, url = match["code"], match["url"]
    drain = asyncio.get_running_loop().create_task(host.stdout.read())
    w = max(1, min(workers, n))
    counts = [n // w + (1 if i < n % w else 0) for i in range(w)]
    started = time.monotonic()
    procs = []
    offset = 0
    for count in counts:
        # The bots stand for N other devices: niced, they take this machine's 2 cores only
        # when the host does not need them, as phones would never take the laptop's.
        cmd = ["nice", "-n", str(bot_nice), sys.executable, __file__, "--worker",
               "--code", code, "--signal", url, "--count", str(count), "--offset", str(offset),
               "--think-ms", f"{think[0]}-{think[1]}"]
        if relay:
            cmd.append("--relay")
        if unpacked:
            cmd.append("--unpacked")
        procs.append(await asyncio.create_subprocess_exec(
            *cmd, stdout=asyncio.subprocess.PIPE, stderr=log_file(tmp / "workers.log"), env=env,
        ))
        offset += count
    players: list[dict[str, Any]] = []
    async with asyncio.timeout(300):
        for proc in procs:
            out, _ = await proc.communicate()
            lines = out.decode().strip().splitlines()
            if lines:
                players.extend(json.loads(lines[-1]))
        await host.wait()
    await drain
    wall = time.monotonic() - started
    status = json.loads(status_path.read_text())
    joins = [p["join_ms"] for p in players if p["join_ms"] is not None]
    a2v = [x for p in players for x in p["a2v_ms"]]
    sent = [p["bytes_sent"] for p in status["players"]]
    return {
        "players": n,
        "mode": "ws-relay" if relay else "data channel",
        "think": think_label(think),
        "finished": sum(p["ok"] for p in players),
        "paths": sorted({p["path"] for p in players}),
        "join_p50_ms": pct(joins, 0.50),
        "join_p95_ms": pct(joins, 0.95),
        "all_joined_s": max(joins) / 1000 if joins else None,
        "a2v_p50_ms": pct(a2v, 0.50),
        "a2v_p99_ms": pct(a2v, 0.99),
        "a2v_samples": len(a2v),
        "host_a2v_p50_ms": status["action_to_view_ms"].get("p50"),
        "host_a2v_p99_ms": status["action_to_view_ms"].get("p99"),
        "host_cpu_s": status["cpu_s"],
        "host_rss_mb": status["max_rss_mb"],
        "bytes_per_player": statistics.fmean(sent) if sent else None,
        "rounds": rounds,
        "wall_s": wall,
    }


def fmt(value: Any, unit: str = "") -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.1f}{unit}"
    return f"{value}{unit}"


def print_table(rows: list[dict[str, Any]]) -> None:
    print("| players | path | bots think | finished | join p50 | join p95 | action→view p50 | p99 "
          "| in host p50 | p99 | host CPU | host RSS | host→player bytes/game |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['players']} | {r['mode']} | {r['think']} | {r['finished']}/{r['players']} "
            f"| {fmt(r['join_p50_ms'], ' ms')} | {fmt(r['join_p95_ms'], ' ms')} "
            f"| {fmt(r['a2v_p50_ms'], ' ms')} | {fmt(r['a2v_p99_ms'], ' ms')} "
            f"| {fmt(r['host_a2v_p50_ms'], ' ms')} | {fmt(r['host_a2v_p99_ms'], ' ms')} "
            f"| {fmt(r['host_cpu_s'], ' s')} | {fmt(r['host_rss_mb'], ' MB')} "
            f"| {fmt(r['bytes_per_player'] and round(r['bytes_per_player']))} |"
        )


def print_ratios(rows: list[dict[str, Any]]) -> None:
    print("\nWS relay / data channel:")
    print("| players | bots think | join p50 | action→view p50 | p99 | host CPU | bytes/player |")
    print("|---|---|---|---|---|---|---|")
    by = {(r["players"], r["mode"], r["think"]): r for r in rows}
    for (n, mode, think), relay in by.items():
        dc = by.get((n, "data channel", think))
        if mode != "ws-relay" or dc is None:
            continue

        def ratio(key: str, relay: dict[str, Any] = relay, dc: dict[str, Any] = dc) -> str:
            a, b = relay[key], dc[key]
            return f"{a / b:.2f}x" if a and b else "-"

        print(f"| {n} | {think} | {ratio('join_p50_ms')} | {ratio('a2v_p50_ms')} "
              f"| {ratio('a2v_p99_ms')} | {ratio('host_cpu_s')} | {ratio('bytes_per_player')} |")


async def main(args: argparse.Namespace) -> int:
    if args.compare_views:
        await compare_views(args.players, args.rounds)
        return 0
    if os.environ.get("QUIBBLE_TEST_NETNS") != "1":
        print("run inside the test namespace (no traffic may leave this machine):\n"
              "  unshare --net scripts/in-test-netns.sh .venv/bin/python bench/host.py",
              file=sys.stderr)
        return 2
    rows = []
    with contextlib.ExitStack() as stack:
        if args.keep:
            tmp = tempfile.mkdtemp(prefix="bench-host-", dir=args.keep)
            print(f"logs in {tmp}", file=sys.stderr)
        else:
            tmp = stack.enter_context(tempfile.TemporaryDirectory())
        for think in args.think:
            for n in args.players:
                for mode in args.modes:
                    row = await run_case(
                        n, mode == "relay", args.rounds, args.workers, Path(tmp), think,
                        args.bot_nice, args.unpacked,
                    )
                    rows.append(row)
                    print(json.dumps(row), file=sys.stderr, flush=True)
    print(f"Host benchmark: {args.rounds} rounds, heuristic bots in {args.workers} processes")
    print_table(rows)
    print_ratios(rows)
    if args.json:
        print(json.dumps(rows))
    return 0


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--players", default="1,10,50,100",
                        type=lambda s: [int(x) for x in s.split(",")])
    parser.add_argument("--modes", default="dc,relay", type=lambda s: s.split(","))
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument(
        "--think", default="0,300-3000", metavar="MS[,LO-HI...]",
        type=lambda s: [parse_think(x) for x in s.split(",")],
        help="how long bots think before each move, per run: 0 = the instant a view arrives "
             "(every phase change is a burst of N actions), LO-HI = uniformly in that range "
             "(default: both, 0 and 300-3000)",
    )
    parser.add_argument("--workers", type=int, default=4, help="bot processes")
    parser.add_argument("--bot-nice", type=int, default=10, choices=range(20), metavar="0-19",
                        help="niceness of the bot processes (default 10; 0: same as the host)")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--unpacked", action="store_true",
                        help="players do not ask for packed (DEFLATE) frames: the old wire")
    parser.add_argument("--compare-views", action="store_true",
                        help="only compare full views with deltas (in one process, no network)")
    parser.add_argument("--keep", metavar="DIR", help="keep logs, journals and status here")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--code", help=argparse.SUPPRESS)
    parser.add_argument("--signal", help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--offset", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--relay", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--think-ms", type=parse_think, default=(0, 0), help=argparse.SUPPRESS)
    return parser.parse_args()


if __name__ == "__main__":
    arguments = parse_args()
    if arguments.worker:
        asyncio.run(worker(arguments))
        sys.exit(0)
    sys.exit(asyncio.run(main(arguments)))
