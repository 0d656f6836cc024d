"""Determinism: same seed + same accepted actions = byte-identical state; the RNG and ids."""

from __future__ import annotations

import msgspec

from game import GameConfig, GameState, Timeout, apply, new_game, phase_key
from game.race import MAX_TICKS
from game.rng import Rng, card_id, seed_state, splitmix64
from game.selfplay import play_game
from tests.game_setup import started

encode = msgspec.json.encode


def test_splitmix64_matches_its_reference_values() -> None:
    # Reference outputs of splitmix64 seeded with 0 (Vigna's splitmix64.c).
    out1, s = splitmix64(0)
    out2, _ = splitmix64(s)
    assert (out1, out2) == (0xE220A8397B1DCDAF, 0x6E789E6AA1B965F4)
    rng = Rng(0)
    assert rng.next64() == out1 and rng.next64() == out2


def test_card_ids_are_unique_and_opaque() -> None:
    ids = {card_id(n, 12345) for n in range(50_000)}
    assert len(ids) == 50_000 and all(len(i) == 12 for i in ids)
    assert card_id(1, 1) != card_id(1, 2)


def test_same_seed_same_game_byte_for_byte() -> None:
    a = play_game(GameConfig(seed=99, rounds=3), 9, "mixed")
    b = play_game(GameConfig(seed=99, rounds=3), 9, "mixed")
    c = play_game(GameConfig(seed=100, rounds=3), 9, "mixed")
    assert encode(a) == encode(b)
    assert encode(a) != encode(c)


def test_state_round_trips_through_json() -> None:
    state = started(5, seed=3)
    assert msgspec.json.decode(encode(state), type=GameState) == state
    assert seed_state(3) != seed_state(4)


def test_rejected_actions_do_not_disturb_the_rng() -> None:
    a = started(4, seed=7)
    b = apply(a, Timeout(round=9, phase="race"), None).state
    assert b is a
    for _ in range(7):
        key = phase_key(a)
        a = apply(a, Timeout(round=key[0], phase=key[1]), None).state
        b = apply(b, Timeout(round=key[0], phase=key[1]), None).state
    assert encode(a) == encode(b)


def test_races_stay_small_enough_for_one_message() -> None:
    for seed in range(30):
        state = play_game(GameConfig(seed=seed, rounds=1), 16, "random")
        assert state.race is not None
        assert len(state.race.ticks) <= MAX_TICKS
        assert len(encode(state.race)) < 16 * 1024
        assert len(state.quibbles) == 8
        # every finisher reaches the line strictly after the one before it
        finish = [next(t for t, tick in enumerate(state.race.ticks) if tick[q] == 100)
                  for q in state.race.order]
        assert finish == sorted(finish) and len(set(finish)) == len(finish)


def test_new_game_is_the_lobby() -> None:
    state = new_game(GameConfig(seed=1))
    assert (state.phase, state.round, state.players) == ("lobby", 0, ())
