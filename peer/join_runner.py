"""Everything `quibble join` runs: the player, its output, and a terminal UI for humans."""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
from pathlib import Path

import msgspec

from game import Bot, HeuristicBot, PlayerView, RandomBot
from game.actions import Action, Borrow, BuyCard, PlaceBet, PlayCard, Ready, StartGame
from peer import exit_codes
from peer.player import Player, PlayerFailure, PlayerOptions, PlayerSeat, PlayerStats
from turn.config import IceSettings


class JoinResult(msgspec.Struct, kw_only=True):
    """The `--json` document: how the game went for this player."""

    ok: bool
    exit_code: int
    room: str
    name: str
    seat: int | None = None
    path: str = "unknown"
    paths: list[str] = []
    standings: list[dict[str, object]] = []
    winners: list[int] = []
    winner_names: list[str] = []
    error: str | None = None
    join_ms: float | None = None
    ice_ms: float | None = None  # gathering to data channel open, the last WebRTC attempt
    join_attempts: int = 0
    rtt_ms: float | None = None
    action_to_view_ms: dict[str, float] = {}
    bytes_in: int = 0
    views: int = 0
    rejections: int = 0
    reconnects: int = 0
    resyncs: int = 0


def _percentiles(samples: list[float]) -> dict[str, float]:
    if not samples:
        return {}
    ordered = sorted(samples)

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2)

    return {
        "n": float(len(ordered)),
        "p50": at(0.50),
        "p95": at(0.95),
        "p99": at(0.99),
        "mean": round(statistics.fmean(ordered), 2),
    }


def _result(player: Player, stats: PlayerStats, exit_code: int, error: str | None) -> JoinResult:
    view = player.view
    final = view is not None and view.phase == "over"
    return JoinResult(
        ok=exit_code == exit_codes.OK,
        exit_code=exit_code,
        room=player.seat.code,
        name=player.seat.name,
        seat=player.seat.seat,
        path=player.path,
        paths=list(player.paths),
        standings=[msgspec.structs.asdict(s) for s in view.standings] if final and view else [],
        winners=list(view.winners) if final and view else [],
        winner_names=[s.name for s in view.standings if s.seat in view.winners]
        if final and view
        else [],
        error=error,
        join_ms=None if stats.join_ms is None else round(stats.join_ms, 2),
        ice_ms=None if stats.ice_ms is None else round(stats.ice_ms, 2),
        join_attempts=stats.join_attempts,
        rtt_ms=stats.rtt_ms,
        action_to_view_ms=_percentiles(stats.action_to_view_ms),
        bytes_in=stats.bytes_in,
        views=stats.views,
        rejections=stats.rejections,
        reconnects=stats.reconnects,
        resyncs=stats.resyncs,
    )


class TerminalPrinter:
    """Prints what changed, for a human or a bot's log."""

    def __init__(self, human: bool) -> None:
        self.human = human
        self._phase: tuple[int, str] | None = None

    def __call__(self, view: PlayerView) -> None:
        key = (view.round, view.phase)
        if key == self._phase:
            return
        self._phase = key
        print(f"round {view.round}/{view.rounds} - {view.phase} - {view.coins} coins", flush=True)
        if not self.human:
            return
        if view.phase == "lobby":
            names = ", ".join(s.name for s in view.players)
            print(f"  players: {names}   (type 'start' to begin)")
        if view.quibbles:
            for q in view.quibbles:
                print(f"  [{q.index}] {q.name} speed {q.speed} pays {q.odds_milli / 1000:.2f}x")
        if view.hand:
            print("  hand: " + ", ".join(f"{c.id}={c.kind}" for c in view.hand))
        if view.phase == "purchase" and view.shop:
            print("  shop: " + ", ".join(f"{c.id}={c.kind} ({c.price})" for c in view.shop))
        print("  commands: ready | bet Q AMOUNT | borrow N | play CARD [Q|SEAT|Q Q|KIND] | "
              "buy CARD | start", flush=True)


