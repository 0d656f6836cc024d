"""The engine's front door: `new_game`, `apply`, `phase_key`.

`apply` validates one action against the current state and either returns a new state with
the events it caused, or rejects it with a typed reason code and returns the very same state
object. It never raises for any action value, and uses no clock or global randomness.
"""

from __future__ import annotations

from typing import Literal

import msgspec
from msgspec.structs import replace

from game import rules
from game.actions import (
    HOST_ONLY,
    Action,
    ActionBase,
    AddPlayer,
    Borrow,
    BuyCard,
    PlaceBet,
    PlayCard,
    Ready,
    SetConnected,
    StartGame,
    Timeout,
)
from game.cards import CARD_PHASE, ITEM_KINDS, PRICES
from game.events import Event, private, public
from game.rng import Rng, seed_state
from game.state import (
    Bet,
    Disguise,
    Extortion,
    GameConfig,
    GameState,
    OwnPlay,
    Phase,
    PlayedItem,
    Player,
    find_player,
)

RejectionCode = Literal[
    "invalid_action",  # fails the wire schema (types, bounds)
    "game_over",
    "host_only",  # a player sent a host/system action
    "not_your_seat",  # actor acting for another seat
    "unknown_seat",  # no such player (actor, seat or target)
    "wrong_phase",  # action not allowed in this phase
    "seat_taken",
    "game_full",
    "bad_name",
    "not_enough_players",
    "stale_timeout",  # Timeout for a (round, phase) that is not the current one
    "bad_quibble",
    "bad_amount",
    "insufficient_coins",
    "loan_cap",
    "card_not_held",
    "wrong_card_phase",  # the card is played in another phase
    "bad_target",
    "item_limit",
    "already_active",
    "nothing_to_safeguard",
    "not_in_discard",
    "not_in_shop",
    "hand_full",
    "internal_error",  # a bug: the engine refused rather than crash the host
]


class Rejection(msgspec.Struct, frozen=True, kw_only=True):
    """Why an action was refused: a stable code for programs and a message for people."""

    code: RejectionCode
    message: str


class ApplyResult(msgspec.Struct, frozen=True, kw_only=True):
    """The outcome of `apply`: the new state (or the same one if rejected) and events."""

    state: GameState
    events: tuple[Event, ...] = ()
    rejection: Rejection | None = None

    @property
    def accepted(self) -> bool:
        """True if the action was applied."""
        return self.rejection is None


def new_game(config: GameConfig) -> GameState:
    """A fresh game in the lobby. Raises ValueError if the config breaks its bounds."""
    try:
        config = msgspec.convert(msgspec.to_builtins(config), GameConfig)
    except msgspec.ValidationError as exc:
        raise ValueError(f"bad game config: {exc}") from exc
    if config.min_players > config.max_players:
        raise ValueError("bad game config: min_players is larger than max_players")
    rng = Rng(seed_state(config.seed))
    id_key = rng.next64()
    return GameState(config=config, rng=rng.state, id_key=id_key)


def phase_key(state: GameState) -> tuple[int, Phase]:
    """(round, phase): what a host's Timeout must name to end the current phase."""
    return (state.round, state.phase)


def apply(state: GameState, action: Action, actor: int | None) -> ApplyResult:
    """Apply `action` sent by `actor` (None = the host/system, an int = that seat)."""
    if not isinstance(action, ActionBase):
        return _reject(state, "invalid_action", f"not an action: {type(action).__name__}")
    try:
        # Re-validate against the wire schema: a Struct built in Python skips msgspec's checks.
        checked = msgspec.convert(msgspec.to_builtins(action), Action)
    except (msgspec.ValidationError, TypeError, ValueError) as exc:
        return _reject(state, "invalid_action", f"malformed action: {exc}")
    if actor is not None and (type(actor) is not int):
        return _reject(state, "unknown_seat", "the actor must be a seat number or None")
    try:
        return _dispatch(state, checked, actor)
    except Exception as exc:  # a bug must cost one refused action, never the host's game
        return _reject(state, "internal_error", f"engine error: {type(exc).__name__}")


def _reject(state: GameState, code: RejectionCode, message: str) -> ApplyResult:
    return ApplyResult(state=state, rejection=Rejection(code=code, message=message))


