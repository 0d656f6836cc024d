"""The round's seven phases, deadlines, readiness, joining, payouts, the loan shark, game over."""

from __future__ import annotations

from msgspec.structs import replace

from game import (
    AddPlayer,
    Borrow,
    BuyCard,
    GameConfig,
    PlaceBet,
    PlayCard,
    Ready,
    SetConnected,
    StartGame,
    Timeout,
    apply,
    new_game,
    phase_key,
    view_for,
)
from game.race import MAX_TICKS, TRACK_LENGTH, field_size, odds_from_wins
from game.rules import with_interest
from tests.game_setup import advance_to, lobby, ok, player, started, with_hand

ROUND = ("betting", "item", "discussion", "reveal", "race", "payout", "purchase")


def test_lobby_has_no_deadline_and_starts_on_request() -> None:
    state = lobby(3)
    assert state.phase == "lobby" and state.phase_seconds == 0 and phase_key(state) == (0, "lobby")
    state = ok(state, StartGame(), 2)  # any seated player may start
    assert phase_key(state) == (1, "betting") and state.phase_seconds == 45
    assert all(len(p.hand) == 3 and p.coins == 1000 for p in state.players)


def test_a_round_walks_the_seven_phases_with_their_durations() -> None:
    state = started(4)
    seen = []
    for _ in range(7):
        seen.append((state.phase, state.phase_seconds))
        state = ok(state, Timeout(round=state.round, phase=state.phase))
    assert seen == [
        ("betting", 45), ("item", 40), ("discussion", 60), ("reveal", 12),
        ("race", 15), ("payout", 12), ("purchase", 40),
    ]
    assert phase_key(state) == (2, "betting")


def test_stale_timeouts_are_rejected() -> None:
    state = started(4)
    for stale in (Timeout(round=1, phase="item"), Timeout(round=0, phase="betting"),
                  Timeout(round=2, phase="betting")):
        r = apply(state, stale, None)
        assert r.rejection is not None and r.rejection.code == "stale_timeout"
        assert r.state is state
    r = apply(lobby(3), Timeout(round=0, phase="lobby"), None)
    assert r.rejection is not None and r.rejection.code == "wrong_phase"


def test_phase_ends_early_when_every_connected_player_is_ready() -> None:
    state = started(4)
    state = ok(state, SetConnected(seat=3, connected=False))
    for seat in (0, 1):
        state = ok(state, Ready(seat=seat), seat)
    assert state.phase == "betting"
    state = ok(state, Ready(seat=2, ready=False), 2)
    state = ok(state, Ready(seat=2), 2)
    assert state.phase == "item"  # seat 3 is disconnected: it passes
    assert not any(p.ready for p in state.players)


def test_disconnecting_the_last_unready_player_ends_the_phase() -> None:
    state = started(3)
    state = ok(ok(state, Ready(seat=0), 0), Ready(seat=1), 1)
    state = ok(state, SetConnected(seat=2, connected=False))
    assert state.phase == "item"


def test_nobody_connected_waits_for_the_deadline() -> None:
    state = started(3)
    for seat in range(3):
        state = ok(state, SetConnected(seat=seat, connected=False))
    assert state.phase == "betting"


def test_many_players_act_simultaneously_and_all_are_accepted() -> None:
    state = started(60, seed=4)
    for seat in range(60):
        state = ok(state, PlaceBet(seat=seat, quibble=seat % len(state.quibbles), amount=10 + seat),
                   seat)
        state = ok(state, Borrow(seat=seat, amount=1 + seat), seat)
    assert all(p.bet is not None and p.debt == 1 + p.seat for p in state.players)
    state = advance_to(state, "item")
    for seat in range(60):
        state = with_hand(state, seat, ["poison", "vomitex"])
        for n in range(2):
            state = ok(state, PlayCard(seat=seat, card=f"t{seat}-{n}", quibble=n), seat)
    assert sum(len(s) for s in state.stacks) == 120


def test_bets_pay_at_the_posted_odds_and_losers_lose() -> None:
    state = started(8, seed=12)
    nq = len(state.quibbles)
    assert nq == field_size(8) == 4
    state = ok(state, PlaceBet(seat=0, quibble=0, amount=100), 0)
    state = ok(state, PlaceBet(seat=0, quibble=1, amount=200), 0)  # replaces, refunds
    assert player(state, 0).coins == 800
    state = ok(state, PlaceBet(seat=1, quibble=2, amount=50), 1)
    state = advance_to(state, "item")
    for seat, q in ((2, 0), (3, 2), (4, 3)):  # only quibble 1 survives
        state = with_hand(state, seat, ["gun"])
        state = ok(state, PlayCard(seat=seat, card=f"t{seat}-0", quibble=q), seat)
    state = advance_to(state, "race")
    race = state.race
    assert race is not None and race.winner == 1 and race.order == (1,)
    assert len(race.ticks) <= MAX_TICKS and race.ticks[0] == (0,) * nq
    assert max(tick[1] for tick in race.ticks) == TRACK_LENGTH
    state = advance_to(state, "payout")
    odds = state.quibbles[1].odds_milli
    assert player(state, 0).coins == 800 + 200 * odds // 1000
    assert player(state, 1).coins == 950
    results = {b.seat: b for b in view_for(state, 7).bet_results}
    assert results[0].returned == 200 * odds // 1000 and results[1].returned == 0


