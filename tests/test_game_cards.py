"""Every one of the 13 cards, in its phase, with the numbers RULES.md states."""

from __future__ import annotations

import msgspec
import pytest

from game import PlaceBet, PlayCard, apply, view_for
from game.cards import CARD_KINDS, CARD_PHASE, PRICES, copies_per_kind
from tests.game_setup import advance_to, ok, player, started, with_hand


def after_reveal(*kinds: str, quibble: int = 0):  # type: ignore[no-untyped-def]
    """The quibble after the Reveal with `kinds` played on its stack (one seat per card)."""
    state = advance_to(started(8, seed=5), "item")
    for seat, kind in enumerate(kinds):
        state = with_hand(state, seat, [kind])
        state = ok(state, PlayCard(seat=seat, card=f"t{seat}-0", quibble=quibble), seat)
    state = advance_to(state, "race")
    return state, state.quibbles[quibble]


def test_card_table_is_the_printed_one() -> None:
    assert len(CARD_KINDS) == 13
    assert CARD_PHASE == {
        "futuresight": "betting",
        "poison": "item",
        "vomitex": "item",
        "steroids": "item",
        "drug_test": "item",
        "psyblast": "item",
        "tinfoil_hat": "item",
        "gun": "item",
        "extortion": "discussion",
        "stupify": "discussion",
        "disguise": "reveal",
        "shovel": "purchase",
        "safeguard": "payout",
    }
    assert PRICES["gun"] == 150 and PRICES["stupify"] == 20
    assert copies_per_kind(6) == 3 + 3 and copies_per_kind(500) == 3 + 193


@pytest.mark.parametrize("kind", CARD_KINDS)
def test_every_card_is_refused_outside_its_phase(kind: str) -> None:
    state = started(4, seed=2)
    for phase in ("betting", "item", "discussion", "reveal", "race", "payout", "purchase"):
        state = advance_to(state, phase)  # type: ignore[arg-type]
        if phase == CARD_PHASE[kind]:  # type: ignore[index]
            continue
        state = with_hand(state, 0, [kind])  # type: ignore[list-item]
        r = apply(state, PlayCard(seat=0, card="t0-0", quibble=0, quibble_b=1, target=1), 0)
        assert r.rejection is not None and r.rejection.code == "wrong_card_phase"
        assert r.state is state


def test_poison_slows_by_two() -> None:
    _, q = after_reveal("poison")
    assert q.speed == q.base_speed - 2 or q.speed == 1


def test_two_poisons_floor_at_one() -> None:
    _, q = after_reveal("poison", "poison", "poison", "poison")
    assert q.speed == max(1, q.base_speed - 8)


def test_vomitex_blocks_poison_on_its_stack() -> None:
    _, q = after_reveal("poison", "vomitex", "poison")
    assert q.speed == q.base_speed and q.status == "running"


def test_steroids_double_speed_and_mark_a_user() -> None:
    _, q = after_reveal("steroids")
    assert q.speed == q.base_speed * 2 and q.steroid_user


def test_drug_test_disqualifies_a_steroid_user_only() -> None:
    state, q = after_reveal("steroids", "drug_test")
    assert q.status == "disqualified"
    assert 0 not in state.race.order  # type: ignore[union-attr]
    assert all(tick[0] == 0 for tick in state.race.ticks)  # type: ignore[union-attr]
    _, clean = after_reveal("drug_test")
    assert clean.status == "running" and clean.speed == clean.base_speed


def test_psyblast_confuses_unless_tinfoil_hat() -> None:
    _, q = after_reveal("psyblast", "psyblast")
    assert q.confusion == 4
    _, hatted = after_reveal("psyblast", "tinfoil_hat")
    assert hatted.confusion == 0


def test_gun_kills_so_the_quibble_never_finishes() -> None:
    state, q = after_reveal("gun")
    assert q.status == "dead"
    race = state.race
    assert race is not None and 0 not in race.order
    assert all(tick[0] < 100 for tick in race.ticks)


def test_futuresight_shows_every_stack_to_its_holder_only() -> None:
    state = with_hand(started(4, seed=3), 0, ["futuresight"])
    state = ok(state, PlayCard(seat=0, card="t0-0"), 0)
    again = with_hand(state, 0, ["futuresight"])
    assert apply(again, PlayCard(seat=0, card="t0-0"), 0).rejection.code == "already_active"  # type: ignore[union-attr]
    state = advance_to(state, "item")
    state = with_hand(state, 1, ["gun"])
    state = ok(state, PlayCard(seat=1, card="t1-0", quibble=2), 1)
    holder = view_for(state, 0)
    assert [c.id for c in holder.stacks[2].cards] == ["t1-0"]
    other = view_for(state, 3)
    assert other.stacks[2].size == 1 and other.stacks[2].cards == ()
    assert b"t1-0" not in msgspec.json.encode(other)


def test_extortion_takes_one_card_at_the_end_of_discussion() -> None:
    state = advance_to(started(4, seed=4), "discussion")
    state = with_hand(state, 0, ["extortion"])
    state = with_hand(state, 1, ["gun", "poison"])
    state = ok(state, PlayCard(seat=0, card="t0-0", target=1), 0)
    assert len(player(state, 1).hand) == 2  # nothing moves before the phase ends
    assert "Ana0 plays Extortion on Bo1" in state.log
    state = advance_to(state, "reveal")
    thief, victim = player(state, 0), player(state, 1)
    assert len(thief.hand) == 1 and len(victim.hand) == 1
    assert thief.hand[0].kind in ("gun", "poison") and thief.hand[0].id not in ("t1-0", "t1-1")
    assert thief.notices and victim.notices