def _dispatch(state: GameState, action: Action, actor: int | None) -> ApplyResult:
    if state.phase == "over":
        return _reject(state, "game_over", "the game is over")
    if actor is not None:
        if isinstance(action, HOST_ONLY):
            return _reject(state, "host_only", "only the host may send this action")
        if find_player(state, actor) < 0:
            return _reject(state, "unknown_seat", f"seat {actor} is not in this game")
    if isinstance(action, StartGame):
        return _start_game(state)
    if isinstance(action, AddPlayer):
        return _add_player(state, action)
    if isinstance(action, SetConnected):
        return _set_connected(state, action)
    if isinstance(action, Timeout):
        return _timeout(state, action)
    # Player actions from here on.
    if actor is not None and action.seat != actor:
        return _reject(state, "not_your_seat", f"seat {actor} cannot act for seat {action.seat}")
    i = find_player(state, action.seat)
    if i < 0:
        return _reject(state, "unknown_seat", f"seat {action.seat} is not in this game")
    if isinstance(action, Ready):
        return _ready(state, i, action)
    if state.phase == "lobby":
        return _reject(state, "wrong_phase", "the game has not started")
    if isinstance(action, PlaceBet):
        return _place_bet(state, i, action)
    if isinstance(action, Borrow):
        return _borrow(state, i, action)
    if isinstance(action, BuyCard):
        return _buy_card(state, i, action)
    return _play_card(state, i, action)


def _with_player(state: GameState, i: int, player: Player) -> GameState:
    players = state.players
    return replace(state, players=(*players[:i], player, *players[i + 1 :]))


def _after_ready_change(state: GameState, events: list[Event]) -> ApplyResult:
    """End the phase early if every connected player is now ready."""
    if state.phase in rules.TIMED_PHASES and rules.all_ready(state.players):
        d = rules.Draft(state)
        d.events = events
        rules.end_phase(d)
        return ApplyResult(state=d.build(), events=tuple(d.events))
    return ApplyResult(state=state, events=tuple(events))


# ---------------------------------------------------------------- host / system


def _start_game(state: GameState) -> ApplyResult:
    if state.phase != "lobby":
        return _reject(state, "wrong_phase", "the game has already started")
    if len(state.players) < state.config.min_players:
        need = state.config.min_players
        return _reject(state, "not_enough_players", f"need at least {need} players")
    d = rules.Draft(state)
    rules.start_game(d)
    return ApplyResult(state=d.build(), events=tuple(d.events))


def _add_player(state: GameState, action: AddPlayer) -> ApplyResult:
    if state.phase not in ("lobby", "purchase"):
        return _reject(state, "wrong_phase", "players join in the lobby or between rounds")
    if find_player(state, action.seat) >= 0:
        return _reject(state, "seat_taken", f"seat {action.seat} is taken")
    if len(state.players) >= state.config.max_players:
        return _reject(state, "game_full", "the game is full")
    name = action.name.strip()
    if not name or not name.isprintable():
        return _reject(state, "bad_name", "a name needs 1-24 printable characters")
    player = Player(seat=action.seat, name=name, coins=state.config.starting_coins)
    players = sorted((*state.players, player), key=lambda p: p.seat)
    state = replace(state, players=tuple(players))
    events = [public("player_joined", f"{name} joined", action.seat)]
    if state.phase == "lobby":
        return ApplyResult(state=state, events=tuple(events))
    d = rules.Draft(state)
    d.deal(find_player(state, action.seat), state.config.starting_hand)
    d.events = events
    return ApplyResult(state=d.build(), events=tuple(d.events))


def _set_connected(state: GameState, action: SetConnected) -> ApplyResult:
    i = find_player(state, action.seat)
    if i < 0:
        return _reject(state, "unknown_seat", f"seat {action.seat} is not in this game")
    p = state.players[i]
    state = _with_player(state, i, replace(p, connected=action.connected))
    word = "reconnected" if action.connected else "disconnected"
    events = [public("connection", f"{p.name} {word}", p.seat)]
    return _after_ready_change(state, events)


