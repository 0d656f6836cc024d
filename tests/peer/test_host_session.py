"""The host session over in-memory transports: admission, validation, views, journal, resume."""

from __future__ import annotations

import asyncio
from pathlib import Path

import msgspec
import pytest

from game import GameConfig, HeuristicBot, PhaseSeconds, RandomBot, new_game
from game.actions import PlaceBet, Ready, SetConnected
from peer import protocol as p
from peer.host import HostOptions, HostSession, SeatLink
from peer.journal import Journal, state_digest
from peer.player import Player, PlayerOptions
from peer.transport import MemoryTransport, memory_pair
from peer.view_delta import ViewTracker

FAST = PhaseSeconds(betting=5, item=5, discussion=5, reveal=5, race=5, payout=5, purchase=5)


def _session(tmp_path: Path | None = None, **options: object) -> HostSession:
    config = GameConfig(seed=11, rounds=2, phase_seconds=FAST)
    journal = Journal.create(tmp_path / "j.sqlite", config, "ABCD", "t" * 24) if tmp_path else None
    session = HostSession(
        new_game(config), "ABCD", journal=journal, options=HostOptions(**options)  # type: ignore[arg-type]
    )
    session.start()
    return session


async def _bot(session: HostSession, name: str, seed: int) -> Player:
    host_end, player_end = memory_pair()
    player = Player(PlayerOptions(signal_url="", code="ABCD", name=name), bot=HeuristicBot(seed))
    task = asyncio.get_running_loop().create_task(session.serve(host_end, name))
    await player.play_over(player_end)
    await player_end.close("done")
    await task
    return player


async def _raw_client(session: HostSession, name: str) -> tuple[MemoryTransport, int, str]:
    """A hand-driven client: sends hello, returns (transport, seat, token)."""
    host_end, me = memory_pair()
    asyncio.get_running_loop().create_task(session.serve(host_end, name))
    me.send(p.encode(p.Hello(version=1, name=name)).decode())
    welcome = await _next(me, p.Welcome)
    assert isinstance(welcome, p.Welcome)
    return me, welcome.seat, welcome.seat_token


async def _next(
    t: MemoryTransport, kind: type[p.Frame] | tuple[type[p.Frame], ...]
) -> p.HostFrame:
    async with asyncio.timeout(5):
        while True:
            raw = await t.receive()
            assert raw is not None, "transport closed"
            frame = p.decode_host_frame(raw)
            if isinstance(frame, kind):
                return frame


async def test_four_bots_play_a_whole_game_and_all_see_the_same_winners(tmp_path: Path) -> None:
    session = _session(tmp_path, autostart=4)
    players = await asyncio.gather(*(_bot(session, f"Bot{i}", i) for i in range(4)))
    finals = [pl.view for pl in players]
    assert all(v is not None and v.phase == "over" for v in finals)
    winners = {tuple(v.winners) for v in finals if v is not None}
    assert len(winners) == 1 and winners != {()}
    await asyncio.wait_for(session.over.wait(), 5)
    assert session.journal is not None
    session.journal.commit()
    replayed = Journal.open(tmp_path / "j.sqlite").replay()
    assert state_digest(replayed) == state_digest(session.state)


async def test_each_view_carries_only_its_own_seat_secrets() -> None:
    session = _session(autostart=3)
    clients = [await _raw_client(session, f"P{i}") for i in range(3)]
    trackers = [ViewTracker() for _ in clients]
    for (t, seat, _), tracker in zip(clients, trackers, strict=True):
        frame = await _next(t, p.ViewFrame)
        assert isinstance(frame, p.ViewFrame)
        assert tracker.follow(frame).seat == seat
    # Seat 0 bets; nobody else's bytes may show that bet.
    t0, seat0, _ = clients[0]
    async with asyncio.timeout(5):
        await session.wait_until(lambda: session.state.phase == "betting")
    t0.send(p.encode(p.ActionFrame(action=PlaceBet(seat=seat0, quibble=0, amount=77))).decode())
    async with asyncio.timeout(5):
        while True:
            frame = await _next(t0, (p.ViewFrame, p.ViewDelta))
            assert isinstance(frame, (p.ViewFrame, p.ViewDelta))
            view = trackers[0].follow(frame)
            if view.bet is not None:
                assert view.bet.amount == 77
                break
    for t, _, _ in clients[1:]:
        while not t._inbox.empty():
            raw = t._inbox.get_nowait()
            assert raw is not None
            assert '"amount":77' not in str(raw)


def _drain(t: MemoryTransport) -> list[p.HostFrame]:
    """Every frame already delivered to ``t`` (delivery is synchronous in memory)."""
    frames = []
    while not t._inbox.empty():
        raw = t._inbox.get_nowait()
        assert raw is not None
        frames.append(p.decode_host_frame(raw))
    return frames


