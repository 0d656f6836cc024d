"""Shared builders for the game engine tests: tables, phases, and hand surgery."""

from __future__ import annotations

from collections.abc import Sequence

from msgspec.structs import replace

from game import (
    Action,
    AddPlayer,
    GameConfig,
    GameState,
    Phase,
    StartGame,
    Timeout,
    apply,
    new_game,
    phase_key,
)
from game.cards import Card, CardKind
from game.state import find_player

NAMES = ("Ana", "Bo", "Cy", "Dee", "Eli", "Fay", "Gus", "Hal")


def ok(state: GameState, action: Action, actor: int | None = None) -> GameState:
    """Apply and insist it was accepted."""
    result = apply(state, action, actor)
    assert result.rejection is None, result.rejection
    return result.state


def lobby(players: int = 4, **config: object) -> GameState:
    """A lobby with `players` seated (seats 0..n-1)."""
    state = new_game(GameConfig(**config))  # type: ignore[arg-type]
    for seat in range(players):
        state = ok(state, AddPlayer(seat=seat, name=NAMES[seat % len(NAMES)] + str(seat)))
    return state


def started(players: int = 4, **config: object) -> GameState:
    """Round 1, Betting."""
    return ok(lobby(players, **config), StartGame())


def advance_to(state: GameState, phase: Phase) -> GameState:
    """Send the host's Timeouts until `phase` (in this or a later round) is current."""
    for _ in range(20):
        if state.phase == phase:
            return state
        round_no, current = phase_key(state)
        state = ok(state, Timeout(round=round_no, phase=current))
    raise AssertionError(f"never reached {phase}")


def with_hand(state: GameState, seat: int, kinds: Sequence[CardKind]) -> GameState:
    """Replace a seat's hand with fresh cards of these kinds (ids "t<seat>-<n>")."""
    i = find_player(state, seat)
    hand = tuple(Card(id=f"t{seat}-{n}", kind=k) for n, k in enumerate(kinds))
    players = list(state.players)
    players[i] = replace(players[i], hand=hand)
    return replace(state, players=tuple(players))


def card_of(state: GameState, seat: int, kind: CardKind) -> str:
    """The id of a card of `kind` in `seat`'s hand."""
    p = state.players[find_player(state, seat)]
    return next(c.id for c in p.hand if c.kind == kind)


def player(state: GameState, seat: int):  # type: ignore[no-untyped-def]
    """The Player for a seat."""
    return state.players[find_player(state, seat)]
