"""The `quibble` command: one entry point, one module per subcommand.

Each subcommand module has ``register(subparsers)`` and ``run(args) -> int``; its top-level
imports stay light so ``quibble --help`` starts fast, and it imports aiortc/aiohttp in ``run``.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from importlib import metadata
from types import ModuleType

from peer import exit_codes

# (subcommand, module). A module that does not exist yet is simply not offered.
SUBCOMMANDS: tuple[tuple[str, str], ...] = (
    ("host", "peer.host_cmd"),
    ("join", "peer.join_cmd"),
    ("simulate", "peer.simulate_cmd"),
    ("signal", "signaling.cli"),
    ("turn", "turn.cli"),
    ("doctor", "turn.doctor_cmd"),
)


class QuibbleArgumentParser(argparse.ArgumentParser):
    """An ArgumentParser that keeps its examples readable in --help."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]


def _version() -> str:
    try:
        return metadata.version("quibble-race")
    except metadata.PackageNotFoundError:
        return "0+unknown"


def available_subcommands() -> list[tuple[str, ModuleType]]:
    """The subcommands whose modules exist in this installation, in menu order."""
    found = []
    for name, module_name in SUBCOMMANDS:
        try:
            found.append((name, importlib.import_module(module_name)))
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
    return found


def build_parser() -> argparse.ArgumentParser:
    """The whole command-line interface, every available subcommand registered."""
    parser = QuibbleArgumentParser(
        prog="quibble",
        description="Quibble Race: host a party game for a crowd from one laptop, over WebRTC.",
        epilog=(
            "examples:\n"
            "  quibble host                      # a LAN game; prints the room code and a QR code\n"
            "  quibble join ABCD --name Ana      # join from a terminal\n"
            "  quibble simulate --players 12     # a whole game with bots, headless\n"
            "  quibble doctor                    # why can't a player connect?\n"
        ),
    )
    parser.add_argument("--version", action="version", version=f"quibble {_version()}")
    sub = parser.add_subparsers(
        dest="command", metavar="COMMAND", parser_class=QuibbleArgumentParser
    )
    for _name, module in available_subcommands():
        sp = module.register(sub)
        sp.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, run the subcommand and return its exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    run = getattr(args, "_run", None)
    if run is None:
        parser.print_help(sys.stderr)
        return exit_codes.USAGE
    try:
        return int(run(args))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return exit_codes.INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
