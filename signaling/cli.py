"""`quibble signal`: run the signaling service on its own (for players outside a LAN)."""

from __future__ import annotations

import argparse
from typing import Any

EXAMPLES = """\
examples:
  quibble signal                               # 0.0.0.0:8080, no STUN/TURN (a LAN)
  quibble signal --port 9000 --config quibble.toml
  quibble signal --turn turn:turn.example.org:3478 --turn-secret S --stun stun:turn.example.org
  quibble signal --bind 127.0.0.1 --port 0 --json   # prints {"url": ..., "port": ...}
  quibble signal --port 8081 --redis redis://10.0.0.5:6379/0   # one node of several
  quibble signal --port 8082 --redis redis://:PASSWORD@10.0.0.5:6379/0

With --redis, every node given the same Redis serves the same rooms: put them behind any
load balancer (no sticky sessions needed); when a node dies its clients reconnect to another
one with their tokens. GET /healthz answers 503 {"status": "degraded"} while Redis is down.

The --config file may hold a [signaling] table (limits: max_rooms, max_players_per_room,
max_frame_bytes, create_rate, join_rate, host_grace, idle_timeout, allowed_origins, ...;
see signaling/settings.py) and an [ice] table (see `quibble turn`).

exit codes: 0 stopped by a signal, 1 cannot listen, 2 bad arguments or config,
5 Redis (--redis) unreachable at start
"""


def _port(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be 0..65535, not {value}")
    return value


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add `quibble signal` to the CLI."""
    from turn.config import add_ice_arguments

    parser: argparse.ArgumentParser = subparsers.add_parser(
        "signal",
        help="run the signaling service on its own",
        description=(
            "Run the signaling service: rooms by code, WebRTC offer/answer/ICE relay, ICE "
            "server lists with expiring TURN credentials, the browser client's pages, and the "
            "last-resort WebSocket relay. `quibble host` embeds the same service."
        ),
        epilog=EXAMPLES,
    )
    parser.add_argument("--bind", metavar="ADDR", help="address to listen on (default 0.0.0.0)")
    parser.add_argument("--port", type=_port, metavar="N", help="port (default 8080; 0 = any)")
    parser.add_argument(
        "--json", action="store_true", help="print one JSON line with the URL once listening"
    )
    parser.add_argument("--verbose", "-v", action="store_true", help="log every refusal")
    parser.add_argument(
        "--redis",
        metavar="URL",
        help="share rooms with other nodes through this Redis (redis://host:port/db); "
        "default: this process alone, in memory",
    )
    add_ice_arguments(parser)  # also adds --config FILE
    return parser


def run(args: argparse.Namespace) -> int:
    """Run `quibble signal` until interrupted; returns the exit code."""
    import asyncio
    import importlib.util
    import json
    import logging
    import sys

    from peer import exit_codes
    from signaling.backend import BackendUnavailable
    from signaling.settings import (
        SettingsError,
        SignalingSettings,
        load_settings,
        settings_from_mapping,
    )
    from turn.config import ConfigError, ice_settings_from_args

    try:
        settings = load_settings(args.config) if args.config else SignalingSettings()
        if args.redis:
            if not args.redis.startswith(("redis://", "rediss://", "unix://")):
                raise SettingsError(f"--redis must be a redis:// URL, not {args.redis!r}")
            settings = settings_from_mapping({"redis_url": args.redis}, settings)
        if settings.redis_url is not None and importlib.util.find_spec("redis") is None:
            raise SettingsError(
                "--redis needs the redis package: pip install 'quibble-race[redis]'"
            )
        ice = ice_settings_from_args(args)
    except (SettingsError, ConfigError) as exc:
        print(f"quibble signal: {exc}", file=sys.stderr)
        return exit_codes.USAGE
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if args.verbose:
        logging.getLogger("aiohttp").setLevel(logging.INFO)

    async def serve() -> int:
        import signal

        from signaling.server import SignalingServer

        server = SignalingServer(
            settings, ice_provider=ice.provider(), host=args.bind, port=args.port
        )
        try:
            await server.start()
        except BackendUnavailable as exc:
            print(f"quibble signal: {exc}", file=sys.stderr)
            print(
                "quibble signal: start Redis (or fix --redis URL), or run without --redis "
                "for a single in-memory node",
                file=sys.stderr,
            )
            return exit_codes.CONNECTION_FAILED
        except OSError as exc:
            print(
                f"quibble signal: cannot listen on {server.host}:{args.port or settings.port}: "
                f"{exc.strerror or exc}",
                file=sys.stderr,
            )
            return exit_codes.FAILURE
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        backend = server.service.backend
        if args.json:
            print(
                json.dumps(
                    {
                        "url": server.url,
                        "ws_url": server.ws_url,
                        "port": server.port,
                        "backend": backend.name,
                        "node": backend.node_id,
                    }
                )
            )
        else:
            print(f"signaling on {server.url} (WebSocket {server.ws_url})")
            if backend.name == "redis":
                print(f"rooms shared through Redis; this is node {backend.node_id}")
            print(f"ICE: {ice.describe()}")
        sys.stdout.flush()
        try:
            await stop.wait()
        finally:
            await server.stop()
        return exit_codes.OK

    return asyncio.run(serve())
