"""`quibble host`: host a game from this laptop (embedded signaling, journal, status file)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

EXAMPLES = """\
examples:
  quibble host                                  # LAN game on 0.0.0.0:8080; prints code + QR
  quibble host --rounds 3 --phase-seconds 20    # a quick game
  quibble host --autostart 6 --bots 2           # start at 6 players, 2 of them bots
  quibble host --journal game.sqlite --status status.json
  quibble host --resume game.sqlite             # after a crash: same room, same game
  quibble host --signal https://signal.example.org --turn turn:turn.example.org:3478 \\
      --turn-secret S                           # players outside the LAN
"""


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _seconds(text: str) -> int:
    value = int(text)
    if not 1 <= value <= 3600:
        raise argparse.ArgumentTypeError(f"must be 1..3600 seconds, not {value}")
    return value


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add `quibble host` to the CLI."""
    from peer.ice_choice import add_aiortc_choice_arguments
    from turn.config import add_ice_arguments

    parser: argparse.ArgumentParser = subparsers.add_parser(
        "host",
        help="host a game: room code, join URLs, QR code",
        description=(
            "Host a Quibble Race game. Starts the signaling service in this process (unless "
            "--signal names one), prints the room code, a join URL per LAN address and a QR "
            "code, and runs the game. Press Enter (or a player presses Start) to begin."
        ),
        epilog=EXAMPLES,
    )
    net = parser.add_argument_group("network")
    net.add_argument("--bind", default="0.0.0.0", help="address for the embedded signaling")
    net.add_argument("--port", type=int, default=8080, help="its port (0 = any free port)")
    net.add_argument("--signal", metavar="URL", help="use this signaling server instead")
    game = parser.add_argument_group("game")
    game.add_argument("--rounds", type=_positive_int, default=5, help="rounds (default 5)")
    game.add_argument("--seed", type=int, help="RNG seed (default: random)")
    game.add_argument(
        "--phase-seconds", type=_seconds, metavar="S", help="one duration for every timed phase"
    )
    game.add_argument("--max-players", type=_positive_int, default=100, help="default 100")
    game.add_argument(
        "--min-players", type=_positive_int, default=3, help="players needed to start (3)"
    )
    game.add_argument("--autostart", type=_positive_int, metavar="N",
                      help="start once N players are in")
    game.add_argument("--bots", type=int, default=0, metavar="K",
                      help="fill K seats with bots running in this process")
    state = parser.add_argument_group("state")
    state.add_argument("--journal", metavar="PATH", help="SQLite journal (default: a new file "
                       "under ~/.local/state/quibble)")
    state.add_argument("--resume", metavar="PATH", help="resume the game in this journal")
    state.add_argument("--status", metavar="PATH", help="keep a JSON status file here")
    state.add_argument("--no-qr", action="store_true", help="do not print the QR code")
    add_ice_arguments(parser)
    add_aiortc_choice_arguments(parser)
    return parser


def run(args: argparse.Namespace) -> int:
    """Run `quibble host`; returns the exit code."""
    import asyncio
    import logging

    from peer import exit_codes
    from peer.host_runner import HostSetupError, run_host
    from turn.config import ConfigError, ice_settings_from_args

    try:
        ice = ice_settings_from_args(args)
    except ConfigError as exc:
        print(f"quibble host: {exc}", file=sys.stderr)
        return exit_codes.USAGE
    if args.resume and args.journal:
        print("quibble host: give --resume PATH or --journal PATH, not both", file=sys.stderr)
        return exit_codes.USAGE
    if args.bots < 0 or args.bots > args.max_players:
        print("quibble host: --bots must be 0..--max-players", file=sys.stderr)
        return exit_codes.USAGE
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("aioice").setLevel(logging.WARNING)
    logging.getLogger("aiortc").setLevel(logging.WARNING)
    try:
        return asyncio.run(run_host(args, ice))
    except HostSetupError as exc:
        print(f"quibble host: {exc}", file=sys.stderr)
        return exc.exit_code
