"""Real `quibble host` / `quibble join` processes for the peer network tests."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

HOST_ADDR = "10.231.0.1"
_SIGNAL_LINE = re.compile(
    r"^or: quibble join (?P<code>[A-Z]{4,8}) --name NAME --signal (?P<url>\S+)"
)


def quibble_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _log_file(path: Path) -> Any:
    """An append-mode file for a child's stderr (the child keeps it open)."""
    return path.open("ab")


async def terminate(proc: asyncio.subprocess.Process, within_s: float = 10.0) -> None:
    """SIGTERM ``proc`` and reap it; SIGKILL if it has not exited within ``within_s``."""
    if proc.returncode is None:
        proc.terminate()
        try:
            async with asyncio.timeout(within_s):
                await proc.wait()
        except TimeoutError:
            proc.kill()
            await proc.wait()


class HostProcess:
    """A running `quibble host`, its room code, signaling URL and status file."""

    def __init__(self, proc: asyncio.subprocess.Process, status: Path) -> None:
        self.proc = proc
        self.status_path = status
        self.code = ""
        self.signal_url = ""
        self.stdout: list[str] = []

    @classmethod
    async def start(cls, tmp: Path, *args: str, within_s: float = 30.0) -> HostProcess:
        status = tmp / "status.json"
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "peer", "host", "--bind", HOST_ADDR, "--port", "0",
            "--status", str(status), "--no-qr", *args,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=_log_file(tmp / "host.log"),
            env=quibble_env(),
        )
        host = cls(proc, status)
        async with asyncio.timeout(within_s):
            while not host.code:
                line = await host._readline()
                assert line is not None, f"host exited early: {host.stdout}"
                match = _SIGNAL_LINE.match(line)
                if match:
                    host.code, host.signal_url = match["code"], match["url"]
        host._pump = asyncio.get_running_loop().create_task(host._drain())
        return host

    async def _readline(self) -> str | None:
        assert self.proc.stdout is not None
        raw = await self.proc.stdout.readline()
        if not raw:
            return None
        line = raw.decode().rstrip("\n")
        self.stdout.append(line)
        return line

    async def _drain(self) -> None:
        while await self._readline() is not None:
            pass

    def status(self) -> dict[str, Any]:
        try:
            return json.loads(self.status_path.read_text())  # type: ignore[no-any-return]
        except (FileNotFoundError, json.JSONDecodeError):
            return {}

    async def wait_status(
        self, predicate: Callable[[dict[str, Any]], bool], within_s: float = 30.0
    ) -> dict[str, Any]:
        """Poll the status file (the host rewrites it on every change) until predicate holds."""
        async with asyncio.timeout(within_s):
            while True:
                st = self.status()
                if st and predicate(st):
                    return st
                if self.proc.returncode is not None:
                    raise AssertionError(f"host exited {self.proc.returncode}: {self.stdout}")
                await asyncio.sleep(0.05)

    async def wait(self, within_s: float = 60.0) -> int:
        async with asyncio.timeout(within_s):
            code = await self.proc.wait()
        await self._pump
        return code

    def kill(self) -> None:
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGKILL)

    async def stop(self) -> None:
        await terminate(self.proc)


class JoinProcess:
    """A running `quibble join --json`."""

    def __init__(self, proc: asyncio.subprocess.Process, name: str) -> None:
        self.proc = proc
        self.name = name

    @classmethod
    async def start(
        cls, tmp: Path, code: str, signal_url: str, name: str, *args: str
    ) -> JoinProcess:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "peer", "join", code, "--name", name, "--signal", signal_url,
            "--json", *args,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=_log_file(tmp / f"join-{name}.log"),
            env=quibble_env(),
        )
        return cls(proc, name)

    async def result(self, within_s: float = 60.0) -> tuple[int, dict[str, Any], str]:
        """(exit code, the --json document, all stdout)."""
        async with asyncio.timeout(within_s):
            out, _ = await self.proc.communicate()
        text = out.decode()
        lines = [line for line in text.splitlines() if line.strip()]
        doc = json.loads(lines[-1]) if lines else {}
        assert self.proc.returncode is not None
        return self.proc.returncode, doc, text

    def send_signal(self, sig: int) -> None:
        if self.proc.returncode is None:
            self.proc.send_signal(sig)

    async def stop(self) -> None:
        if self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()


async def play_to_the_end(
    host: HostProcess, joins: list[JoinProcess], within_s: float = 90.0
) -> list[tuple[int, dict[str, Any], str]]:
    """Every join's result (see JoinProcess.result) once the game is over and the host has
    exited 0; every process is stopped either way."""
    try:
        results = await asyncio.gather(*(j.result(within_s=within_s) for j in joins))
        host_code = await host.wait(within_s=30)
        assert host_code == 0, f"host exited {host_code}"
    finally:
        for j in joins:
            await j.stop()
        await host.stop()
    return list(results)


def free_port(addr: str = HOST_ADDR) -> int:
    """A TCP port free right now on addr (our own namespace: nobody else races for it)."""
    import socket

    with socket.socket() as s:
        s.bind((addr, 0))
        return int(s.getsockname()[1])