def test_a_race_without_finishers_refunds_every_stake() -> None:
    state = started(8, seed=13)
    state = ok(state, PlaceBet(seat=0, quibble=0, amount=100), 0)
    state = advance_to(state, "item")
    for q in range(4):
        state = with_hand(state, q + 1, ["gun"])
        state = ok(state, PlayCard(seat=q + 1, card=f"t{q + 1}-0", quibble=q), q + 1)
    state = advance_to(state, "payout")
    assert state.race is not None and state.race.winner is None
    assert player(state, 0).coins == 1000


def test_odds_are_simulated_capped_and_in_milli_units() -> None:
    assert odds_from_wins(250, 1000, 10_000) == 4000
    assert odds_from_wins(3, 1000, 10_000) == 10_000
    assert odds_from_wins(0, 1000, 10_000) == 10_000
    assert odds_from_wins(1000, 1000, 10_000) == 1000
    state = started(6, seed=1)
    for q in state.quibbles:
        assert 1000 <= q.odds_milli <= 10_000 and 3 <= q.base_speed <= 8
    fastest = max(state.quibbles, key=lambda q: q.base_speed)
    slowest = min(state.quibbles, key=lambda q: q.base_speed)
    if fastest.base_speed > slowest.base_speed + 2:
        assert fastest.odds_milli < slowest.odds_milli


def test_loan_cap_grows_each_round_and_debt_grows_five_percent() -> None:
    state = started(3)
    r = apply(state, Borrow(seat=0, amount=251), 0)
    assert r.rejection is not None and r.rejection.code == "loan_cap"
    state = ok(state, Borrow(seat=0, amount=250), 0)
    assert player(state, 0).coins == 1250 and player(state, 0).debt == 250
    state = advance_to(state, "payout")
    assert player(state, 0).debt == 263 == with_interest(250, 5)  # 12.5 rounds up
    state = advance_to(state, "betting")
    assert view_for(state, 0).loan_cap == 500
    state = ok(state, Borrow(seat=0, amount=237), 0)
    assert with_interest(0, 5) == 0 and with_interest(1, 5) == 2


def test_shop_refills_and_sells_at_the_listed_price() -> None:
    state = advance_to(started(4, seed=3), "purchase")
    view = view_for(state, 0)
    assert len(view.shop) == 4
    offer = view.shop[0]
    state = with_hand(state, 0, [])
    state = ok(state, BuyCard(seat=0, card=offer.id), 0)
    p = player(state, 0)
    assert p.coins == 1000 - offer.price and [c.kind for c in p.hand] == [offer.kind]
    assert p.hand[0].id != offer.id  # a fresh id on entering the hand
    r = apply(state, BuyCard(seat=1, card=offer.id), 1)
    assert r.rejection is not None and r.rejection.code == "not_in_shop"
    state = advance_to(advance_to(state, "betting"), "purchase")  # next round: topped up
    assert len(state.shop) == 4


def test_late_joiner_arrives_between_rounds_with_a_hand() -> None:
    state = started(3)
    r = apply(state, AddPlayer(seat=9, name="Late"), None)
    assert r.rejection is not None and r.rejection.code == "wrong_phase"
    state = advance_to(state, "purchase")
    state = ok(state, AddPlayer(seat=9, name="Late"))
    late = player(state, 9)
    assert late.coins == 1000 and len(late.hand) == 3
    assert [p.seat for p in state.players] == [0, 1, 2, 9]
    state = advance_to(state, "betting")
    assert view_for(state, 9).round == 2


def test_each_round_draws_a_card_up_to_the_hand_limit() -> None:
    state = started(3)
    state = with_hand(state, 0, ["gun"] * 5)
    state = with_hand(state, 1, [])
    state = advance_to(state, "purchase")
    state = ok(state, Timeout(round=1, phase="purchase"))
    assert len(player(state, 0).hand) == 5 and len(player(state, 1).hand) == 1


def test_game_over_after_the_last_round_with_standings_and_shared_wins() -> None:
    state = started(3, rounds=2)
    state = ok(state, Borrow(seat=1, amount=100), 1)
    state = advance_to(state, "over")
    assert state.round == 2 and state.phase_seconds == 0
    by_seat = {s.seat: s for s in state.standings}
    assert by_seat[1].debt == with_interest(with_interest(100, 5), 5)
    assert by_seat[1].score == by_seat[1].coins - by_seat[1].debt
    assert by_seat[0].score == by_seat[2].score == 1000
    assert state.winners == (0, 2) and by_seat[0].rank == by_seat[2].rank == 1
    assert by_seat[1].rank == 3
    view = view_for(state, 1)
    assert view.winners == (0, 2) and len(view.standings) == 3
    r = apply(state, Ready(seat=0), 0)
    assert r.rejection is not None and r.rejection.code == "game_over" and r.state is state


def test_config_bounds_are_checked() -> None:
    import pytest

    with pytest.raises(ValueError):
        new_game(GameConfig(rounds=0))
    with pytest.raises(ValueError):
        new_game(replace(GameConfig(), seed=-1))
    with pytest.raises(ValueError):
        new_game(GameConfig(min_players=9, max_players=8))


def test_an_empty_deck_is_refilled_from_the_discard_pile() -> None:
    state = advance_to(started(4, seed=3), "purchase")
    total = len(state.deck) + len(state.discard)
    state = replace(state, deck=(), discard=state.deck + state.discard)
    state = ok(state, Timeout(round=1, phase="purchase"))  # round 2 draws a card each
    assert state.round == 2 and state.discard == ()
    assert len(state.deck) == total - 4