async def _seated_in_betting(
    session: HostSession, n: int
) -> list[tuple[MemoryTransport, int, str]]:
    """n hand-driven clients, each having seen the game start (autostart=n)."""
    clients = [await _raw_client(session, f"P{i}") for i in range(n)]
    for t, _, _ in clients:
        tracker = ViewTracker()
        async with asyncio.timeout(5):
            while True:
                frame = await _next(t, (p.ViewFrame, p.ViewDelta))
                assert isinstance(frame, (p.ViewFrame, p.ViewDelta))
                if tracker.follow(frame).phase == "betting":
                    break
    return clients


async def test_the_actor_sees_its_own_action_at_once_and_the_others_wait_for_the_interval() -> (
    None
):
    session = _session(autostart=4, public_interval_s=3600.0)
    clients = await _seated_in_betting(session, 4)
    (t0, seat0, _), others = clients[0], clients[1:]
    for t, _, _ in clients:
        _drain(t)
    before = session.links[seat0].views_sent
    t0.send(p.encode(p.ActionFrame(action=Ready(seat=seat0))).decode())
    delta = await _next(t0, p.ViewDelta)
    assert isinstance(delta, p.ViewDelta)
    assert session.links[seat0].views_sent == before + 1
    # Delivery is synchronous: had that tick sent the others a delta, it would be here.
    for t, _, _ in others:
        assert [f for f in _drain(t) if isinstance(f, (p.ViewFrame, p.ViewDelta))] == []


async def test_others_get_the_change_once_the_public_interval_passes() -> None:
    session = _session(autostart=4, public_interval_s=0.05, public_frames_per_s=1e6)
    clients = await _seated_in_betting(session, 4)
    (t0, seat0, _), (t1, seat1, _) = clients[0], clients[1]
    for t, _, _ in clients:
        _drain(t)
    t0.send(p.encode(p.ActionFrame(action=Ready(seat=seat0))).decode())
    delta = await _next(t1, p.ViewDelta)
    assert isinstance(delta, p.ViewDelta)
    assert [list(x) for x in delta.items["players"]] == [[seat0, {"ready": True}]]
    assert seat1 != seat0 and session.links[seat1].views_sent >= 2


async def test_a_phase_change_reaches_its_actor_first_and_then_everyone() -> None:
    session = _session(autostart=4, public_interval_s=3600.0, fanout_slice=1)
    clients = await _seated_in_betting(session, 4)
    for t, seat, _ in clients[:3]:
        t.send(p.encode(p.ActionFrame(action=Ready(seat=seat))).decode())
        await _next(t, p.ViewDelta)
    for t, _, _ in clients:
        _drain(t)
    last, seat3, _ = clients[3]
    last.send(p.encode(p.ActionFrame(action=Ready(seat=seat3))).decode())
    delta = await _next(last, p.ViewDelta)
    assert isinstance(delta, p.ViewDelta) and delta.set.get("phase") == "item"
    # Its own view left in the tick; the others' follow from the next loop turn on.
    assert all(t._inbox.empty() for t, _, _ in clients[:3])
    for t, _, _ in clients[:3]:
        other = await _next(t, p.ViewDelta)
        assert isinstance(other, p.ViewDelta) and other.set.get("phase") == "item"


def test_a_big_table_gets_public_updates_less_often() -> None:
    session = HostSession(
        new_game(GameConfig(seed=1, max_players=100)),
        "ABCD",
        options=HostOptions(public_interval_s=0.1, public_frames_per_s=200.0),
    )
    assert session.public_interval_s() == 0.1  # nobody connected
    for seat in range(100):
        link = SeatLink(seat, f"P{seat}", f"token{seat}", transport=memory_pair()[0])
        session.links[seat] = link
        if seat == 9:
            assert session.public_interval_s() == 0.1  # 10 players: the floor
        if seat == 49:
            assert session.public_interval_s() == pytest.approx(0.25)
    assert session.public_interval_s() == pytest.approx(0.5)  # 100 players: 200 frames/s


async def test_only_a_player_that_asked_gets_its_larger_messages_packed() -> None:
    session = _session()
    for i in range(8):  # a table big enough for a full view over PACK_MIN_BYTES
        await _raw_client(session, f"P{i}")
    sizes = {}
    for name, packed in (("Plain", False), ("Packed", True)):
        host_end, me = memory_pair()
        asyncio.get_running_loop().create_task(session.serve(host_end, name))
        me.send(p.encode(p.Hello(version=1, name=name, packed=packed)).decode())
        await _next(me, p.Welcome)
        async with asyncio.timeout(5):
            raw = await me.receive()  # the full view that follows the welcome
        assert raw is not None
        frame = p.decode_host_frame(raw)
        assert isinstance(frame, p.Packed if packed else p.ViewFrame)
        view = p.read_host_frame(raw, p.Reassembler(4))
        assert isinstance(view, p.ViewFrame) and session.links[view.view.seat].name == name
        sizes[name] = len(raw)
    assert sizes["Packed"] < sizes["Plain"] / 2


