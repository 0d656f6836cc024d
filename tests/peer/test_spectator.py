"""A board (spectator) over an in-memory transport: `watch` gets public views only, takes no
seat, cannot act, and can never turn into a player on the same connection."""

from __future__ import annotations

import asyncio

from game import GameConfig, PhaseSeconds, new_game
from game.actions import PlaceBet, Ready, StartGame
from peer import protocol as p
from peer.host import HostOptions, HostSession
from peer.transport import MemoryTransport, memory_pair
from peer.view_delta import ViewTracker

SLOW = PhaseSeconds(betting=60, item=60, discussion=60, reveal=60, race=60, payout=60, purchase=60)


def _session(**options: object) -> HostSession:
    session = HostSession(
        new_game(GameConfig(seed=3, rounds=1, phase_seconds=SLOW)), "WXYZ",
        options=HostOptions(**options),  # type: ignore[arg-type]
    )
    session.start()
    return session


_served: list[asyncio.Task[None]] = []


def _connect(session: HostSession, first: p.Frame) -> MemoryTransport:
    host_end, me = memory_pair()
    _served.append(asyncio.get_running_loop().create_task(session.serve(host_end, "test")))
    me.send(p.encode(first).decode())
    return me


async def _frames(
    t: MemoryTransport, until: type[p.Frame] | tuple[type[p.Frame], ...]
) -> list[p.HostFrame]:
    """Every frame up to and including the first of kind `until`."""
    seen: list[p.HostFrame] = []
    async with asyncio.timeout(5):
        while True:
            raw = await t.receive()
            assert raw is not None, f"closed after {seen}"
            frame = p.decode_host_frame(raw)
            seen.append(frame)
            if isinstance(frame, until):
                return seen


async def _public_in(board: MemoryTransport, phase: str) -> p.PublicViewFrame:
    while True:
        frame = (await _frames(board, p.PublicViewFrame))[-1]
        assert isinstance(frame, p.PublicViewFrame)
        if frame.view.phase == phase:
            return frame


async def test_a_board_sees_the_public_table_and_never_a_player_view() -> None:
    session = _session()
    board = _connect(session, p.Watch(version=1))
    first = await _frames(board, p.PublicViewFrame)
    assert [type(f) for f in first] == [p.PublicViewFrame]  # no welcome, no seat
    players = [_connect(session, p.Hello(version=1, name=f"P{i}")) for i in range(3)]
    welcomes = [(await _frames(t, p.Welcome))[-1] for t in players]
    assert session.spectators and len(session.links) == 3
    assert session.start_game()
    betting = await _public_in(board, "betting")
    assert betting.deadline_ms is not None and 0 < betting.deadline_ms <= 60_000
    assert [s.name for s in betting.view.players] == ["P0", "P1", "P2"]
    seat = welcomes[0].seat  # type: ignore[union-attr]
    bet = PlaceBet(seat=seat, quibble=0, amount=123)
    players[0].send(p.encode(p.ActionFrame(action=bet, ref=1)).decode())
    players[0].send(p.encode(p.ActionFrame(action=Ready(seat=seat), ref=2)).decode())
    tracker = ViewTracker()
    for frame in await _frames(players[0], p.ViewFrame):  # the first view came after welcome
        if isinstance(frame, (p.ViewFrame, p.ViewDelta)):
            tracker.follow(frame)
    while True:  # the player's own view (full, then deltas) shows its bet and readiness...
        frame = (await _frames(players[0], (p.ViewFrame, p.ViewDelta)))[-1]
        assert isinstance(frame, (p.ViewFrame, p.ViewDelta))
        view = tracker.follow(frame)
        if view.ready:
            assert view.bet is not None and view.bet.amount == 123
            break
    # ...while the board learns only that the player is ready: no bet, no hand.
    while True:
        raw = await asyncio.wait_for(board.receive(), 5)
        assert raw is not None
        assert '"hand"' not in raw and "123" not in raw and '"bet"' not in raw
        frame = p.decode_host_frame(raw)
        if isinstance(frame, p.PublicViewFrame) and frame.view.players[seat].ready:
            break
    assert session.links[seat].views_sent >= 2 and len(session.spectators) == 1


async def test_a_board_cannot_act_or_take_a_seat_on_the_same_connection() -> None:
    session = _session()
    board = _connect(session, p.Watch(version=1))
    await _frames(board, p.PublicViewFrame)
    board.send(p.encode(p.ActionFrame(action=StartGame(), ref=7)).decode())
    rejected = (await _frames(board, p.Rejected))[-1]
    assert isinstance(rejected, p.Rejected) and rejected.code == "hello_first"
    board.send(p.encode(p.Hello(version=1, name="Sneaky")).decode())
    rejected = (await _frames(board, p.Rejected))[-1]
    assert isinstance(rejected, p.Rejected) and rejected.code == "already_welcomed"
    assert session.links == {} and session.state.phase == "lobby"


async def test_boards_are_bounded_and_leave_cleanly() -> None:
    session = _session(max_spectators=1)
    board = _connect(session, p.Watch(version=1))
    await _frames(board, p.PublicViewFrame)
    second = _connect(session, p.Watch(version=1))
    bye = (await _frames(second, p.Bye))[-1]
    assert isinstance(bye, p.Bye) and bye.reason == "too_many_spectators"
    await board.close("bye")
    await asyncio.wait_for(_served[-2], 5)  # the board's connection, served to its end
    assert session.spectators == {}
