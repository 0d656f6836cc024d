"""Everything `quibble host` runs: signaling (embedded or remote), journal, session, bots.

Kept apart from peer/host_cmd.py so the CLI module stays light to import.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import secrets
import sys
from pathlib import Path

from game import GameConfig, HeuristicBot, PhaseSeconds, RandomBot, new_game
from peer import exit_codes
from peer.host import HostOptions, HostSession
from peer.host_signaling import HostSignaling
from peer.host_status import StatusWriter, host_status
from peer.journal import Journal, JournalError
from peer.player import Player, PlayerOptions
from peer.signal_client import SignalingError
from peer.transport import memory_pair
from signaling.server import SignalingServer
from signaling.settings import SignalingSettings
from turn.config import IceSettings

log = logging.getLogger(__name__)


class HostSetupError(Exception):
    """The host could not start; the message says why, ``exit_code`` what to exit with."""

    def __init__(self, message: str, exit_code: int = exit_codes.FAILURE) -> None:
        super().__init__(message)
        self.exit_code = exit_code


async def start_embedded_signaling(
    bind: str, port: int, ice: IceSettings, max_players: int
) -> SignalingServer:
    """Serve signaling (and the browser client) from this process on bind:port."""
    settings = SignalingSettings(bind=bind, port=port, max_players_per_room=max(max_players, 1))
    server = SignalingServer(settings, ice_provider=ice.provider())
    try:
        await server.start()
    except OSError as exc:
        raise HostSetupError(f"cannot listen on {bind}:{port}: {exc.strerror or exc}") from None
    return server


def lan_addresses(bind: str) -> list[str]:
    """IPv4 addresses players on the LAN can reach this host at (loopback last resort)."""
    if bind not in ("0.0.0.0", "", "::"):
        return [bind]
    import ifaddr

    found: list[str] = []
    for adapter in ifaddr.get_adapters():
        for ip in adapter.ips:
            if isinstance(ip.ip, str) and not ip.ip.startswith("127.") and ip.ip not in found:
                found.append(ip.ip)
    return found or ["127.0.0.1"]


def default_journal_path(code: str) -> Path:
    """Where a journal goes when --journal is not given."""
    base = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
    folder = base / "quibble" / "games"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{code}.sqlite"


def game_config(args: argparse.Namespace) -> GameConfig:
    """The GameConfig the flags describe."""
    seed = args.seed if args.seed is not None else secrets.randbits(63)
    phases = PhaseSeconds()
    if args.phase_seconds:
        s = args.phase_seconds
        phases = PhaseSeconds(
            betting=s, item=s, discussion=s, reveal=s, race=s, payout=s, purchase=s
        )
    return GameConfig(
        seed=seed,
        rounds=args.rounds,
        phase_seconds=phases,
        max_players=args.max_players,
        min_players=min(args.min_players, args.max_players),
    )


def print_banner(code: str, join_urls: list[str], signal_url: str, journal: Path, qr: bool) -> None:
    """Room code, join URLs, the QR code and how to resume."""
    out = sys.stdout
    print(f"Quibble Race room {code}", file=out)
    print("Join at:", file=out)
    for url in join_urls:
        print(f"  {url}", file=out)
    print(f"or: quibble join {code} --name NAME --signal {signal_url}", file=out)
    if qr and join_urls:
        import qrcode  # type: ignore[import-untyped]

        code_img = qrcode.QRCode(border=1)
        code_img.add_data(join_urls[0])
        code_img.print_ascii(out=out, invert=True)
    print(f"Journal: {journal} (after a crash: quibble host --resume {journal})", file=out)
    print("Press Enter to start once everyone is in.", file=out, flush=True)


def print_standings(session: HostSession) -> None:
    """The final table."""
    state = session.state
    print("Final standings:")
    for s in state.standings:
        print(f"  {s.rank}. {s.name} (seat {s.seat}): {s.score} ({s.coins} coins - {s.debt} debt)")
    names = [s.name for s in state.standings if s.seat in state.winners]
    print(f"Winners: {', '.join(names)}", flush=True)


async def run_host(args: argparse.Namespace, ice: IceSettings) -> int:
    """The whole life of a hosted game; returns the exit code."""
    embedded: SignalingServer | None = None
    if args.signal:
        signal_url = args.signal.rstrip("/")
        join_base = [signal_url]
    else:
        embedded = await start_embedded_signaling(args.bind, args.port, ice, args.max_players)
        local = "127.0.0.1" if args.bind in ("0.0.0.0", "") else args.bind
        signal_url = f"http://{local}:{embedded.port}"
        join_base = [f"http://{a}:{embedded.port}" for a in lan_addresses(args.bind)]
    try:
        return await _host_game(args, ice, signal_url, join_base)
    finally:
        if embedded is not None:
            await embedded.stop()


async def _host_game(
    args: argparse.Namespace, ice: IceSettings, signal_url: str, join_base: list[str]
) -> int:
    seats = []
    if args.resume:
        try:
            journal = Journal.open(Path(args.resume))
            config, state, seats = journal.config, journal.replay(), journal.seats()
        except JournalError as exc:
            raise HostSetupError(str(exc), exit_codes.USAGE) from None
        code, host_token = journal.room, journal.host_token
        log.info("[%s] resumed %d actions from %s", code, journal.action_count(), args.resume)
    else:
        config = game_config(args)
        state = new_game(config)
        code, host_token = None, None
    options = HostOptions(max_players=config.max_players, autostart=args.autostart)
    signaling = HostSignaling(
        None, signal_url, ice, code=code, host_token=host_token, max_players=config.max_players,
        turn_prefer=args.turn_via, udp_blocked=args.udp_blocked,
    )
    try:
        created = await signaling.open()
    except SignalingError as exc:
        raise HostSetupError(f"signaling refused the room: {exc}", exit_codes.FAILURE) from None
    except (TimeoutError, OSError) as exc:
        raise HostSetupError(f"signaling unreachable: {exc!r}", exit_codes.FAILURE) from None
    if not args.resume:
        path = Path(args.journal) if args.journal else default_journal_path(created.code)
        try:
            journal = Journal.create(path, config, created.code, created.host_token)
        except JournalError as exc:
            await signaling.close()
            raise HostSetupError(str(exc), exit_codes.USAGE) from None
    session = HostSession(state, created.code, journal=journal, seats=seats, options=options)
    signaling.session = session
    join_urls = [f"{base}/r/{created.code}" for base in join_base]
    print_banner(created.code, join_urls, signal_url, journal.path, not args.no_qr)
    tasks: list[asyncio.Task[None]] = []
    loop = asyncio.get_running_loop()
    session.start()
    tasks.append(loop.create_task(signaling.run()))
    if not ice.is_empty:  # a LAN game (no servers) has nothing to check
        tasks.append(loop.create_task(_print_network_verdict(ice)))
    if args.status:
        writer = StatusWriter(
            Path(args.status),
            lambda: host_status(session, join_urls, signal_url, signaling.connected.is_set()),
        )
        session.watch(writer.changed)
        tasks.append(loop.create_task(writer.run()))
    for i in range(args.bots):
        tasks.append(loop.create_task(_in_process_bot(session, i, config.seed)))
    _watch_enter(session)
    await session.over.wait()
    print_standings(session)
    await _let_players_leave(session)
    await session.close("game over")
    if args.status:
        writer.write()
    for task in tasks:
        task.cancel()
    await signaling.close()
    journal.close()
    return exit_codes.OK


async def _print_network_verdict(ice: IceSettings) -> None:
    """`quibble doctor`'s quick verdict on the configured STUN/TURN servers, in one line.

    Runs beside the game (players can join meanwhile) and only ever prints.
    """
    from turn.doctor import quick_verdict

    try:
        verdict = await quick_verdict(ice)
    except Exception as exc:  # a diagnostic must never take the game down
        log.warning("network check failed: %r", exc)
        return
    advice = f" ({verdict.remediation[0]})" if verdict.remediation and not verdict.ok else ""
    label = "ok" if verdict.ok else "WARNING"
    print(f"Network check: {label}: {verdict.summary}{advice}", flush=True)


async def _in_process_bot(session: HostSession, index: int, seed: int) -> None:
    host_end, bot_end = memory_pair()
    bot = (HeuristicBot if index % 2 == 0 else RandomBot)((seed + index) % 2**63)
    name = f"Bot {index + 1}"
    player = Player(PlayerOptions(signal_url="", code=session.room, name=name), bot=bot)
    serve = asyncio.get_running_loop().create_task(session.serve(host_end, f"{name} (in-process)"))
    await player.play_over(bot_end)
    await bot_end.close("game over")
    await serve


def _watch_enter(session: HostSession) -> None:
    """Enter in the host's terminal starts the game (only when stdin is a terminal)."""
    if not sys.stdin.isatty():
        return
    loop = asyncio.get_running_loop()

    def on_line() -> None:
        line = sys.stdin.readline()
        if not line:
            loop.remove_reader(sys.stdin.fileno())
            return
        if session.state.phase == "lobby":
            if session.start_game():
                print("Game started.", flush=True)
            else:
                print(
                    f"Cannot start yet: {len(session.state.players)} players, "
                    f"{session.state.config.min_players} needed.",
                    flush=True,
                )

    loop.add_reader(sys.stdin.fileno(), on_line)


async def _let_players_leave(session: HostSession, within_s: float = 3.0) -> None:
    """Give players a moment to receive the final view and say bye."""
    try:
        async with asyncio.timeout(within_s):
            await session.wait_until(
                lambda: all(link.transport is None for link in session.links.values())
            )
    except TimeoutError:
        pass