def parse_command(line: str, view: PlayerView | None) -> list[Action] | str:
    """A typed command as actions, or an error message for the human."""
    words = line.split()
    if not words:
        return []
    if view is None:
        return "not seated yet"
    seat = view.seat
    try:
        match words:
            case ["start"]:
                return [StartGame()]
            case ["ready"]:
                return [Ready(seat=seat)]
            case ["bet", q, amount]:
                return [PlaceBet(seat=seat, quibble=int(q), amount=int(amount))]
            case ["borrow", amount]:
                return [Borrow(seat=seat, amount=int(amount))]
            case ["buy", card]:
                return [BuyCard(seat=seat, card=card)]
            case ["play", card]:
                return [PlayCard(seat=seat, card=card)]
            case ["play", card, arg]:
                kind = next((c.kind for c in view.hand if c.id == card), None)
                if kind in ("extortion", "stupify"):
                    return [PlayCard(seat=seat, card=card, target=int(arg))]
                if kind == "shovel":
                    return [PlayCard(seat=seat, card=card, pick=arg)]  # type: ignore[arg-type]
                return [PlayCard(seat=seat, card=card, quibble=int(arg))]
            case ["play", card, a, b]:
                return [PlayCard(seat=seat, card=card, quibble=int(a), quibble_b=int(b))]
    except ValueError as exc:
        return f"bad number: {exc}"
    return f"unknown command: {line.strip()}"


async def _read_commands(player: Player) -> None:
    loop = asyncio.get_running_loop()
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line:
            return
        parsed = parse_command(line, player.view)
        if isinstance(parsed, str):
            print(parsed, flush=True)
        else:
            player.act(parsed)


async def run_join(args: argparse.Namespace, signal_url: str, code: str, ice: IceSettings) -> int:
    """The whole life of one player; returns the exit code."""
    seat_file = Path(args.seat_file) if args.seat_file else None
    seat = PlayerSeat(code=code, name=args.name.strip())
    if seat_file is not None and seat_file.exists():
        try:
            saved = msgspec.json.decode(seat_file.read_bytes(), type=PlayerSeat)
            if saved.code == code:
                seat = saved
        except msgspec.DecodeError:
            print(f"quibble join: ignoring unreadable {seat_file}", file=sys.stderr)

    def save(s: PlayerSeat) -> None:
        if seat_file is not None:
            tmp = seat_file.with_name(seat_file.name + ".tmp")
            tmp.write_bytes(msgspec.json.encode(s))
            tmp.replace(seat_file)

    bot: Bot | None = None
    if args.bot == "random":
        bot = RandomBot(args.seed)
    elif args.bot == "heuristic":
        bot = HeuristicBot(args.seed)
    options = PlayerOptions(
        signal_url=signal_url,
        code=code,
        name=seat.name,
        ice=ice,
        force_relay=args.ws_relay,
        ice_timeout_s=args.ice_timeout,
        bot_delay_s=args.bot_delay,
        turn_prefer=args.turn_via,
        udp_blocked=args.udp_blocked,
    )
    player = Player(
        options,
        bot=bot,
        seat=seat,
        on_view=TerminalPrinter(bot is None),
        on_seat=save,
        on_connected=lambda path: print(f"connected via {path}", flush=True),
    )
    reader = None if bot is not None else asyncio.get_running_loop().create_task(
        _read_commands(player)
    )
    print(f"joining room {code} at {signal_url} as {seat.name}...", flush=True)
    exit_code, error = exit_codes.OK, None
    try:
        final = await player.run()
    except PlayerFailure as exc:
        exit_code, error = exc.exit_code, exc.reason
        await player.close()
        print(f"quibble join: {exc.reason}", file=sys.stderr)
    else:
        print(f"path: {player.path}")
        print("Final standings:")
        for s in final.standings:
            print(f"  {s.rank}. {s.name} (seat {s.seat}): {s.score}")
        names = [s.name for s in final.standings if s.seat in final.winners]
        print(f"Winners: {', '.join(names)}", flush=True)
    if reader is not None:
        reader.cancel()
    if args.json:
        result = _result(player, player.stats, exit_code, error)
        print(msgspec.json.encode(result).decode(), flush=True)
    return exit_code
