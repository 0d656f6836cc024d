"""`quibble turn config` prints a safe coturn configuration; `quibble turn serve` runs it."""

from __future__ import annotations

import argparse
import errno
import os
import signal
import socket
import sys
import threading
from types import FrameType
from typing import TextIO

from peer import exit_codes
from turn.config import ConfigError
from turn.coturn import INSTALL_HINT, CoturnOptions, CoturnProcess, find_turnserver, render_config
from turn.credentials import generate_secret

READY_TIMEOUT_S = 15.0

EPILOG = """examples:
  quibble turn config > /etc/turnserver.conf        # a new secret is printed on stderr
  quibble turn config --secret "$QUIBBLE_TURN_SECRET" --realm games.example.org \\
      --external-ip 203.0.113.7 --cert fullchain.pem --pkey privkey.pem --tls-port 443
  quibble turn serve --listen 192.168.1.10 --allow-lan 192.168.1.0/24
  quibble turn serve --listen 203.0.113.7 --listen 203.0.113.8 --rfc5780   # NAT discovery
  # then, on the host:  quibble host --turn 'turn:192.168.1.10:3478?transport=udp' \\
  #                         --turn 'turn:192.168.1.10:3478?transport=tcp' --turn-secret S
  # players on networks that block UDP get through TURN over TLS on port 443:
  #   --turn 'turns:turn.example.org:443?transport=tcp'

exit status: 0 ok (serve: stopped on Ctrl-C/SIGTERM), 1 turnserver missing or failed,
  2 bad arguments
"""


