"""Real `quibble host` / `quibble join` processes and headless Chromium pages, synchronously.

Playwright's sync API cannot run inside an asyncio loop, so the browser tests drive the
Python processes with plain subprocess calls rather than tests/net/peer_harness.py.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from playwright.sync_api import ViewportSize

CHROMIUM = "/usr/bin/chromium"
# Debian's Chromium, headless, talking to nothing but the pages we open.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-features=Translate,OptimizationHints,MediaRouter",
]
HOST_ADDR = "10.231.0.1"
PHONE: Final[ViewportSize] = {"width": 390, "height": 844}
_SIGNAL_LINE = re.compile(
    r"^or: quibble join (?P<code>[A-Z]{4,8}) --name NAME --signal (?P<url>\S+)"
)


def quibble_cmd(*args: str) -> list[str]:
    """The `quibble` command line, run by this interpreter."""
    return [sys.executable, "-m", "peer", *args]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def poll(predicate: Callable[[], Any], within_s: float, what: str, every_s: float = 0.05) -> Any:
    """Wait until predicate() is truthy (returns it); fails the test naming `what`."""
    deadline = time.monotonic() + within_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within_s} s waiting for {what}")
        time.sleep(every_s)


class Host:
    """A running `quibble host` on the suite's test address, with its status file."""

    def __init__(self, tmp: Path, *args: str, within_s: float = 30.0) -> None:
        """Start `quibble host` with `args` (a journal in `tmp` unless args --resume one)."""
        tmp.mkdir(parents=True, exist_ok=True)
        self.status_path = tmp / "status.json"
        self.log_path = tmp / "host.log"
        self.journal_path = tmp / "journal.sqlite"
        self.lines: list[str] = []
        journal = [] if "--resume" in args else ["--journal", str(self.journal_path)]
        self.proc = subprocess.Popen(
            quibble_cmd(
                "host",
                "--bind",
                HOST_ADDR,
                "--port",
                "0",
                "--status",
                str(self.status_path),
                *journal,
                "--no-qr",
                *args,
            ),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=open(self.log_path, "ab"),
            env=_env(),
            text=True,
        )
        self.code = ""
        self.signal_url = ""
        self._found = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        if not self._found.wait(within_s):
            self.stop()
            raise AssertionError(f"host printed no room code: {self.lines} {self.log()}")

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))
            match = _SIGNAL_LINE.match(line)
            if match and not self.code:
                self.code, self.signal_url = match["code"], match["url"]
                self._found.set()

    @property
    def base_url(self) -> str:
        return self.signal_url.rstrip("/")

    def log(self) -> str:
        try:
            return self.log_path.read_text()[-4000:]
        except FileNotFoundError:
            return ""

    def status(self) -> dict[str, Any]:
        try:
            return json.loads(self.status_path.read_text())  # type: ignore[no-any-return]
        except (FileNotFoundError, json.JSONDecodeError):
            return {}

    def wait_status(
        self, predicate: Callable[[dict[str, Any]], bool], within_s: float = 30.0
    ) -> dict[str, Any]:
        """The status file (rewritten by the host on every change) once predicate holds."""

        def check() -> dict[str, Any] | None:
            if self.proc.poll() is not None and not predicate(self.status()):
                raise AssertionError(f"host exited {self.proc.returncode}: {self.log()}")
            st = self.status()
            return st if st and predicate(st) else None

        return poll(check, within_s, "the host's status")  # type: ignore[no-any-return]

    def wait(self, within_s: float = 60.0) -> int:
        return self.proc.wait(within_s)

    def kill(self) -> None:
        """SIGKILL: a host laptop that crashed, no goodbye to anyone."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class Join:
    """A running `quibble join --json` (a Python player or bot)."""

    def __init__(self, tmp: Path, host: Host, name: str, *args: str) -> None:
        self.name = name
        self.proc = subprocess.Popen(
            quibble_cmd(
                "join", host.code, "--name", name, "--signal", host.signal_url, "--json", *args
            ),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=open(tmp / f"join-{name}.log", "ab"),
            env=_env(),
            text=True,
        )

    def result(self, within_s: float = 90.0) -> tuple[int, dict[str, Any], str]:
        """(exit code, the --json document on the last line, all stdout)."""
        out, _ = self.proc.communicate(timeout=within_s)
        lines = [line for line in out.splitlines() if line.strip()]
        doc = json.loads(lines[-1]) if lines else {}
        return self.proc.returncode, doc, out

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def game_args(
    *, rounds: int = 1, phase_seconds: int = 8, bots: int = 2, autostart: int = 3, seed: int = 1
) -> list[str]:
    """`quibble host` options for a short game that starts once the phones are in."""
    return [
        "--rounds", str(rounds), "--phase-seconds", str(phase_seconds), "--bots", str(bots),
        "--autostart", str(autostart), "--seed", str(seed),
    ]  # fmt: skip


def free_port(addr: str = HOST_ADDR) -> int:
    """A TCP port free right now on addr (our own namespace: nobody else races for it)."""
    with socket.socket() as s:
        s.bind((addr, 0))
        return int(s.getsockname()[1])


def ensure_default_route() -> Callable[[], None]:
    """Give the test namespace a default route (on its own veth) if it has none.

    Without media permission Chromium gathers host candidates only on the interface of the
    default route; the suite's namespace has none, so a page would gather no candidate at
    all. The route leads into our own veth pair: no packet can leave the namespace.
    Returns the undo.
    """
    out = subprocess.run(["ip", "route", "show", "default"], capture_output=True, text=True)
    if out.stdout.strip():
        return lambda: None
    subprocess.run(["ip", "route", "add", "default", "dev", "qtest1"], check=True)

    def undo() -> None:
        subprocess.run(["ip", "route", "del", "default", "dev", "qtest1"], check=False)

    return undo
