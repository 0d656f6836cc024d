"""View deltas: diff/apply round trips, the documented wire format, and recovery from a loss."""

from __future__ import annotations

import asyncio

import msgspec
import pytest

from game import GameConfig, HeuristicBot, PhaseSeconds, apply, new_game, view_for
from game.actions import AddPlayer, Ready, StartGame
from peer import protocol as p
from peer.host import HostOptions, HostSession
from peer.player import Player, PlayerOptions
from peer.transport import MemoryTransport, memory_pair
from peer.view_delta import DeltaError, ViewTracker, apply_delta, diff_views, view_to_builtins

FAST = PhaseSeconds(betting=5, item=5, discussion=5, reveal=5, race=5, payout=5, purchase=5)


def _lobby(players: int) -> object:
    state = new_game(GameConfig(seed=2, rounds=1, phase_seconds=FAST))
    for seat in range(players):
        state = apply(state, AddPlayer(seat=seat, name=f"P{seat}"), None).state
    return state


def test_a_delta_over_the_wire_rebuilds_the_new_view_exactly() -> None:
    state = _lobby(6)
    old = view_for(state, 0)  # type: ignore[arg-type]
    state = apply(state, StartGame(), None).state  # type: ignore[arg-type]
    state = apply(state, Ready(seat=3), 3).state
    new = view_for(state, 0)
    whole, items = diff_views(old, new)
    wire = p.encode(p.ViewDelta(seq=1, base=0, set=whole, items=items))
    delta = p.decode_host_frame(wire)
    assert isinstance(delta, p.ViewDelta)
    rebuilt = apply_delta(view_to_builtins(old), delta.set, delta.items)
    assert rebuilt == new


def test_one_player_getting_ready_is_one_list_entry_and_a_join_appends() -> None:
    state = apply(_lobby(6), StartGame(), None).state  # type: ignore[arg-type]
    before = view_for(state, 0)
    after = view_for(apply(state, Ready(seat=4), 4).state, 0)
    whole, items = diff_views(before, after)
    assert "players" not in whole and [i for i, _ in items["players"]] == [4]

    lobby = _lobby(5)
    grown = apply(lobby, AddPlayer(seat=5, name="Late"), None).state  # type: ignore[arg-type]
    whole, items = diff_views(view_for(lobby, 0), view_for(grown, 0))  # type: ignore[arg-type]
    assert "players" not in whole and [i for i, _ in items["players"]] == [5]
    data = view_to_builtins(view_for(lobby, 0))  # type: ignore[arg-type]
    wire = msgspec.json.decode(msgspec.json.encode(items))
    assert apply_delta(data, {}, wire).players[5].name == "Late"


def test_bad_deltas_are_refused() -> None:
    data = view_to_builtins(view_for(_lobby(4), 0))  # type: ignore[arg-type]
    with pytest.raises(DeltaError):
        apply_delta(dict(data), {"no_such_field": 1}, {})
    with pytest.raises(DeltaError):
        apply_delta(dict(data), {}, {"players": [(9, {})]})  # neither replace nor append
    with pytest.raises(DeltaError):
        apply_delta(dict(data), {"coins": "lots"}, {})  # the result must still be a view
    tracker = ViewTracker()
    with pytest.raises(DeltaError):
        tracker.follow(p.ViewDelta(seq=3, base=2))  # a delta before any full view
    tracker.follow(p.ViewFrame(view=view_for(_lobby(4), 0), seq=0))  # type: ignore[arg-type]
    with pytest.raises(DeltaError):
        tracker.follow(p.ViewDelta(seq=2, base=1))  # seq 1 went missing


class _Lossy(MemoryTransport):
    """Host end that silently loses its ``lose``-th delta, as an over-budget relay would."""

    def __init__(self, lose: int) -> None:
        super().__init__()
        self.lose = lose
        self.deltas = 0
        self.lost: list[str] = []

    def _send(self, text: str) -> None:
        if '"type":"delta"' in text:
            self.deltas += 1
            if self.deltas == self.lose:
                self.lost.append(text)
                return
        super()._send(text)


async def test_a_player_that_misses_a_delta_resyncs_and_finishes_the_game() -> None:
    config = GameConfig(seed=4, rounds=1, phase_seconds=FAST)
    session = HostSession(new_game(config), "LOSS", options=HostOptions(autostart=3))
    session.start()
    lossy = _Lossy(lose=3)
    ends = [memory_pair() for _ in range(2)]
    player_end = MemoryTransport()
    lossy.other, player_end.other = player_end, lossy
    players = []
    tasks = []
    for i, (host_end, mine) in enumerate([(lossy, player_end), *ends]):
        player = Player(PlayerOptions(signal_url="", code="LOSS", name=f"P{i}"), HeuristicBot(i))
        players.append(player)
        tasks.append(asyncio.get_running_loop().create_task(session.serve(host_end, f"P{i}")))
        tasks.append(asyncio.get_running_loop().create_task(player.play_over(mine)))
    finals = await asyncio.wait_for(asyncio.gather(*tasks[1::2]), 20)
    assert lossy.lost, "the lossy link never lost a delta"
    assert players[0].stats.resyncs == 1 and players[0].stats.reconnects == 0
    assert all(v is not None and v.phase == "over" for v in finals)
    assert len({tuple(v.winners) for v in finals if v is not None}) == 1
    assert finals[0] == view_for(session.state, 0)