def test_two_extortions_on_a_one_card_target_take_it_once() -> None:
    state = advance_to(started(4, seed=9), "discussion")
    state = with_hand(state, 0, ["extortion"])
    state = with_hand(state, 2, ["extortion"])
    state = with_hand(state, 1, ["gun"])
    state = ok(state, PlayCard(seat=0, card="t0-0", target=1), 0)
    state = ok(state, PlayCard(seat=2, card="t2-0", target=1), 2)
    state = advance_to(state, "reveal")
    hands = [len(player(state, s).hand) for s in (0, 1, 2)]
    assert sorted(hands) == [0, 0, 1] and hands[1] == 0


def test_extortion_order_does_not_depend_on_arrival_order() -> None:
    base = advance_to(started(4, seed=21), "discussion")
    base = with_hand(with_hand(with_hand(base, 0, ["extortion"]), 2, ["extortion"]), 1, ["gun"])
    a = ok(ok(base, PlayCard(seat=0, card="t0-0", target=1), 0),
           PlayCard(seat=2, card="t2-0", target=1), 2)
    b = ok(ok(base, PlayCard(seat=2, card="t2-0", target=1), 2),
           PlayCard(seat=0, card="t0-0", target=1), 0)
    winners = []
    for state in (a, b):
        state = advance_to(state, "reveal")
        winners.append([s for s in (0, 2) if player(state, s).hand])
    assert winners[0] == winners[1]


def test_stupify_is_public_and_lasts_until_the_reveal_ends() -> None:
    state = advance_to(started(4, seed=4), "discussion")
    state = with_hand(state, 0, ["stupify"])
    assert apply(state, PlayCard(seat=0, card="t0-0", target=0), 0).rejection.code == "bad_target"  # type: ignore[union-attr]
    assert apply(state, PlayCard(seat=0, card="t0-0", target=77), 0).rejection.code == "bad_target"  # type: ignore[union-attr]
    state = ok(state, PlayCard(seat=0, card="t0-0", target=2), 0)
    assert [s.stupified for s in view_for(state, 3).players] == [False, False, True, False]
    state = advance_to(state, "reveal")
    assert player(state, 2).stupified
    state = advance_to(state, "race")
    assert not player(state, 2).stupified


def test_disguise_swaps_two_stacks_before_they_flip() -> None:
    state = advance_to(started(8, seed=6), "item")
    state = with_hand(state, 1, ["gun"])
    state = ok(state, PlayCard(seat=1, card="t1-0", quibble=0), 1)
    state = advance_to(state, "reveal")
    state = with_hand(state, 0, ["disguise"])
    bad = PlayCard(seat=0, card="t0-0", quibble=0, quibble_b=0)
    assert apply(state, bad, 0).rejection.code == "bad_quibble"  # type: ignore[union-attr]
    state = ok(state, PlayCard(seat=0, card="t0-0", quibble=0, quibble_b=3), 0)
    assert view_for(state, 2).stacks[0].size == 1  # the swap waits for the phase end
    state = advance_to(state, "race")
    assert state.quibbles[0].status == "running" and state.quibbles[3].status == "dead"
    assert any("swapped" in line for line in state.log)


def test_shovel_digs_a_chosen_kind_out_of_the_discard() -> None:
    state = advance_to(started(4, seed=8), "discussion")
    state = with_hand(state, 0, ["stupify"])
    state = ok(state, PlayCard(seat=0, card="t0-0", target=1), 0)  # stupify -> discard
    state = advance_to(state, "purchase")
    state = with_hand(state, 2, ["shovel"])
    r = apply(state, PlayCard(seat=2, card="t2-0", pick="gun"), 2)
    if not any(c.kind == "gun" for c in state.discard):
        assert r.rejection.code == "not_in_discard"  # type: ignore[union-attr]
    state = ok(state, PlayCard(seat=2, card="t2-0", pick="stupify"), 2)
    hand = player(state, 2).hand
    assert [c.kind for c in hand] == ["stupify"] and hand[0].id != "t0-0"
    assert state.discard[-1].kind == "shovel"


def test_safeguard_recovers_a_lost_bet_once() -> None:
    state = started(8, seed=12)
    state = ok(state, PlaceBet(seat=0, quibble=0, amount=300), 0)
    state = ok(state, PlaceBet(seat=1, quibble=1, amount=100), 1)
    state = advance_to(state, "item")
    # Shoot quibble 0 so seat 0's bet surely loses; quibble 1 is protected by nothing.
    state = with_hand(state, 2, ["gun"])
    state = ok(state, PlayCard(seat=2, card="t2-0", quibble=0), 2)
    state = advance_to(state, "payout")
    assert player(state, 0).coins == 700
    state = with_hand(state, 0, ["safeguard", "safeguard"])
    state = ok(state, PlayCard(seat=0, card="t0-0"), 0)
    assert player(state, 0).coins == 1000
    again = apply(state, PlayCard(seat=0, card="t0-1"), 0)
    assert again.rejection is not None and again.rejection.code == "nothing_to_safeguard"
    state = with_hand(state, 3, ["safeguard"])  # seat 3 never bet
    r = apply(state, PlayCard(seat=3, card="t3-0"), 3)
    assert r.rejection is not None and r.rejection.code == "nothing_to_safeguard"
    public = [b for b in view_for(state, 5).bet_results if b.seat == 0]
    assert public[0].safeguarded and public[0].returned == 300
