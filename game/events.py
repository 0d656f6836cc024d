"""What `apply` reports happened, each addressed to everyone or to one seat."""

from __future__ import annotations

from typing import Literal

import msgspec

EventKind = Literal[
    "player_joined",
    "connection",
    "ready",
    "phase",
    "bet",
    "borrow",
    "card",
    "extortion",
    "stupify",
    "disguise",
    "race",
    "payout",
    "purchase",
    "game_over",
]


class Event(msgspec.Struct, frozen=True, kw_only=True):
    """One happening. `audience` None = anyone may see it; an int = only that seat may.

    The host must forward a private event to its seat only (or drop it): views, not events,
    are the authoritative way players learn the state.
    """

    kind: EventKind
    text: str
    audience: int | None = None
    seat: int | None = None


def public(kind: EventKind, text: str, seat: int | None = None) -> Event:
    """An event anyone may see."""
    return Event(kind=kind, text=text, seat=seat)


def private(kind: EventKind, text: str, seat: int) -> Event:
    """An event only `seat` may see."""
    return Event(kind=kind, text=text, audience=seat, seat=seat)
