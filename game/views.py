"""What one player (or a spectator screen) may see: the only read path out of a GameState.

Secrets never copied into another seat's view: hands, bets, debts and coins (coins would
reveal bets and loans), who played which item, pending Disguises, the deck order, the RNG
state and card-id key. Stacks show sizes only until the Reveal ends (a Futuresight holder
sees their contents); from the Race on, stack contents are public but who played each
item stays secret; from the Payout on, the round's bets are public. Hand counts, readiness,
connection and Stupify are public. At game over the standings (coins, debt, score) are public.
"""

from __future__ import annotations

from typing import NamedTuple

import msgspec

from game import rules
from game.cards import CARD_KINDS, PRICES, Card, CardKind
from game.state import (
    Bet,
    BetResult,
    GameState,
    OwnPlay,
    Phase,
    Player,
    Quibble,
    RaceResult,
    Standing,
    find_player,
)

# Phases in which stack contents are still face-down.
_HIDDEN_STACK_PHASES: frozenset[Phase] = frozenset({"betting", "item", "discussion", "reveal"})


class StackView(msgspec.Struct, frozen=True, kw_only=True):
    """One quibble's item stack: its size, and the cards this viewer may see face-up."""

    quibble: int
    size: int
    cards: tuple[Card, ...] = ()


class SeatView(msgspec.Struct, frozen=True, kw_only=True):
    """What anyone may see of a player."""

    seat: int
    name: str
    connected: bool
    ready: bool
    hand_count: int
    stupified: bool


class ShopCard(msgspec.Struct, frozen=True, kw_only=True):
    """A face-up card for sale."""

    id: str
    kind: CardKind
    price: int


class KindCount(msgspec.Struct, frozen=True, kw_only=True):
    """How many cards of one kind lie in the (face-up) discard pile."""

    kind: CardKind
    count: int


class PublicView(msgspec.Struct, frozen=True, kw_only=True):
    """The table as a spectator or a shared screen sees it."""

    phase: Phase
    round: int
    rounds: int
    phase_seconds: int
    quibbles: tuple[Quibble, ...]
    stacks: tuple[StackView, ...]
    players: tuple[SeatView, ...]
    shop: tuple[ShopCard, ...]
    discard: tuple[KindCount, ...]
    deck_count: int
    log: tuple[str, ...]
    race: RaceResult | None
    bet_results: tuple[BetResult, ...]
    standings: tuple[Standing, ...]
    winners: tuple[int, ...]


class PlayerView(PublicView, frozen=True, kw_only=True):
    """Everything one seat may see: the public table (inherited fields) plus its own secrets.

    For a Futuresight holder `stacks` shows every stack's cards until the Reveal ends.
    """

    seat: int
    name: str
    ready: bool
    coins: int
    debt: int
    loan_cap: int  # the most this seat may owe after borrowing this round
    hand: tuple[Card, ...]
    hand_limit: int
    bet: Bet | None
    items_played: int
    items_per_round: int
    my_items: tuple[OwnPlay, ...]  # items this seat played this round, and where
    futuresight: bool
    stupified: bool
    safeguarded: bool
    notices: tuple[str, ...]


_PUBLIC_FIELDS: tuple[str, ...] = PublicView.__struct_fields__
_PERSONAL_FIELDS: tuple[str, ...] = tuple(
    f for f in PlayerView.__struct_fields__ if f not in _PUBLIC_FIELDS
)
# The seat-specific half of a PlayerView, for `encode_view`'s splice (same names and order).
_Personal = msgspec.defstruct(
    "_Personal",
    [(f, object) for f in _PERSONAL_FIELDS],
    frozen=True,
    kw_only=True,
)
_encoder = msgspec.json.Encoder()


class _Table(NamedTuple):
    """The parts every view of one state shares (built once per state)."""

    state: GameState
    public: PublicView
    open_stacks: tuple[StackView, ...]  # contents face-up (Futuresight holders)
    encoded: dict[bool, bytes]  # JSON of the public part, by "stacks face-up", built lazily


_last: _Table | None = None


def _seat_view(p: Player) -> SeatView:
    return SeatView(
        seat=p.seat,
        name=p.name,
        connected=p.connected,
        ready=p.ready,
        hand_count=len(p.hand),
        stupified=p.stupified,
    )


def _seat_views(state: GameState, prev: _Table | None) -> tuple[SeatView, ...]:
    """Public seat lines, reusing the previous table's line for every unchanged Player."""
    if prev is None or len(prev.state.players) != len(state.players):
        return tuple(_seat_view(p) for p in state.players)
    if prev.state.players is state.players:
        return prev.public.players
    old_players, old_views = prev.state.players, prev.public.players
    return tuple(
        old_views[i] if old_players[i] is p else _seat_view(p) for i, p in enumerate(state.players)
    )


