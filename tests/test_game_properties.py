"""Property tests: long random sequences of legal and illegal actions, checked after every step.

Invariants: never an exception (nor an `internal_error` refusal), a refusal returns the same
state, coins and debts never negative, every card in exactly one place, replaying the accepted
actions gives byte-identical state, a resumed (decoded) state gives the same views, and no view
ever carries another seat's hand, bet, debt or unrevealed items in its encoded bytes.
"""

from __future__ import annotations

from typing import Any

import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from msgspec.structs import replace

from game import (
    CARD_KINDS,
    Action,
    AddPlayer,
    Borrow,
    BuyCard,
    GameConfig,
    GameState,
    PlaceBet,
    PlayCard,
    Ready,
    SetConnected,
    StartGame,
    Timeout,
    apply,
    encode_view,
    new_game,
    public_view,
    view_for,
    views,
)
from game.cards import CARD_PHASE, copies_per_kind

HIDDEN_STACK_PHASES = ("betting", "item", "discussion", "reveal")
KINDS = ("bet", "bet", "borrow", "play", "play", "play", "play", "buy", "buy", "ready",
         "timeout", "timeout", "stale", "connect", "add", "start", "garbage")
encode = msgspec.json.encode


def all_cards(state: GameState) -> list[str]:
    ids = [c.id for c in state.deck] + [c.id for c in state.discard] + [c.id for c in state.shop]
    for p in state.players:
        ids += [c.id for c in p.hand]
    for stack in state.stacks:
        ids += [item.card.id for item in stack]
    return ids


def draw_action(data: Any, state: GameState) -> tuple[Action, int | None]:
    """A random action, mostly plausible for the current state, often illegal anyway."""
    seats = [p.seat for p in state.players]
    kind = data.draw(st.sampled_from(KINDS))
    seat = data.draw(st.sampled_from([*seats] * 8 + [99])) if seats else 99
    actor: int | None = data.draw(
        st.sampled_from([seat] * 12 + [None, 12345] + ([seats[0]] if seats else []))
    )
    amount = data.draw(st.one_of(st.integers(1, 300), st.integers(-3, 1300), st.just(10**13)))
    nq = max(1, len(state.quibbles))
    quibble = data.draw(st.one_of(st.integers(0, nq - 1), st.integers(-1, 9)))
    p = next((x for x in state.players if x.seat == seat), None)
    playable = [c.id for c in p.hand if CARD_PHASE[c.kind] == state.phase] if p else []
    others = [c.id for c in p.hand] if p else []
    card = data.draw(st.sampled_from([*playable] * 4 + others + ["c0ffee000000"]))
    if kind == "bet":
        return PlaceBet(seat=seat, quibble=quibble, amount=amount), actor
    if kind == "borrow":
        return Borrow(seat=seat, amount=amount), actor
    if kind == "play":
        target = data.draw(st.sampled_from([*seats] * 3 + [-1, 77]))
        discard_kinds = sorted({c.kind for c in state.discard})
        pick = data.draw(st.sampled_from([*discard_kinds] * 3 + [*CARD_KINDS, None]))
        quibble_b = data.draw(st.one_of(st.integers(0, nq - 1), st.integers(-1, 9)))
        return PlayCard(seat=seat, card=card, quibble=quibble, quibble_b=quibble_b,
                        target=target, pick=pick), actor
    if kind == "buy":
        shop_card = data.draw(st.sampled_from([*(c.id for c in state.shop), "deadbeef0000"]))
        return BuyCard(seat=seat, card=shop_card), actor
    if kind == "ready":
        return Ready(seat=seat, ready=data.draw(st.booleans())), actor
    if kind == "timeout":
        return Timeout(round=state.round, phase=state.phase), None
    if kind == "stale":
        return Timeout(round=state.round + data.draw(st.integers(-1, 1)), phase="race"), actor
    if kind == "connect":
        return SetConnected(seat=seat, connected=data.draw(st.booleans())), None
    if kind == "add":
        new_seat = data.draw(st.integers(0, 9))
        return AddPlayer(seat=new_seat, name=f"P{new_seat}x"), data.draw(st.sampled_from([None, 0]))
    if kind == "start":
        return StartGame(), actor
    return PlaceBet(seat=seat, quibble=quibble, amount=-amount - 1), actor  # garbage


def views_bytes(state: GameState) -> dict[int, bytes]:
    return {p.seat: encode(view_for(state, p.seat)) for p in state.players}


def assert_noninterference(state: GameState, seat: int) -> None:
    """Changing `seat`'s secrets (coins, debt, bet, hand ids, notices) changes no other
    seat's view by a single byte: nothing derived from them reaches anyone else."""
    if state.phase == "over":
        return  # final coins and debts are public standings
    i = next(n for n, p in enumerate(state.players) if p.seat == seat)
    p = state.players[i]
    bet = p.bet
    if bet is not None:
        bet = replace(bet, amount=bet.amount + 7919, quibble=(bet.quibble + 1) % 8)
    changed = replace(
        p,
        coins=p.coins + 7919,
        debt=p.debt + 104729,
        bet=bet,
        hand=tuple(replace(c, id=f"zz{n:010d}") for n, c in enumerate(p.hand)),
        notices=(*p.notices, "a secret notice"),
    )
    twin = replace(state, players=(*state.players[:i], changed, *state.players[i + 1 :]))
    before, after = views_bytes(state), views_bytes(twin)
    for other, blob in before.items():
        if other != seat:
            assert after[other] == blob, f"seat {other}'s view depends on seat {seat}'s secrets"
    assert encode(public_view(twin)) == encode(public_view(state))


