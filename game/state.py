"""The whole truth of one game: frozen msgspec Structs, including the RNG state.

Nothing here is sent to players as-is; `game.views` builds each player's redacted view.
"""

from __future__ import annotations

from typing import Annotated, Final, Literal, get_args

import msgspec

from game.cards import Card

Phase = Literal[
    "lobby", "betting", "item", "discussion", "reveal", "race", "payout", "purchase", "over"
]
PHASES: Final[tuple[Phase, ...]] = get_args(Phase)
QuibbleStatus = Literal["running", "dead", "disqualified"]

Seconds = Annotated[int, msgspec.Meta(ge=1, le=3600)]


class PhaseSeconds(msgspec.Struct, frozen=True, kw_only=True):
    """How long each timed phase lasts; the host turns these into wall-clock deadlines."""

    betting: Seconds = 45
    item: Seconds = 40
    discussion: Seconds = 60
    reveal: Seconds = 12
    race: Seconds = 15
    payout: Seconds = 12
    purchase: Seconds = 40


class GameConfig(msgspec.Struct, frozen=True, kw_only=True):
    """Everything that parameterises a game (tunable numbers are documented in RULES.md)."""

    seed: Annotated[int, msgspec.Meta(ge=0, le=2**63 - 1)] = 0
    rounds: Annotated[int, msgspec.Meta(ge=1, le=50)] = 5
    starting_coins: Annotated[int, msgspec.Meta(ge=1, le=10**9)] = 1000
    starting_hand: Annotated[int, msgspec.Meta(ge=0, le=5)] = 3
    hand_limit: Annotated[int, msgspec.Meta(ge=1, le=10)] = 5
    items_per_round: Annotated[int, msgspec.Meta(ge=1, le=10)] = 2
    draw_per_round: Annotated[int, msgspec.Meta(ge=0, le=5)] = 1
    shop_size: Annotated[int, msgspec.Meta(ge=0, le=12)] = 4
    min_players: Annotated[int, msgspec.Meta(ge=1, le=500)] = 3
    max_players: Annotated[int, msgspec.Meta(ge=1, le=1000)] = 500
    loan_cap_per_round: Annotated[int, msgspec.Meta(ge=0, le=10**9)] = 250
    interest_percent: Annotated[int, msgspec.Meta(ge=0, le=100)] = 5
    odds_samples: Annotated[int, msgspec.Meta(ge=1, le=100_000)] = 1000
    max_odds_milli: Annotated[int, msgspec.Meta(ge=1000, le=1_000_000)] = 10_000
    phase_seconds: PhaseSeconds = msgspec.field(default_factory=PhaseSeconds)


class Bet(msgspec.Struct, frozen=True, kw_only=True):
    """A player's secret stake on one quibble for the current race."""

    quibble: int
    amount: int


class PlayedItem(msgspec.Struct, frozen=True, kw_only=True):
    """A face-down item on a stack; `by` (who played it) is never shown to anyone else."""

    card: Card
    by: int


class OwnPlay(msgspec.Struct, frozen=True, kw_only=True):
    """A player's own record of an item they played this round (their view shows it)."""

    card: Card
    quibble: int


class Player(msgspec.Struct, frozen=True, kw_only=True):
    """One seat. Hand, bet, debt and plays are secret to this seat."""

    seat: int
    name: str
    coins: int
    debt: int = 0
    hand: tuple[Card, ...] = ()
    connected: bool = True
    ready: bool = False
    bet: Bet | None = None
    items_played: int = 0
    plays: tuple[OwnPlay, ...] = ()
    futuresight: bool = False
    stupified: bool = False
    safeguarded: bool = False
    notices: tuple[str, ...] = ()  # private messages this round (e.g. what Extortion took)


class Quibble(msgspec.Struct, frozen=True, kw_only=True):
    """A racer this round. speed/confusion/status are final only after the Reveal."""

    index: int
    name: str
    base_speed: int
    odds_milli: int  # decimal odds x1000, e.g. 3500 = pays 3.5x the stake (stake included)
    speed: int
    confusion: int = 0
    steroid_user: bool = False
    status: QuibbleStatus = "running"


class Extortion(msgspec.Struct, frozen=True, kw_only=True):
    """A pending Extortion: resolved at the end of Discussion (RULES.md says the order)."""

    by: int
    target: int


class Disguise(msgspec.Struct, frozen=True, kw_only=True):
    """A pending Disguise: swaps stacks a and b at the end of the Reveal phase."""

    by: int
    a: int
    b: int


class RaceResult(msgspec.Struct, frozen=True, kw_only=True):
    """The race as a screen animates it.

    `order`: finishing quibbles, first to last. `ticks[t][q]`: quibble q's position at tick t,
    0..TRACK_LENGTH (100 = finished). Dead and disqualified quibbles do not finish.
    """

    order: tuple[int, ...]
    ticks: tuple[tuple[int, ...], ...]
    winner: int | None


class BetResult(msgspec.Struct, frozen=True, kw_only=True):
    """One settled bet, public from the Payout phase on."""

    seat: int
    quibble: int
    amount: int
    returned: int  # coins credited back (winnings incl. stake, refund, or 0)
    safeguarded: bool = False


class Standing(msgspec.Struct, frozen=True, kw_only=True):
    """A final (or current) ranking line: score = coins - debt; equal scores share a rank."""

    seat: int
    name: str
    coins: int
    debt: int
    score: int
    rank: int


class GameState(msgspec.Struct, frozen=True, kw_only=True):
    """The authoritative game state. Never mutated: `apply` returns a new one."""

    config: GameConfig
    phase: Phase = "lobby"
    round: int = 0
    rng: int = 0  # splitmix64 state: secret, never in a view
    id_key: int = 0  # card-id key: secret
    serial: int = 0  # card ids minted so far
    players: tuple[Player, ...] = ()
    quibbles: tuple[Quibble, ...] = ()
    stacks: tuple[tuple[PlayedItem, ...], ...] = ()
    deck: tuple[Card, ...] = ()
    discard: tuple[Card, ...] = ()
    shop: tuple[Card, ...] = ()
    extortions: tuple[Extortion, ...] = ()
    disguises: tuple[Disguise, ...] = ()
    log: tuple[str, ...] = ()  # public happenings this round (Stupify, Extortion, swaps)
    race: RaceResult | None = None
    bet_results: tuple[BetResult, ...] = ()
    standings: tuple[Standing, ...] = ()
    winners: tuple[int, ...] = ()

    @property
    def phase_seconds(self) -> int:
        """The current phase's duration in seconds; 0 = no deadline (lobby, over)."""
        return phase_duration(self.config, self.phase)


def phase_duration(config: GameConfig, phase: Phase) -> int:
    """Seconds the phase lasts under this config; 0 for the untimed lobby and game over."""
    if phase in ("lobby", "over"):
        return 0
    seconds: int = getattr(config.phase_seconds, phase)
    return seconds


def find_player(state: GameState, seat: int) -> int:
    """Index of `seat` in state.players, or -1. Players are kept sorted by seat."""
    players = state.players
    if 0 <= seat < len(players) and players[seat].seat == seat:
        return seat  # the usual case: seats handed out 0, 1, 2, ...
    lo, hi = 0, len(players)
    while lo < hi:
        mid = (lo + hi) // 2
        if players[mid].seat < seat:
            lo = mid + 1
        else:
            hi = mid
    if lo < len(players) and players[lo].seat == seat:
        return lo
    return -1