def _discard_counts(discard: tuple[Card, ...]) -> tuple[KindCount, ...]:
    counts = dict.fromkeys(CARD_KINDS, 0)
    for card in discard:
        counts[card.kind] += 1
    return tuple(KindCount(kind=k, count=n) for k, n in counts.items() if n)


def _table(state: GameState) -> _Table:
    # Views are pure functions of an immutable state; a host builds every seat's view of one
    # state in a row, and consecutive states share most of their parts. So the last table is
    # kept, and parts whose source objects are unchanged (by identity) are reused.
    global _last
    prev = _last
    if prev is not None and prev.state is state:
        return prev
    same_stacks = prev is not None and prev.state.stacks is state.stacks
    if prev is not None and same_stacks:
        open_stacks = prev.open_stacks
    else:
        open_stacks = tuple(
            StackView(quibble=q, size=len(s), cards=tuple(item.card for item in s))
            for q, s in enumerate(state.stacks)
        )
    if state.phase not in _HIDDEN_STACK_PHASES:
        stacks = open_stacks
    elif prev is not None and same_stacks and prev.state.phase in _HIDDEN_STACK_PHASES:
        stacks = prev.public.stacks
    else:
        stacks = tuple(StackView(quibble=q, size=len(s)) for q, s in enumerate(state.stacks))
    if prev is not None and prev.state.discard is state.discard:
        discard = prev.public.discard
    else:
        discard = _discard_counts(state.discard)
    if prev is not None and prev.state.shop is state.shop:
        shop = prev.public.shop
    else:
        shop = tuple(ShopCard(id=c.id, kind=c.kind, price=PRICES[c.kind]) for c in state.shop)
    public = PublicView(
        phase=state.phase,
        round=state.round,
        rounds=state.config.rounds,
        phase_seconds=state.phase_seconds,
        quibbles=state.quibbles,
        stacks=stacks,
        players=_seat_views(state, prev),
        shop=shop,
        discard=discard,
        deck_count=len(state.deck),
        log=state.log,
        race=state.race,
        bet_results=state.bet_results if state.phase in ("payout", "purchase", "over") else (),
        standings=state.standings,
        winners=state.winners,
    )
    _last = _Table(state=state, public=public, open_stacks=open_stacks, encoded={})
    return _last


def public_view(state: GameState) -> PublicView:
    """What a spectator or the shared board may see."""
    return _table(state).public


def view_for(state: GameState, seat: int) -> PlayerView:
    """What `seat` may see. Raises KeyError if no such seat is in the game."""
    i = find_player(state, seat)
    if i < 0:
        raise KeyError(f"seat {seat} is not in this game")
    p = state.players[i]
    table = _table(state)
    pub = table.public
    return PlayerView(
        phase=pub.phase,
        round=pub.round,
        rounds=pub.rounds,
        phase_seconds=pub.phase_seconds,
        quibbles=pub.quibbles,
        stacks=table.open_stacks if p.futuresight else pub.stacks,
        players=pub.players,
        shop=pub.shop,
        discard=pub.discard,
        deck_count=pub.deck_count,
        log=pub.log,
        race=pub.race,
        bet_results=pub.bet_results,
        standings=pub.standings,
        winners=pub.winners,
        seat=p.seat,
        name=p.name,
        ready=p.ready,
        coins=p.coins,
        debt=p.debt,
        loan_cap=rules.loan_cap(state),
        hand=p.hand,
        hand_limit=state.config.hand_limit,
        bet=p.bet,
        items_played=p.items_played,
        items_per_round=state.config.items_per_round,
        my_items=p.plays,
        futuresight=p.futuresight,
        stupified=p.stupified,
        safeguarded=p.safeguarded,
        notices=p.notices,
    )


def encode_view(state: GameState, seat: int) -> bytes:
    """The JSON bytes of `view_for(state, seat)`, identical to encoding that view, but cheap
    at big tables: the public part is encoded once per state and spliced into every seat's."""
    view = view_for(state, seat)
    table = _table(state)
    shared = table.encoded.get(view.futuresight)
    if shared is None:
        pub = table.public
        if view.futuresight:
            pub = msgspec.structs.replace(pub, stacks=table.open_stacks)
        shared = table.encoded[view.futuresight] = _encoder.encode(pub)
    personal = _encoder.encode(_Personal(**{f: getattr(view, f) for f in _PERSONAL_FIELDS}))
    return b"".join((shared[:-1], b",", personal[1:]))


def views_for_all(state: GameState) -> dict[int, PlayerView]:
    """Every seated player's view of `state`, by seat."""
    return {p.seat: view_for(state, p.seat) for p in state.players}