async def test_actions_for_another_seat_and_host_only_actions_are_rejected() -> None:
    session = _session()
    t, seat, _ = await _raw_client(session, "Mallory")
    await _raw_client(session, "Victim")
    before = session.state
    t.send(p.encode(p.ActionFrame(action=Ready(seat=seat + 1), ref=5)).decode())
    rej = await _next(t, p.Rejected)
    assert isinstance(rej, p.Rejected) and rej.code == "wrong_seat" and rej.ref == 5
    t.send(p.encode(p.ActionFrame(action=SetConnected(seat=seat + 1, connected=False))).decode())
    rej = await _next(t, p.Rejected)
    assert isinstance(rej, p.Rejected) and rej.code == "host_only"
    assert session.state is before


@pytest.mark.parametrize(
    "raw",
    [
        b"\x00\x01garbage",
        "{",
        '{"type":"welcome"}',
        "y" * (p.MAX_FRAME_BYTES + 10),
        '{"type":1}',
        # Packing is host -> player only: the host never inflates what a player sends.
        p.pack(p.encode(p.ActionFrame(action=Ready(seat=0)))).decode(),
    ],
)
async def test_garbage_gets_a_rejection_and_the_session_goes_on(raw: str | bytes) -> None:
    session = _session()
    t, _, _ = await _raw_client(session, "Mallory")
    assert t.other is not None
    t.other._deliver(raw)
    rej = await _next(t, p.Rejected)
    assert isinstance(rej, p.Rejected)
    _, seat2, _ = await _raw_client(session, "Honest")
    assert seat2 == 1


async def test_a_flood_drops_the_flooder_only() -> None:
    session = _session(frame_rate=5.0, frame_burst=5.0, flood_limit=20)
    t, _, _ = await _raw_client(session, "Flooder")
    honest, honest_seat, _ = await _raw_client(session, "Honest")
    ping = p.encode(p.Ping(id=1, sent_ms=1)).decode()
    for _ in range(100):
        t.send(ping)
    bye = await _next(t, p.Bye)
    assert isinstance(bye, p.Bye) and bye.reason == "flood"
    honest.send(p.encode(p.Ping(id=2, sent_ms=2)).decode())
    pong = await _next(honest, p.Pong)
    assert isinstance(pong, p.Pong) and pong.id == 2
    assert session.links[honest_seat].transport is not None


async def test_reconnect_with_seat_token_gets_the_same_seat_back() -> None:
    session = _session()
    t, seat, token = await _raw_client(session, "Ana")
    await t.close("gone")
    async with asyncio.timeout(5):
        await session.wait_until(lambda: session.links[seat].transport is None)
    host_end, me = memory_pair()
    asyncio.get_running_loop().create_task(session.serve(host_end, "Ana again"))
    me.send(p.encode(p.Hello(version=1, name="Ana", seat_token=token)).decode())
    welcome = await _next(me, p.Welcome)
    assert isinstance(welcome, p.Welcome) and welcome.seat == seat
    assert len(session.state.players) == 1


async def test_a_wrong_seat_token_is_refused() -> None:
    session = _session()
    host_end, me = memory_pair()
    asyncio.get_running_loop().create_task(session.serve(host_end, "thief"))
    me.send(p.encode(p.Hello(version=1, name="X", seat_token="z" * 24)).decode())
    bye = await _next(me, p.Bye)
    assert isinstance(bye, p.Bye) and bye.reason == "bad_token"


async def test_resume_from_journal_rebuilds_the_same_state(tmp_path: Path) -> None:
    session = _session(tmp_path, autostart=3)
    for i in range(3):
        await _raw_client(session, f"P{i}")
    async with asyncio.timeout(5):
        await session.wait_until(lambda: session.state.phase == "betting")
    assert session.journal is not None
    session.journal.commit()
    digest = session.digest
    journal = Journal.open(tmp_path / "j.sqlite")
    assert state_digest(journal.replay()) == digest
    assert [s.seat for s in journal.seats()] == [0, 1, 2]
    assert msgspec.json.encode(journal.config) == msgspec.json.encode(session.state.config)


async def test_random_bots_also_finish(tmp_path: Path) -> None:
    session = _session(autostart=3)

    async def bot(i: int) -> Player:
        host_end, player_end = memory_pair()
        player = Player(PlayerOptions(signal_url="", code="ABCD", name=f"R{i}"), bot=RandomBot(i))
        asyncio.get_running_loop().create_task(session.serve(host_end, f"R{i}"))
        await player.play_over(player_end)
        return player

    players = await asyncio.gather(*(bot(i) for i in range(3)))
    assert all(pl.view is not None and pl.view.phase == "over" for pl in players)