def _timeout(state: GameState, action: Timeout) -> ApplyResult:
    if state.phase == "lobby":
        return _reject(state, "wrong_phase", "the lobby has no deadline")
    if (action.round, action.phase) != phase_key(state):
        late = f"{action.round}/{action.phase}"
        now = f"{state.round}/{state.phase}"
        return _reject(state, "stale_timeout", f"timeout for {late}, but it is {now}")
    d = rules.Draft(state)
    rules.end_phase(d)
    return ApplyResult(state=d.build(), events=tuple(d.events))


# ---------------------------------------------------------------- player actions


def _ready(state: GameState, i: int, action: Ready) -> ApplyResult:
    p = state.players[i]
    if p.ready == action.ready:
        return ApplyResult(state=state)
    state = _with_player(state, i, replace(p, ready=action.ready))
    return _after_ready_change(state, [public("ready", f"{p.name} ready: {action.ready}", p.seat)])


def _place_bet(state: GameState, i: int, action: PlaceBet) -> ApplyResult:
    if state.phase != "betting":
        return _reject(state, "wrong_phase", "bets are placed in the Betting phase")
    if not 0 <= action.quibble < len(state.quibbles):
        return _reject(state, "bad_quibble", f"no quibble {action.quibble}")
    if action.amount < 1:
        return _reject(state, "bad_amount", "a bet is at least 1 coin")
    p = state.players[i]
    available = p.coins + (p.bet.amount if p.bet is not None else 0)
    if action.amount > available:
        return _reject(state, "insufficient_coins", f"you have {available} coins to bet")
    p = replace(
        p, coins=available - action.amount, bet=Bet(quibble=action.quibble, amount=action.amount)
    )
    name = state.quibbles[action.quibble].name
    event = private("bet", f"You bet {action.amount} on {name}", p.seat)
    return ApplyResult(state=_with_player(state, i, p), events=(event,))


def _borrow(state: GameState, i: int, action: Borrow) -> ApplyResult:
    if state.phase != "betting":
        return _reject(state, "wrong_phase", "the loan shark lends in the Betting phase")
    if action.amount < 1:
        return _reject(state, "bad_amount", "borrow at least 1 coin")
    p = state.players[i]
    cap = rules.loan_cap(state)
    if p.debt + action.amount > cap:
        return _reject(state, "loan_cap", f"your debt may not pass {cap} this round")
    p = replace(p, coins=p.coins + action.amount, debt=p.debt + action.amount)
    event = private("borrow", f"You borrowed {action.amount}; you owe {p.debt}", p.seat)
    return ApplyResult(state=_with_player(state, i, p), events=(event,))


def _buy_card(state: GameState, i: int, action: BuyCard) -> ApplyResult:
    if state.phase != "purchase":
        return _reject(state, "wrong_phase", "the shop is open in the Purchase phase")
    k = next((k for k, c in enumerate(state.shop) if c.id == action.card), -1)
    if k < 0:
        return _reject(state, "not_in_shop", "that card is not in the shop")
    card = state.shop[k]
    p = state.players[i]
    price = PRICES[card.kind]
    if p.coins < price:
        return _reject(state, "insufficient_coins", f"{card.kind} costs {price}")
    if len(p.hand) >= state.config.hand_limit:
        return _reject(state, "hand_full", "your hand is full")
    d = rules.Draft(state)
    d.shop.pop(k)
    d.players[i] = replace(p, coins=p.coins - price, hand=(*p.hand, d.mint(card.kind)))
    d.events.append(private("purchase", f"You bought {rules.card_name(card.kind)}", p.seat))
    d.events.append(public("purchase", f"{p.name} bought a card"))
    return ApplyResult(state=d.build(), events=tuple(d.events))