def assert_views_consistent(state: GameState) -> None:
    """Incrementally cached views == views built from scratch == the spliced encoding."""
    cached = views_bytes(state)
    spliced = {p.seat: encode_view(state, p.seat) for p in state.players}
    views._last = None  # drop the cache: build from nothing
    assert views_bytes(state) == cached == spliced


def assert_no_leaks(state: GameState) -> None:
    views = views_bytes(state)
    secrets = [str(state.rng).encode(), str(state.id_key).encode()]
    if state.config.seed > 10**9:  # long enough that its digits cannot turn up by chance
        secrets.append(str(state.config.seed).encode())
    secrets += [c.id.encode() for c in state.deck]
    hidden_phase = state.phase in HIDDEN_STACK_PHASES
    for p in state.players:
        mine = [c.id.encode() for c in p.hand]
        played = [play.card.id.encode() for play in p.plays] if hidden_phase else []
        for other in state.players:
            if other.seat == p.seat:
                continue
            blob = views[other.seat]
            for secret in mine + secrets:
                assert secret not in blob, f"seat {other.seat} sees {secret!r} of seat {p.seat}"
            if not other.futuresight:
                for secret in played:
                    assert secret not in blob, f"seat {other.seat} sees a played item"
        # a player's own view decodes and names only its own secrets
        decoded = msgspec.json.decode(views[p.seat])
        assert decoded["seat"] == p.seat and decoded["debt"] == p.debt
    spectator = encode(public_view(state))
    for p in state.players:
        for c in p.hand:
            assert c.id.encode() not in spectator
    for secret in secrets:
        assert secret not in spectator


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), seed=st.integers(0, 2**63 - 1), steps=st.integers(40, 220))
def test_random_action_sequences_keep_every_invariant(data: Any, seed: int, steps: int) -> None:
    config = GameConfig(seed=seed, rounds=2, min_players=3, max_players=8)
    state = new_game(config)
    journal: list[tuple[Action, int | None]] = []
    total_cards: int | None = None
    for n in range(steps):
        if n < 3:  # a table of at least 3, then anything goes
            action: Action = AddPlayer(seat=n, name=f"Seat{n}")
            actor: int | None = None
        else:
            action, actor = draw_action(data, state)
        before_views = views_bytes(state)
        result = apply(state, action, actor)
        if result.rejection is not None:
            assert result.rejection.code != "internal_error", (action, result.rejection)
            assert result.state is state
            continue
        journal.append((action, actor))
        new = result.state
        for p in new.players:
            assert p.coins >= 0 and p.debt >= 0
        ids = all_cards(new)
        assert len(ids) == len(set(ids)), "a card is in two places"
        if new.phase != "lobby":
            if total_cards is None:
                total_cards = 13 * copies_per_kind(len(new.players))
            assert len(ids) == total_cards, "a card appeared or vanished"
        if isinstance(action, (PlaceBet, Borrow)):
            # secret actions: nobody else's view changes by a single byte
            after_views = views_bytes(new)
            for seat, blob in before_views.items():
                if seat != action.seat:
                    assert after_views[seat] == blob
        state = new
        assert_no_leaks(state)
        assert_views_consistent(state)
        if state.players:
            seats = [p.seat for p in state.players]
            assert_noninterference(state, data.draw(st.sampled_from(seats)))
        if state.phase == "over":
            break
    # Replay the journal: byte-identical state.
    replay = new_game(config)
    for action, actor in journal:
        result = apply(replay, action, actor)
        assert result.rejection is None
        replay = result.state
    assert encode(replay) == encode(state)
    # Resume from the encoded state (what a host reloads): same views, still no leaks.
    resumed = msgspec.json.decode(encode(state), type=GameState)
    assert views_bytes(resumed) == views_bytes(state)
    assert encode(public_view(resumed)) == encode(public_view(state))
    assert_no_leaks(resumed)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**63 - 1), players=st.integers(3, 12))
def test_whole_bot_games_end_and_stay_sane(seed: int, players: int) -> None:
    from game.selfplay import play_game

    state = play_game(GameConfig(seed=seed, rounds=2), players, "mixed")
    assert state.phase == "over" and state.winners
    assert all(p.coins >= 0 for p in state.players)
    ids = all_cards(state)
    assert len(ids) == len(set(ids)) == 13 * copies_per_kind(players)
    top = max(s.score for s in state.standings)
    assert {s.seat for s in state.standings if s.score == top} == set(state.winners)
