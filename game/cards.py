"""The 13 cards: their kinds, the phase each is played in, shop prices and the deck recipe."""

from __future__ import annotations

from typing import Annotated, Final, Literal, get_args

import msgspec

CardKind = Literal[
    "futuresight",
    "poison",
    "vomitex",
    "steroids",
    "drug_test",
    "psyblast",
    "tinfoil_hat",
    "gun",
    "extortion",
    "stupify",
    "disguise",
    "shovel",
    "safeguard",
]

CARD_KINDS: Final[tuple[CardKind, ...]] = get_args(CardKind)

# Which phase each card is played in (the printed phase tag).
CARD_PHASE: Final[dict[CardKind, str]] = {
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

ITEM_KINDS: Final[frozenset[CardKind]] = frozenset(k for k, p in CARD_PHASE.items() if p == "item")

# Shop prices in coins (tunable; RULES.md states them and tests pin them).
PRICES: Final[dict[CardKind, int]] = {
    "futuresight": 120,
    "poison": 60,
    "vomitex": 40,
    "steroids": 80,
    "drug_test": 50,
    "psyblast": 60,
    "tinfoil_hat": 40,
    "gun": 150,
    "extortion": 100,
    "stupify": 20,
    "disguise": 90,
    "shovel": 70,
    "safeguard": 110,
}

CardId = Annotated[str, msgspec.Meta(min_length=1, max_length=16)]


class Card(msgspec.Struct, frozen=True, kw_only=True):
    """One physical card: an opaque id (unique in the game) and its kind."""

    id: str
    kind: CardKind


def copies_per_kind(players: int) -> int:
    """How many copies of each card kind the deck holds for a game of `players`.

    Enough for every starting hand, per-round draws and shop refills without running dry
    often: 3 of each plus 5 cards per player spread over the 13 kinds.
    """
    return 3 + (max(players, 0) * 5 + 12) // 13
