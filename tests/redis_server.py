"""A real redis-server process for tests: free port, temporary directory, killed after."""

from __future__ import annotations

import asyncio
import itertools
import shutil
import socket
import subprocess
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
_prefixes = itertools.count()


def require_redis_server() -> None:
    """Skip (saying why) when Debian's redis-server is not installed."""
    if not Path(REDIS_SERVER).exists():
        pytest.skip("redis-server is not installed (scripts/install-system-deps.sh installs it)")


def free_port(addr: str = "127.0.0.1") -> int:
    """A TCP port free right now on ``addr``."""
    with socket.socket() as s:
        s.bind((addr, 0))
        return int(s.getsockname()[1])


def _answers_ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@dataclass
class RedisServer:
    """One redis-server process; :meth:`kill` and :meth:`restart` simulate losing it."""

    workdir: Path
    port: int = field(default_factory=free_port)
    persistent: bool = False
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:PORT/0``."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, within_s: float = 10.0) -> None:
        """Start it and wait until it answers PING (skips the test if not installed)."""
        require_redis_server()
        args = [
            REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1",
            "--dir", str(self.workdir), "--save", "", "--daemonize", "no",
            "--logfile", str(self.workdir / "redis.log"),
        ]
        if self.persistent:  # every write on disk: a kill -9 loses nothing
            args += ["--appendonly", "yes", "--appendfsync", "always"]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + within_s
        while not _answers_ping(self.port):
            if self.proc.poll() is not None:
                log = (self.workdir / "redis.log").read_text()
                raise RuntimeError(f"redis-server exited: {log}")
            if time.monotonic() > deadline:
                raise TimeoutError("redis-server did not answer PING")
            time.sleep(0.02)  # polling a child process we started, not synchronising a test

    def kill(self) -> None:
        """SIGKILL: no shutdown, no goodbye to clients."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def restart(self) -> None:
        """Kill, then start again on the same port and directory."""
        self.kill()
        self.start()


def unique_prefix() -> str:
    """A key prefix no other test in this run uses."""
    return f"t{next(_prefixes)}-{int(time.time() * 1000) % 100_000}:"


async def eventually(
    predicate: Callable[[], Awaitable[bool]], within_s: float = 10.0, every_s: float = 0.05
) -> None:
    """Poll an observable condition of a server until it holds (bounded by within_s)."""
    async with asyncio.timeout(within_s):
        while True:
            if await predicate():
                return
            await asyncio.sleep(every_s)