async def start_bots(
    tmp: Path, host: HostProcess, count: int, *args: str, prefix: str = "Bot"
) -> list[JoinProcess]:
    """`count` bot players (alternating heuristic/random, seeded) joining host's room."""
    return [
        await JoinProcess.start(
            tmp, host.code, host.signal_url, f"{prefix}{i}", "--bot",
            "heuristic" if i % 2 else "random", "--seed", str(i), *args,
        )
        for i in range(count)
    ]


class ManualPlayer:
    """An in-process Player (real aiortc) that the test drives by hand."""

    def __init__(self, host: HostProcess, name: str, **options: Any) -> None:
        from peer.player import Player, PlayerOptions

        self.views: asyncio.Queue[Any] = asyncio.Queue()
        self.auto_ready = False
        self.player = Player(
            PlayerOptions(signal_url=host.signal_url, code=host.code, name=name, **options),
            on_view=self._on_view,
        )
        self.task: asyncio.Task[Any] = asyncio.get_running_loop().create_task(self.player.run())

    def _on_view(self, view: Any) -> None:
        from game.actions import Ready

        self.views.put_nowait(view)
        if self.auto_ready and not view.ready and view.phase not in ("lobby", "over"):
            self.player.act([Ready(seat=view.seat)])

    async def view_where(self, predicate: Callable[[Any], bool], within_s: float = 30.0) -> Any:
        async with asyncio.timeout(within_s):
            while True:
                view = await self.views.get()
                if predicate(view):
                    return view

    def ready_from_now_on(self) -> None:
        from game.actions import Ready

        self.auto_ready = True
        view = self.player.view
        if view is not None and not view.ready and view.phase not in ("lobby", "over"):
            self.player.act([Ready(seat=view.seat)])

    async def close(self) -> None:
        self.task.cancel()
        await self.player.close()


def iptables(*args: str) -> None:
    """Change this namespace's firewall (the suite's own namespace only)."""
    import subprocess

    subprocess.run(["iptables", *args], check=True, capture_output=True)


# ---- in-process host and players (real signaling, real aiortc) ---------------------------


def _slow_phases() -> Any:
    from game import PhaseSeconds

    s = 600
    return PhaseSeconds(betting=s, item=s, discussion=s, reveal=s, race=s, payout=s, purchase=s)


class InProcessHost:
    """HostSignaling + HostSession in the test's own loop, in a long lobby.

    Nothing moves on unless the test says so, and the host's heartbeat is slow (60 s) so
    that only what the test does can take a player away.
    """

    def __init__(self, signaling: Any, session: Any, task: asyncio.Task[None]) -> None:
        self.signaling = signaling
        self.session = session
        self.task = task

    @property
    def code(self) -> str:
        assert self.signaling.code is not None
        return str(self.signaling.code)

    @classmethod
    async def start(cls, signal_url: str, ice: Any = None) -> InProcessHost:
        from game import GameConfig, new_game
        from peer.host import HostOptions, HostSession
        from peer.host_signaling import HostSignaling
        from turn.config import IceSettings

        signaling = HostSignaling(None, signal_url, ice or IceSettings(), ice_timeout_s=10)
        created = await signaling.open()
        session = HostSession(
            new_game(GameConfig(seed=3, rounds=1, phase_seconds=_slow_phases())),
            created.code,
            options=HostOptions(dead_after_s=60.0),
        )
        signaling.session = session
        session.start()
        return cls(signaling, session, asyncio.get_running_loop().create_task(signaling.run()))

    async def stop(self) -> None:
        await self.signaling.close()
        self.task.cancel()
        await self.session.close()


class InProcessPlayer:
    """An in-process Player (real aiortc) whose connections and failure the test awaits."""

    def __init__(self, signal_url: str, code: str, name: str = "Ana", **options: Any) -> None:
        from peer.player import Player, PlayerOptions

        self.connected: asyncio.Queue[str] = asyncio.Queue()
        self.player = Player(
            PlayerOptions(signal_url=signal_url, code=code, name=name, **options),
            on_connected=self.connected.put_nowait,
        )
        self.task: asyncio.Task[Any] = asyncio.get_running_loop().create_task(self.player.run())

    async def next_connection(self, within_s: float = 30.0) -> str:
        """The path of the player's next connection (raises its failure if it gives up)."""
        async with asyncio.timeout(within_s):
            got = asyncio.ensure_future(self.connected.get())
            await asyncio.wait([got, self.task], return_when=asyncio.FIRST_COMPLETED)
            if not got.done():
                got.cancel()
                self.task.result()
                raise AssertionError("the player finished instead of connecting")
            return got.result()

    async def failure(self, within_s: float = 30.0) -> Any:
        """The PlayerFailure its run() ends with."""
        from peer.player import PlayerFailure

        async with asyncio.timeout(within_s):
            try:
                await self.task
            except PlayerFailure as exc:
                return exc
        raise AssertionError("the player did not fail")

    async def close(self) -> None:
        self.task.cancel()
        await self.player.close()


async def until(predicate: Callable[[], bool], within_s: float = 30.0) -> None:
    """Poll ``predicate`` (state that changes without an event to await) until it holds."""
    async with asyncio.timeout(within_s):
        while True:
            if predicate():
                return
            await asyncio.sleep(0.02)
