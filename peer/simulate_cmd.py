"""`quibble simulate`: a whole game played headless by bots, then the standings."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from peer import exit_codes

MIN_PLAYERS = 3
MAX_PLAYERS = 500
MAX_ROUNDS = 50

EXAMPLES = """\
examples:
  quibble simulate --players 12                 # 12 heuristic bots, 5 rounds, seed 0
  quibble simulate --players 12 --rounds 3 --seed 7 --json
  quibble simulate --players 500 --bot mixed    # half random, half heuristic bots
Same arguments, same output: the game is deterministic given its seed.
"""


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add the `simulate` subcommand."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "simulate",
        help="play a whole game with bots, headless, and print the standings",
        description="Play a whole Quibble Race with bots (no network) and print the standings.",
        epilog=EXAMPLES,
    )
    parser.add_argument("--players", type=int, default=6, help="bots at the table, 3-500 (6)")
    parser.add_argument("--rounds", type=int, default=5, help=f"rounds, 1-{MAX_ROUNDS} (5)")
    parser.add_argument("--seed", type=int, default=0, help="the game's seed, >= 0 (0)")
    parser.add_argument(
        "--bot",
        choices=("random", "heuristic", "mixed"),
        default="heuristic",
        help="which bots play: random, heuristic or mixed (heuristic)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    return parser


def _check(args: argparse.Namespace) -> str | None:
    if not MIN_PLAYERS <= args.players <= MAX_PLAYERS:
        return f"--players must be between {MIN_PLAYERS} and {MAX_PLAYERS}, got {args.players}"
    if not 1 <= args.rounds <= MAX_ROUNDS:
        return f"--rounds must be between 1 and {MAX_ROUNDS}, got {args.rounds}"
    if not 0 <= args.seed <= 2**63 - 1:
        return f"--seed must be between 0 and 2**63-1, got {args.seed}"
    return None


def run(args: argparse.Namespace) -> int:
    """Play the game and print its standings; 2 on bad arguments."""
    import msgspec

    from game.selfplay import play_game
    from game.state import GameConfig

    problem = _check(args)
    if problem:
        print(f"quibble simulate: {problem}", file=sys.stderr)
        return exit_codes.USAGE
    config = GameConfig(seed=args.seed, rounds=args.rounds, max_players=MAX_PLAYERS)
    state = play_game(config, args.players, args.bot)
    if args.json:
        doc = {
            "seed": args.seed,
            "players": args.players,
            "rounds": args.rounds,
            "bot": args.bot,
            "winners": list(state.winners),
            "standings": [msgspec.to_builtins(s) for s in state.standings],
        }
        sys.stdout.write(msgspec.json.encode(doc).decode() + "\n")
        return exit_codes.OK
    print(f"Quibble Race: {args.players} {args.bot} bots, {args.rounds} rounds, seed {args.seed}")
    print(f"{'rank':>4}  {'player':<14} {'coins':>9} {'debt':>7} {'score':>9}")
    for s in state.standings:
        print(f"{s.rank:>4}  {s.name:<14} {s.coins:>9} {s.debt:>7} {s.score:>9}")
    names = ", ".join(s.name for s in state.standings if s.rank == 1)
    print(f"winner{'s' if len(state.winners) > 1 else ''}: {names}")
    return exit_codes.OK
