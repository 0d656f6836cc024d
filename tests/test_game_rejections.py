"""Every illegal action gets its typed reason code and leaves the very same state."""

from __future__ import annotations

import msgspec
import pytest

from game import (
    Action,
    AddPlayer,
    Borrow,
    BuyCard,
    GameState,
    PlaceBet,
    PlayCard,
    Ready,
    SetConnected,
    StartGame,
    Timeout,
    apply,
    decode_action,
)
from tests.game_setup import advance_to, lobby, ok, started, with_hand


def rejected(state: GameState, action: Action, actor: int | None, code: str) -> None:
    result = apply(state, action, actor)
    assert result.rejection is not None, f"{action} was accepted"
    assert result.rejection.code == code, result.rejection
    assert result.rejection.message
    assert result.state is state and result.events == ()


BETTING = started(4, seed=1)


@pytest.mark.parametrize(
    ("action", "actor", "code"),
    [
        (AddPlayer(seat=9, name="X"), 0, "host_only"),
        (SetConnected(seat=1, connected=False), 0, "host_only"),
        (Timeout(round=1, phase="betting"), 0, "host_only"),
        (PlaceBet(seat=1, quibble=0, amount=5), 0, "not_your_seat"),
        (Ready(seat=0), 42, "unknown_seat"),
        (PlaceBet(seat=42, quibble=0, amount=5), None, "unknown_seat"),
        (SetConnected(seat=42, connected=True), None, "unknown_seat"),
        (AddPlayer(seat=1, name="Dup"), None, "wrong_phase"),
        (StartGame(), None, "wrong_phase"),
        (PlaceBet(seat=0, quibble=9, amount=5), 0, "bad_quibble"),
        (PlaceBet(seat=0, quibble=99, amount=5), 0, "invalid_action"),
        (PlaceBet(seat=0, quibble=-1, amount=5), 0, "invalid_action"),
        (PlaceBet(seat=0, quibble=0, amount=0), 0, "bad_amount"),
        (PlaceBet(seat=0, quibble=0, amount=1001), 0, "insufficient_coins"),
        (PlaceBet(seat=0, quibble=0, amount=10**40), 0, "invalid_action"),
        (PlaceBet(seat=0, quibble=0, amount=-5), 0, "invalid_action"),
        (Borrow(seat=0, amount=0), 0, "bad_amount"),
        (Borrow(seat=0, amount=10**9), 0, "loan_cap"),
        (PlayCard(seat=0, card="nope"), 0, "card_not_held"),
        (PlayCard(seat=0, card=""), 0, "invalid_action"),
        (BuyCard(seat=0, card="abc"), 0, "wrong_phase"),
        (Timeout(round=3, phase="race"), None, "stale_timeout"),
        (PlaceBet(seat="0", quibble=0, amount=5), 0, "invalid_action"),  # type: ignore[arg-type]
    ],
)
def test_rejections_in_betting(action: Action, actor: int | None, code: str) -> None:
    rejected(BETTING, action, actor, code)


def test_lobby_rejections() -> None:
    state = lobby(2)
    rejected(state, StartGame(), None, "not_enough_players")
    rejected(state, AddPlayer(seat=0, name="Again"), None, "seat_taken")
    rejected(state, AddPlayer(seat=5, name="   "), None, "bad_name")
    rejected(state, AddPlayer(seat=5, name="a\nb"), None, "bad_name")
    rejected(state, AddPlayer(seat=5, name="x" * 25), None, "invalid_action")
    rejected(state, PlaceBet(seat=0, quibble=0, amount=1), 0, "wrong_phase")
    rejected(state, StartGame(), 7, "unknown_seat")
    full = lobby(3, max_players=3)
    rejected(full, AddPlayer(seat=5, name="Late"), None, "game_full")


def test_card_rejections() -> None:
    item = with_hand(advance_to(BETTING, "item"), 0, ["gun", "poison", "psyblast", "shovel"])
    rejected(item, PlayCard(seat=0, card="t0-0"), 0, "bad_quibble")
    rejected(item, PlayCard(seat=0, card="t0-0", quibble=40), 0, "bad_quibble")
    rejected(item, PlayCard(seat=0, card="t0-3", pick="gun"), 0, "wrong_card_phase")
    rejected(item, PlaceBet(seat=0, quibble=0, amount=1), 0, "wrong_phase")
    rejected(item, Borrow(seat=0, amount=1), 0, "wrong_phase")
    state = ok(item, PlayCard(seat=0, card="t0-0", quibble=1), 0)
    state = ok(state, PlayCard(seat=0, card="t0-1", quibble=1), 0)
    rejected(state, PlayCard(seat=0, card="t0-2", quibble=1), 0, "item_limit")
    rejected(state, PlayCard(seat=0, card="t0-0", quibble=1), 0, "card_not_held")
    purchase = advance_to(state, "purchase")
    purchase = with_hand(purchase, 1, ["shovel", "gun", "gun", "gun", "gun"])
    rejected(purchase, PlayCard(seat=1, card="t1-0"), 1, "not_in_discard")
    offer = purchase.shop[0]
    rejected(purchase, BuyCard(seat=1, card=offer.id), 1, "hand_full")
    rejected(purchase, BuyCard(seat=2, card="feedfacecafe"), 2, "not_in_shop")
    poor = purchase
    from msgspec.structs import replace

    players = list(poor.players)
    players[2] = replace(players[2], coins=5)
    poor = replace(poor, players=tuple(players))
    rejected(poor, BuyCard(seat=2, card=offer.id), 2, "insufficient_coins")


def test_decoder_rejects_bad_bytes_with_msgspec_errors() -> None:
    assert decode_action(b'{"type":"Ready","seat":3}') == Ready(seat=3)
    for bad in (b"", b"{}", b'{"type":"Nope"}', b'{"type":"Ready","seat":-1}',
                b'{"type":"PlaceBet","seat":1,"quibble":0,"amount":1e99}', b"\xff"):
        with pytest.raises((msgspec.DecodeError, msgspec.ValidationError)):
            decode_action(bad)


@pytest.mark.parametrize("junk", [None, 42, "Ready", {"type": "Ready", "seat": 0}, object()])
def test_things_that_are_not_actions_are_refused_not_raised(junk: object) -> None:
    rejected(BETTING, junk, 0, "invalid_action")  # type: ignore[arg-type]


@pytest.mark.parametrize("actor", [-1, 2**80, True])
def test_odd_actors_are_unknown_seats(actor: int) -> None:
    rejected(BETTING, Ready(seat=0), actor, "unknown_seat")