def _play_card(state: GameState, i: int, action: PlayCard) -> ApplyResult:
    p = state.players[i]
    k = next((k for k, c in enumerate(p.hand) if c.id == action.card), -1)
    if k < 0:
        return _reject(state, "card_not_held", "you do not hold that card")
    card = p.hand[k]
    if CARD_PHASE[card.kind] != state.phase:
        when = CARD_PHASE[card.kind]
        return _reject(state, "wrong_card_phase", f"{card.kind} is played in the {when} phase")
    rest = p.hand[:k] + p.hand[k + 1 :]
    kind = card.kind
    nq = len(state.quibbles)
    name = rules.card_name(kind)
    if kind in ITEM_KINDS:
        if action.quibble is None or not 0 <= action.quibble < nq:
            return _reject(state, "bad_quibble", "choose a quibble's stack for this item")
        if p.items_played >= state.config.items_per_round:
            limit = state.config.items_per_round
            return _reject(state, "item_limit", f"at most {limit} items per round")
        q = action.quibble
        stacks = state.stacks
        stack = (*stacks[q], PlayedItem(card=card, by=p.seat))
        p = replace(
            p,
            hand=rest,
            items_played=p.items_played + 1,
            plays=(*p.plays, OwnPlay(card=card, quibble=q)),
        )
        state = replace(_with_player(state, i, p), stacks=(*stacks[:q], stack, *stacks[q + 1 :]))
        qname = state.quibbles[q].name
        return ApplyResult(state=state, events=(private("card", f"{name} on {qname}", p.seat),))
    if kind == "futuresight":
        if p.futuresight:
            return _reject(state, "already_active", "Futuresight is already active for you")
        p = replace(p, hand=rest, futuresight=True)
        state = replace(_with_player(state, i, p), discard=(*state.discard, card))
        return ApplyResult(state=state, events=(private("card", "Futuresight active", p.seat),))
    if kind in ("extortion", "stupify"):
        t = -1 if action.target is None else find_player(state, action.target)
        if t < 0 or t == i:
            return _reject(state, "bad_target", "choose another player as the target")
        target = state.players[t]
        state = replace(
            _with_player(state, i, replace(p, hand=rest)), discard=(*state.discard, card)
        )
        text = f"{p.name} plays {name} on {target.name}"
        if kind == "extortion":
            ext = Extortion(by=p.seat, target=target.seat)
            state = replace(state, extortions=(*state.extortions, ext), log=(*state.log, text))
            return ApplyResult(state=state, events=(public("extortion", text, p.seat),))
        state = replace(_with_player(state, t, replace(target, stupified=True)),
                        log=(*state.log, text))
        return ApplyResult(state=state, events=(public("stupify", text, p.seat),))
    if kind == "disguise":
        a, b = action.quibble, action.quibble_b
        if a is None or b is None or a == b or not (0 <= a < nq and 0 <= b < nq):
            return _reject(state, "bad_quibble", "choose two different quibbles to swap")
        dis = Disguise(by=p.seat, a=a, b=b)
        state = replace(
            _with_player(state, i, replace(p, hand=rest)),
            discard=(*state.discard, card),
            disguises=(*state.disguises, dis),
        )
        return ApplyResult(state=state, events=(private("card", "Disguise played", p.seat),))
    if kind == "safeguard":
        r = next((r for r, b in enumerate(state.bet_results) if b.seat == p.seat), -1)
        res = state.bet_results[r] if r >= 0 else None
        if res is None or res.returned > 0 or res.safeguarded:
            return _reject(state, "nothing_to_safeguard", "you have no lost bet this round")
        res = replace(res, returned=res.amount, safeguarded=True)
        p = replace(p, hand=rest, coins=p.coins + res.amount, safeguarded=True)
        results = state.bet_results
        state = replace(
            _with_player(state, i, p),
            discard=(*state.discard, card),
            bet_results=(*results[:r], res, *results[r + 1 :]),
        )
        event = public("payout", f"{p.name} safeguarded a lost bet of {res.amount}", p.seat)
        return ApplyResult(state=state, events=(event,))
    # Shovel: the only card left.
    pick = action.pick
    j = -1 if pick is None else next(
        (j for j in range(len(state.discard) - 1, -1, -1) if state.discard[j].kind == pick), -1
    )
    if j < 0:
        return _reject(state, "not_in_discard", "choose a card kind that is in the discard pile")
    d = rules.Draft(state)
    picked = d.discard.pop(j)
    d.discard.append(card)
    d.players[i] = replace(p, hand=(*rest, d.mint(picked.kind)))
    d.events.append(private("card", f"Shovel: you dug up {rules.card_name(picked.kind)}", p.seat))
    return ApplyResult(state=d.build(), events=tuple(d.events))
