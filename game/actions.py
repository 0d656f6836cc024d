"""Every intent that can change a game: one msgspec tagged union, tag field "type".

Host/system actions (only the host may send them: ``actor is None``): AddPlayer,
SetConnected, Timeout. StartGame may come from the host or any seated player in the lobby.
Player actions carry ``seat`` and are accepted only from that seat (or the host).
Wire bounds live here; the engine still re-checks every value, because a Struct built in
Python skips msgspec's validation.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

from game.cards import CardId, CardKind
from game.state import Phase

Seat = Annotated[int, msgspec.Meta(ge=0, le=65535)]
QuibbleIndex = Annotated[int, msgspec.Meta(ge=0, le=63)]
Coins = Annotated[int, msgspec.Meta(ge=0, le=10**12)]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=24)]
RoundNo = Annotated[int, msgspec.Meta(ge=0, le=1000)]


class ActionBase(msgspec.Struct, frozen=True, kw_only=True, tag_field="type"):
    """Base of every action; the tag is the class name (e.g. {"type": "PlaceBet", ...})."""


class AddPlayer(ActionBase, frozen=True, kw_only=True):
    """Host: seat a new player (lobby, or the Purchase phase between rounds)."""

    seat: Seat
    name: Name


class SetConnected(ActionBase, frozen=True, kw_only=True):
    """Host: a player's data channel came up or went away (disconnected players pass)."""

    seat: Seat
    connected: bool


class StartGame(ActionBase, frozen=True, kw_only=True):
    """Host or any seated player, in the lobby, with enough players: round 1 begins."""


class Timeout(ActionBase, frozen=True, kw_only=True):
    """Host: the deadline of phase (round, phase) passed. Ignored (rejected) if stale."""

    round: RoundNo
    phase: Phase


class Ready(ActionBase, frozen=True, kw_only=True):
    """Player: done with this phase (or not, with ready=False)."""

    seat: Seat
    ready: bool = True


class PlaceBet(ActionBase, frozen=True, kw_only=True):
    """Player, Betting: stake `amount` coins on quibble `quibble`; replaces an earlier bet."""

    seat: Seat
    quibble: QuibbleIndex
    amount: Coins


class Borrow(ActionBase, frozen=True, kw_only=True):
    """Player, Betting: take `amount` coins from the loan shark, up to the round's cap."""

    seat: Seat
    amount: Coins


class PlayCard(ActionBase, frozen=True, kw_only=True):
    """Player: play card `card` from the hand, in its phase.

    Arguments by card: items -> `quibble`; Disguise -> `quibble` and `quibble_b`;
    Extortion/Stupify -> `target` (a seat); Shovel -> `pick` (a card kind in the discard);
    Futuresight/Safeguard -> none.
    """

    seat: Seat
    card: CardId
    quibble: QuibbleIndex | None = None
    quibble_b: QuibbleIndex | None = None
    target: Seat | None = None
    pick: CardKind | None = None


class BuyCard(ActionBase, frozen=True, kw_only=True):
    """Player, Purchase: buy the shop card with id `card` at its price."""

    seat: Seat
    card: CardId


Action = (
    AddPlayer | SetConnected | StartGame | Timeout | Ready | PlaceBet | Borrow | PlayCard | BuyCard
)
PlayerAction = Ready | PlaceBet | Borrow | PlayCard | BuyCard
HOST_ONLY: tuple[type[ActionBase], ...] = (AddPlayer, SetConnected, Timeout)

_decoder: msgspec.json.Decoder[Action] = msgspec.json.Decoder(Action)
_encoder = msgspec.json.Encoder()


def decode_action(data: bytes | str) -> Action:
    """Decode one JSON action; raises msgspec.ValidationError/DecodeError on bad bytes."""
    return _decoder.decode(data)


def encode_action(action: Action) -> bytes:
    """The JSON bytes of an action (what a client sends, what the journal stores)."""
    return _encoder.encode(action)
