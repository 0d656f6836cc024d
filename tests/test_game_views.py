"""Hidden information, field by field and in the encoded bytes."""

from __future__ import annotations

import msgspec
import pytest

from game import (
    AddPlayer,
    Borrow,
    PlaceBet,
    PlayCard,
    StartGame,
    public_view,
    view_for,
)
from game.views import views_for_all
from tests.game_setup import advance_to, lobby, ok, player, started, with_hand

encode = msgspec.json.encode


def test_first_view_after_joining_has_no_one_elses_secrets() -> None:
    state = lobby(3)
    state = ok(state, AddPlayer(seat=3, name="New"))
    assert view_for(state, 3).hand == ()
    assert b"t" not in encode(view_for(state, 3).hand)
    state = ok(state, StartGame())
    blob = encode(view_for(state, 3))
    for p in state.players:
        for c in p.hand:
            assert (c.id.encode() in blob) == (p.seat == 3)
    assert str(state.rng).encode() not in blob and b'"rng"' not in blob
    assert b'"deck"' not in blob and b'"id_key"' not in blob


def test_late_joiner_first_view_is_clean() -> None:
    state = advance_to(started(3, seed=2), "purchase")
    state = ok(state, AddPlayer(seat=7, name="Late"))
    blob = encode(view_for(state, 7))
    for p in state.players:
        for c in p.hand:
            assert (c.id.encode() in blob) == (p.seat == 7)


def test_bets_loans_and_coins_of_others_are_invisible() -> None:
    state = started(4, seed=5)
    before = encode(view_for(state, 1))
    state = ok(state, PlaceBet(seat=0, quibble=1, amount=777), 0)
    state = ok(state, Borrow(seat=0, amount=123), 0)
    assert encode(view_for(state, 1)) == before
    mine = view_for(state, 0)
    assert mine.bet is not None and mine.bet.amount == 777 and mine.debt == 123
    assert mine.coins == 1000 - 777 + 123
    assert b"777" not in encode(public_view(state))


def test_own_items_visible_to_me_only_until_the_race() -> None:
    state = advance_to(started(4, seed=5), "item")
    state = with_hand(state, 0, ["poison"])
    state = ok(state, PlayCard(seat=0, card="t0-0", quibble=2), 0)
    assert view_for(state, 0).my_items[0].quibble == 2
    assert b"t0-0" not in encode(view_for(state, 1))
    assert view_for(state, 1).stacks[2].size == 1
    state = advance_to(state, "race")
    assert [c.id for c in view_for(state, 1).stacks[2].cards] == ["t0-0"]
    assert b'"by"' not in encode(view_for(state, 1))  # who played it stays secret


def test_bets_become_public_at_payout() -> None:
    state = ok(started(4, seed=5), PlaceBet(seat=0, quibble=1, amount=777), 0)
    state = advance_to(state, "race")
    assert view_for(state, 2).bet_results == ()
    state = advance_to(state, "payout")
    assert [(b.seat, b.amount) for b in view_for(state, 2).bet_results] == [(0, 777)]


def test_views_for_all_and_unknown_seat() -> None:
    state = started(5)
    views = views_for_all(state)
    assert sorted(views) == [0, 1, 2, 3, 4]
    assert views[2].players is views[3].players  # the public part is shared
    with pytest.raises(KeyError):
        view_for(state, 9)
    assert public_view(state).phase == "betting" and public_view(state).phase_seconds == 45
    assert len(player(state, 0).hand) == views[1].players[0].hand_count
