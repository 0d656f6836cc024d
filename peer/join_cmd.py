"""`quibble join`: play from a terminal, or let a bot play (`--bot`)."""

from __future__ import annotations

import argparse
import os
import re
import sys
from typing import Any

EXAMPLES = """\
examples:
  quibble join ABCD --name Ana                           # host on this machine (port 8080)
  quibble join http://192.168.1.20:8080/r/ABCD --name Ana  # the URL the host printed
  quibble join ABCD --name Bot1 --bot heuristic --signal http://192.168.1.20:8080 --json
  quibble join ABCD --name Ana --relay-only --turn turn:turn.example.org:3478 --turn-user u \\
      --turn-pass p                                      # force the TURN relay path

exit codes: 0 game finished, 3 room not found, 4 room full, 5 connection failed,
8 dropped by the host, 9 host gone
"""

_JOIN_URL = re.compile(r"^(?P<base>https?://[^/]+)/r/(?P<code>[A-Za-z]{4,8})/?$")


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add `quibble join` to the CLI."""
    from peer.ice_choice import add_aiortc_choice_arguments
    from turn.config import add_ice_arguments

    parser: argparse.ArgumentParser = subparsers.add_parser(
        "join",
        help="join a game by room code",
        description="Join a Quibble Race game: by room code, or by the join URL the host shows.",
        epilog=EXAMPLES,
    )
    parser.add_argument("code", metavar="CODE", help="room code (or the host's join URL)")
    parser.add_argument("--name", required=True, help="your display name (1-24 characters)")
    parser.add_argument(
        "--signal", metavar="URL",
        help="signaling server (default: $QUIBBLE_SIGNAL or http://127.0.0.1:8080)",
    )
    parser.add_argument("--bot", choices=("random", "heuristic"), help="let a bot play")
    parser.add_argument("--seed", type=int, default=0, help="bot RNG seed")
    parser.add_argument(
        "--bot-delay", type=float, default=0.0, metavar="S",
        help="seconds a bot waits before acting in each phase (default 0)",
    )
    parser.add_argument("--json", action="store_true", help="last line: one JSON result document")
    parser.add_argument(
        "--ice-timeout", type=float, default=6.0, metavar="S",
        help="seconds to wait for WebRTC before using the WebSocket relay (default 6)",
    )
    parser.add_argument(
        "--ws-relay", action="store_true", help="skip WebRTC: play over the WebSocket relay"
    )
    parser.add_argument(
        "--seat-file", metavar="PATH",
        help="keep the seat tokens here, to get the seat back after a restart",
    )
    add_ice_arguments(parser)
    add_aiortc_choice_arguments(parser)
    return parser


def parse_target(code: str, signal: str | None) -> tuple[str, str]:
    """(signal URL, room code) from CODE or a join URL, and --signal."""
    match = _JOIN_URL.match(code)
    if match:
        return signal or match["base"], match["code"].upper()
    if not re.fullmatch(r"[A-Za-z]{4,8}", code):
        raise ValueError(f"{code!r} is neither a room code (4 letters) nor a join URL")
    default = os.environ.get("QUIBBLE_SIGNAL") or "http://127.0.0.1:8080"
    return signal or default, code.upper()


def run(args: argparse.Namespace) -> int:
    """Run `quibble join`; returns the exit code."""
    import asyncio
    import logging

    from peer import exit_codes
    from peer.join_runner import run_join
    from turn.config import ConfigError, ice_settings_from_args

    try:
        signal_url, code = parse_target(args.code, args.signal)
        # --relay-only alone is fine: the TURN servers may come from the signaling service.
        ice = ice_settings_from_args(args, turn_may_come_from_signaling=True)
    except (ValueError, ConfigError) as exc:
        print(f"quibble join: {exc}", file=sys.stderr)
        return exit_codes.USAGE
    if not 1 <= len(args.name.strip()) <= 24:
        print("quibble join: --name must be 1-24 characters", file=sys.stderr)
        return exit_codes.USAGE
    if not 0 <= args.bot_delay <= 600:
        print("quibble join: --bot-delay must be 0..600 seconds", file=sys.stderr)
        return exit_codes.USAGE
    if not 0.5 <= args.ice_timeout <= 120:
        print("quibble join: --ice-timeout must be 0.5..120 seconds", file=sys.stderr)
        return exit_codes.USAGE
    logging.basicConfig(
        level=logging.INFO if args.bot else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("aioice").setLevel(logging.WARNING)
    logging.getLogger("aiortc").setLevel(logging.WARNING)
    return asyncio.run(run_join(args, signal_url, code, ice))
