"""The host's status as JSON (``quibble host --status PATH``), kept current for scripts.

Written atomically (temp file + rename) at most every ``interval_s`` after a change, and
once a second anyway so RTTs stay fresh. ``digest``/``actions`` describe the last state the
journal committed, so a test can replay that many journaled actions and compare.
"""

from __future__ import annotations

import asyncio
import os
import resource
from collections.abc import Callable, Iterable
from pathlib import Path

import msgspec

from peer.host import HostSession
from peer.journal import state_digest


class PlayerStatus(msgspec.Struct, kw_only=True):
    """One seat in the status file."""

    name: str
    seat: int
    path: str
    rtt_ms: float | None
    connected: bool
    bytes_sent: int
    views_sent: int
    connections: int


class HostStatus(msgspec.Struct, kw_only=True):
    """The whole status file."""

    room: str
    join_urls: list[str]
    signal_url: str
    phase: str
    round: int
    rounds: int
    players: list[PlayerStatus]
    actions: int
    digest: str
    over: bool
    winners: list[int]
    journal: str | None
    signaling_connected: bool
    pid: int
    cpu_s: float  # host process CPU time so far (user + system)
    max_rss_mb: float  # its peak resident memory
    # Host side of action -> view (frame read -> view handed to the transport), recent ones.
    action_to_view_ms: dict[str, float] = {}


def host_status(
    session: HostSession, join_urls: list[str], signal_url: str, signaling_connected: bool
) -> HostStatus:
    """A snapshot of the session for the status file."""
    state = session.state
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return HostStatus(
        room=session.room,
        join_urls=join_urls,
        signal_url=signal_url,
        phase=state.phase,
        round=state.round,
        rounds=state.config.rounds,
        players=[msgspec.convert(row, PlayerStatus) for row in session.players_status()],
        actions=session.committed_actions,
        digest=state_digest(session.committed_state),
        over=session.over.is_set(),
        winners=list(state.winners),
        journal=str(session.journal.path) if session.journal is not None else None,
        signaling_connected=signaling_connected,
        pid=os.getpid(),
        cpu_s=round(usage.ru_utime + usage.ru_stime, 3),
        max_rss_mb=round(usage.ru_maxrss / 1024, 1),
        action_to_view_ms=_percentiles(session.action_to_view_ms),
    )


def _percentiles(samples: Iterable[float]) -> dict[str, float]:
    ordered = sorted(samples)
    if not ordered:
        return {}

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2)

    return {"n": len(ordered), "p50": at(0.50), "p99": at(0.99), "max": round(ordered[-1], 2)}


def write_status(path: Path, status: HostStatus) -> None:
    """Replace the status file atomically, so a reader never sees half of it."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(msgspec.json.encode(status) + b"\n")
    os.replace(tmp, path)


class StatusWriter:
    """Keeps the status file current while the host runs."""

    def __init__(
        self, path: Path, snapshot: Callable[[], HostStatus], interval_s: float = 0.1
    ) -> None:
        self.path = path
        self._snapshot = snapshot
        self.interval_s = interval_s
        self._pending: asyncio.TimerHandle | None = None
        self._last = 0.0

    def changed(self) -> None:
        """Something changed: write now, or once ``interval_s`` has passed since the last."""
        if self._pending is not None:
            return
        loop = asyncio.get_running_loop()
        delay = max(0.0, self._last + self.interval_s - loop.time())
        if delay == 0.0:
            self.write()
        else:
            self._pending = loop.call_later(delay, self.write)

    def write(self) -> None:
        """Write now."""
        if self._pending is not None:
            self._pending.cancel()
        self._pending = None
        self._last = asyncio.get_running_loop().time()
        write_status(self.path, self._snapshot())

    async def run(self) -> None:
        """Refresh once a second (RTTs, connections) until cancelled."""
        while True:
            self.write()
            await asyncio.sleep(1.0)
