"""Bots: deterministic given their seed, act from their own view only, play sensibly."""

from __future__ import annotations

import msgspec

from game import (
    GameConfig,
    HeuristicBot,
    PlaceBet,
    PlayCard,
    RandomBot,
    Ready,
    apply,
    view_for,
)
from game.selfplay import play_game
from tests.game_setup import advance_to, ok, started, with_hand


def test_bots_are_deterministic_given_their_seed() -> None:
    state = started(6, seed=4)
    view = view_for(state, 2)
    for cls in (RandomBot, HeuristicBot):
        assert cls(5).decide(view) == cls(5).decide(view)


def test_a_bot_acts_once_per_phase_and_ends_with_ready() -> None:
    state = started(6, seed=4)
    bot = HeuristicBot(1)
    actions = bot.decide(view_for(state, 0))
    assert actions[-1] == Ready(seat=0)
    assert bot.decide(view_for(state, 0)) == []


def test_heuristic_bot_bets_on_value_and_its_actions_are_legal() -> None:
    state = started(6, seed=4)
    actions = HeuristicBot(1).decide(view_for(state, 0))
    bets = [a for a in actions if isinstance(a, PlaceBet)]
    assert len(bets) == 1
    q = state.quibbles
    total = sum(x.speed for x in q)
    value = [x.speed * x.odds_milli / (1000 * total) for x in q]
    assert value[bets[0].quibble] == max(value)
    for action in actions:
        result = apply(state, action, 0)
        assert result.rejection is None, result.rejection
        state = result.state


def test_heuristic_bot_sabotages_a_rival_and_protects_its_pick() -> None:
    state = started(6, seed=4)
    state = ok(state, PlaceBet(seat=0, quibble=0, amount=10), 0)
    state = advance_to(state, "item")
    state = with_hand(state, 0, ["gun", "vomitex"])
    actions = HeuristicBot(1).decide(view_for(state, 0))
    plays = {a.card: a.quibble for a in actions if isinstance(a, PlayCard)}
    assert plays["t0-1"] == 0  # Vomitex on its own pick
    assert plays["t0-0"] != 0  # Gun on a rival
    speeds = [x.speed for i, x in enumerate(state.quibbles) if i != 0]
    assert state.quibbles[plays["t0-0"]].speed == max(speeds)


def test_heuristic_bots_beat_random_bots_on_average() -> None:
    brainy = random = 0
    for seed in range(12):
        state = play_game(GameConfig(seed=seed, rounds=5), 8, "mixed")
        for s in state.standings:
            if s.seat % 2:
                random += s.score
            else:
                brainy += s.score
    assert brainy > random


def test_bot_actions_only_use_the_view() -> None:
    # A view round-tripped through JSON (as over the network) gives the same decisions.
    state = advance_to(started(6, seed=8), "purchase")
    view = view_for(state, 3)
    wire = msgspec.json.decode(msgspec.json.encode(view), type=type(view))
    assert HeuristicBot(2).decide(view) == HeuristicBot(2).decide(wire)
    assert RandomBot(2).decide(view) == RandomBot(2).decide(wire)