def register(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
) -> argparse.ArgumentParser:
    """Add `quibble turn` with its `config` and `serve` subcommands."""
    parser = subparsers.add_parser(
        "turn",
        help="generate a safe coturn configuration, or run coturn (TURN relay)",
        description=(
            "A TURN relay carries a player's traffic when no direct path exists (symmetric or\n"
            "carrier-grade NAT, UDP blocked). These commands configure Debian's coturn with\n"
            "expiring credentials, denied private/loopback/metadata peer ranges and quotas."
        ),
        epilog=EPILOG,
    )
    actions = parser.add_subparsers(dest="turn_command", metavar="ACTION")
    config = actions.add_parser(
        "config",
        help="print a coturn configuration with safe defaults",
        description="Print a coturn configuration (turnserver.conf) with safe defaults.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_coturn_arguments(config)
    config.add_argument(
        "--output", "-o", metavar="PATH",
        help="write the configuration here (mode 0600, it holds the secret) instead of stdout",
    )
    serve = actions.add_parser(
        "serve",
        help="run coturn's turnserver with that configuration",
        description=(
            "Run Debian's turnserver with a generated configuration, show its log, and stop\n"
            "it cleanly on Ctrl-C or SIGTERM."
        ),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_coturn_arguments(serve)
    return parser


def _add_coturn_arguments(parser: argparse.ArgumentParser) -> None:
    d = CoturnOptions(secret="")
    parser.add_argument(
        "--secret", metavar="S",
        help="shared secret for expiring credentials (default: $QUIBBLE_TURN_SECRET, "
        "else a new one, printed once on stderr)",
    )
    parser.add_argument("--realm", default=d.realm, help=f"TURN realm (default {d.realm})")
    parser.add_argument(
        "--listen", metavar="IP", action="append", default=[],
        help="listening address (repeatable; default every address)",
    )
    parser.add_argument(
        "--relay-ip", metavar="IP", action="append", default=[],
        help="address relayed traffic leaves from (repeatable)",
    )
    parser.add_argument(
        "--external-ip", metavar="IP", help="public address when the server is behind 1:1 NAT"
    )
    parser.add_argument("--port", type=int, default=d.port, help=f"STUN/TURN port ({d.port})")
    parser.add_argument(
        "--tls-port", type=int, default=d.tls_port,
        help=f"TURN over TLS port with --cert/--pkey ({d.tls_port}; 443 passes most firewalls)",
    )
    parser.add_argument("--cert", metavar="PATH", help="TLS certificate chain (PEM)")
    parser.add_argument("--pkey", metavar="PATH", help="TLS private key (PEM)")
    parser.add_argument("--min-port", type=int, default=d.min_port, help="relay port range start")
    parser.add_argument("--max-port", type=int, default=d.max_port, help="relay port range end")
    parser.add_argument(
        "--allow-lan", metavar="CIDR", action="append", default=[],
        help="let the relay reach this private range (e.g. 192.168.1.0/24); denied otherwise",
    )
    parser.add_argument(
        "--user-quota", type=int, default=d.user_quota,
        help=f"concurrent allocations per client ({d.user_quota})",
    )
    parser.add_argument(
        "--total-quota", type=int, default=d.total_quota,
        help=f"concurrent allocations in all ({d.total_quota})",
    )
    parser.add_argument(
        "--max-bps", type=int, default=d.max_bps,
        help=f"bytes/s per session ({d.max_bps})",
    )
    parser.add_argument(
        "--rfc5780", action="store_true",
        help="answer RFC 5780 NAT-discovery requests (needs two --listen addresses), so "
        "`quibble doctor` can classify NAT mapping and filtering; off by default (bigger "
        "STUN answers)",
    )
    parser.add_argument(
        "--bps-capacity", type=int, default=d.bps_capacity,
        help="bytes/s for the whole server (default: no cap beyond the quotas); coturn "
        "reserves --max-bps of it per session, so at most capacity/max-bps sessions run",
    )


def _options(args: argparse.Namespace, secret: str) -> CoturnOptions:
    return CoturnOptions(
        secret=secret,
        realm=args.realm,
        listening_ips=tuple(args.listen),
        relay_ips=tuple(args.relay_ip),
        external_ip=args.external_ip,
        port=args.port,
        tls_port=args.tls_port,
        cert=args.cert,
        pkey=args.pkey,
        min_port=args.min_port,
        max_port=args.max_port,
        allow_lan=tuple(args.allow_lan),
        user_quota=args.user_quota,
        total_quota=args.total_quota,
        max_bps=args.max_bps,
        bps_capacity=args.bps_capacity,
        rfc5780=args.rfc5780,
    )


def _resolve_secret(args: argparse.Namespace, err: TextIO) -> str:
    secret = args.secret or os.environ.get("QUIBBLE_TURN_SECRET")
    if secret:
        return str(secret)
    secret = generate_secret()
    # Printed once, on stderr, so stdout stays a clean configuration file.
    print(
        "Generated a new TURN secret (shown once; give it to `quibble host/signal` as "
        f"--turn-secret or QUIBBLE_TURN_SECRET):\n  {secret}",
        file=err,
    )
    return secret


def _client_flags(options: CoturnOptions, secret_given: bool) -> str:
    """The line telling the operator which flags point clients at this server."""
    host = options.external_ip or (options.listening_ips[0] if options.listening_ips else "HOST")
    # Quoted: an unquoted "?" is a shell glob.
    flags = (
        f"--turn 'turn:{host}:{options.port}?transport=udp' "
        f"--turn 'turn:{host}:{options.port}?transport=tcp'"
    )
    if options.cert:
        flags += f" --turn 'turns:{host}:{options.tls_port}?transport=tcp'"
    secret = "$QUIBBLE_TURN_SECRET" if secret_given else "SECRET"
    return f"Clients use: {flags} --turn-secret {secret}"


def run(args: argparse.Namespace) -> int:
    """Run `quibble turn config` or `quibble turn serve`."""
    if args.turn_command is None:
        print("usage: quibble turn {config,serve} [...]; see quibble turn --help", file=sys.stderr)
        return exit_codes.USAGE
    secret_given = bool(args.secret or os.environ.get("QUIBBLE_TURN_SECRET"))
    try:
        # Validate before generating a secret, so a typo does not burn a printed secret.
        render_config(_options(args, "x" * 32))
        options = _options(args, _resolve_secret(args, sys.stderr))
        text = render_config(options)
    except ConfigError as exc:
        print(f"quibble turn: {exc}", file=sys.stderr)
        return exit_codes.USAGE
    if args.turn_command == "config":
        return _write_config(text, args.output, options, secret_given)
    return serve(options, secret_given)


def _write_config(
    text: str, output: str | None, options: CoturnOptions, secret_given: bool
) -> int:
    if output is None:
        sys.stdout.write(text)
    else:
        try:
            fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(text)
        except OSError as exc:
            print(f"quibble turn config: cannot write {output}: {exc.strerror}", file=sys.stderr)
            return exit_codes.FAILURE
        print(f"wrote {output}", file=sys.stderr)
    print(_client_flags(options, secret_given), file=sys.stderr)
    return exit_codes.OK


def serve(options: CoturnOptions, secret_given: bool = True) -> int:
    """Run turnserver in the foreground, echoing its log, until it exits or we are stopped."""
    if find_turnserver() is None:
        print(f"quibble turn serve: {INSTALL_HINT}", file=sys.stderr)
        return exit_codes.FAILURE
    problem = preflight(options)
    if problem is not None:
        code, message = problem
        print(f"quibble turn serve: {message}", file=sys.stderr)
        return code
    coturn = CoturnProcess(options, pipe_log=True)
    asked_to_stop = threading.Event()
    finished = threading.Event()

    def stop(signum: int, _frame: FrameType | None) -> None:
        asked_to_stop.set()
        if coturn.process.poll() is None:
            coturn.process.terminate()

    previous = {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM)}
    listen = ", ".join(options.listening_ips) or "every address"
    print(
        f"quibble turn serve: starting turnserver (pid {coturn.process.pid}) on {listen} "
        f"port {options.port}; Ctrl-C stops it",
        file=sys.stderr,
    )
    watcher = threading.Thread(
        target=_announce_ready, args=(coturn, finished, secret_given), name="turn-ready",
        daemon=True,
    )
    watcher.start()
    try:
        assert coturn.process.stdout is not None
        for line in coturn.process.stdout:
            sys.stdout.write("turnserver: " + line)
            sys.stdout.flush()
    finally:
        finished.set()
        code = coturn.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if asked_to_stop.is_set():
        print("quibble turn serve: stopped", file=sys.stderr)
        return exit_codes.OK
    print(f"quibble turn serve: turnserver exited with status {code}", file=sys.stderr)
    return exit_codes.FAILURE


def _announce_ready(
    coturn: CoturnProcess, finished: threading.Event, secret_given: bool
) -> None:
    """Say when turnserver accepts connections (and how clients reach it), or that it does not.

    coturn logs a lot and retries a failed bind forever, so this line is the status to read.
    """
    try:
        coturn.wait_ready(timeout=READY_TIMEOUT_S)
    except (TimeoutError, RuntimeError):
        if not finished.is_set():
            print(
                f"quibble turn serve: turnserver is not accepting connections after "
                f"{READY_TIMEOUT_S:g} s; its log above says why",
                file=sys.stderr, flush=True,
            )
        return
    if not finished.is_set():
        # One write: the process may end right after it (this thread is a daemon).
        print(
            "quibble turn serve: ready.\n" + _client_flags(coturn.options, secret_given),
            file=sys.stderr, flush=True,
        )


def preflight(options: CoturnOptions) -> tuple[int, str] | None:
    """(exit code, message) when turnserver could not listen as configured, else None.

    coturn itself logs a failed bind and retries it forever, which reads like a hang; a
    bind test here turns the common mistakes into one clear message before it starts.
    """
    ports = [options.port] + ([options.tls_port] if options.cert else [])
    for ip in options.listening_ips or ("0.0.0.0",):
        family = socket.AF_INET6 if ":" in ip else socket.AF_INET
        for port in ports:
            for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
                with socket.socket(family, kind) as sock:
                    if kind == socket.SOCK_STREAM:
                        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                    try:
                        sock.bind((ip, port))
                    except OSError as exc:
                        return _bind_problem(ip, port, kind, exc)
    return None


def _bind_problem(ip: str, port: int, kind: int, exc: OSError) -> tuple[int, str]:
    proto = "UDP" if kind == socket.SOCK_DGRAM else "TCP"
    if exc.errno == errno.EADDRNOTAVAIL:
        return exit_codes.USAGE, f"--listen {ip}: not an address of this machine"
    if exc.errno == errno.EADDRINUSE:
        return exit_codes.FAILURE, (
            f"{proto} port {port} on {ip} is already in use (another turnserver? "
            "`ss -lunpt` shows who has it); choose another with --port/--tls-port"
        )
    if exc.errno == errno.EACCES:
        return exit_codes.FAILURE, (
            f"{proto} port {port} needs root (or CAP_NET_BIND_SERVICE) to listen on"
        )
    return exit_codes.FAILURE, f"cannot listen on {ip} {proto} port {port}: {exc.strerror}"
