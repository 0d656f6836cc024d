"""Phase transitions and their resolutions: dealing, odds, Extortion, the Reveal, the race,
payouts, interest, the shop refill and the final standings.

Works on a `Draft` (a mutable scratch copy living inside one `apply` call) and returns a new
frozen `GameState`; the input state is never touched.
"""

from __future__ import annotations

from typing import Final

from msgspec.structs import replace

from game import race
from game.cards import CARD_KINDS, Card, CardKind, copies_per_kind
from game.events import Event, private, public
from game.rng import Rng, card_id
from game.state import (
    PHASES,
    BetResult,
    GameState,
    Phase,
    Player,
    Quibble,
    RaceResult,
    Standing,
)

TIMED_PHASES: Final[tuple[Phase, ...]] = PHASES[1:-1]
STEROID_SPEED_CAP: Final = 64


def card_name(kind: CardKind) -> str:
    """A card kind as players read it ("drug_test" -> "Drug test")."""
    return kind.replace("_", " ").capitalize()


def loan_cap(state: GameState) -> int:
    """The most a player may owe after borrowing this round: grows by a step each round."""
    return state.config.loan_cap_per_round * max(1, state.round)


def with_interest(debt: int, percent: int) -> int:
    """Debt after one race: +percent%, rounded up to a whole coin."""
    return debt + (debt * percent + 99) // 100


class Draft:
    """A mutable scratch copy of a state for one multi-step change."""

    def __init__(self, state: GameState) -> None:
        self.base = state
        self.config = state.config
        self.rng = Rng(state.rng)
        self.serial = state.serial
        self.phase: Phase = state.phase
        self.round = state.round
        self.players = list(state.players)
        self.quibbles = list(state.quibbles)
        self.stacks = [list(s) for s in state.stacks]
        self.deck = list(state.deck)
        self.discard = list(state.discard)
        self.shop = list(state.shop)
        self.extortions = list(state.extortions)
        self.disguises = list(state.disguises)
        self.log = list(state.log)
        self.race: RaceResult | None = state.race
        self.bet_results = list(state.bet_results)
        self.standings = list(state.standings)
        self.winners = list(state.winners)
        self.events: list[Event] = []

    def build(self) -> GameState:
        """The new frozen state."""
        return replace(
            self.base,
            rng=self.rng.state,
            serial=self.serial,
            phase=self.phase,
            round=self.round,
            players=tuple(self.players),
            quibbles=tuple(self.quibbles),
            stacks=tuple(tuple(s) for s in self.stacks),
            deck=tuple(self.deck),
            discard=tuple(self.discard),
            shop=tuple(self.shop),
            extortions=tuple(self.extortions),
            disguises=tuple(self.disguises),
            log=tuple(self.log),
            race=self.race,
            bet_results=tuple(self.bet_results),
            standings=tuple(self.standings),
            winners=tuple(self.winners),
        )

    def mint(self, kind: CardKind) -> Card:
        """A new card instance with a fresh opaque id."""
        self.serial += 1
        return Card(id=card_id(self.serial, self.base.id_key), kind=kind)

    def draw(self) -> Card | None:
        """The top card of the deck, reshuffling the discard pile in when the deck is empty."""
        if not self.deck:
            if not self.discard:
                return None
            self.deck = self.rng.shuffled(self.discard)
            self.discard = []
        return self.deck.pop()

    def deal(self, index: int, count: int) -> None:
        """Deal up to `count` cards to players[index], never past the hand limit."""
        p = self.players[index]
        hand = list(p.hand)
        for _ in range(count):
            if len(hand) >= self.config.hand_limit:
                break
            card = self.draw()
            if card is None:
                break
            hand.append(self.mint(card.kind))  # a card entering a hand gets a fresh id
        self.players[index] = replace(p, hand=tuple(hand))


# ---------------------------------------------------------------- starting and rounds


def start_game(d: Draft) -> None:
    """Build and shuffle the deck, deal starting hands and begin round 1."""
    copies = copies_per_kind(len(d.players))
    d.deck = d.rng.shuffled([d.mint(kind) for kind in CARD_KINDS for _ in range(copies)])
    for i in range(len(d.players)):
        d.deal(i, d.config.starting_hand)
    d.events.append(public("phase", f"The game starts with {len(d.players)} players"))
    start_round(d, 1)


def start_round(d: Draft, number: int) -> None:
    """A fresh field with odds, per-round draws, cleared bets and items: Betting begins."""
    d.round = number
    if number > 1:
        for i in range(len(d.players)):
            d.deal(i, d.config.draw_per_round)
    field = race.draw_field(d.rng, len(d.players))
    weights = [race.race_weight(speed, 0) for _, speed in field]
    samples = d.config.odds_samples
    wins = race.simulate_win_counts(d.rng, weights, samples)
    d.quibbles = [
        Quibble(
            index=i,
            name=name,
            base_speed=speed,
            speed=speed,
            odds_milli=race.odds_from_wins(wins[i], samples, d.config.max_odds_milli),
        )
        for i, (name, speed) in enumerate(field)
    ]
    d.stacks = [[] for _ in d.quibbles]
    d.extortions, d.disguises, d.log, d.bet_results = [], [], [], []
    d.race = None
    d.players = [
        replace(
            p,
            bet=None,
            items_played=0,
            plays=(),
            futuresight=False,
            stupified=False,
            safeguarded=False,
            notices=(),
            ready=False,
        )
        for p in d.players
    ]
    d.phase = "betting"
    d.events.append(public("phase", f"Round {number}: betting opens"))


# ---------------------------------------------------------------- phase ends


def end_phase(d: Draft) -> None:
    """Resolve the current phase and move to the next (clearing everyone's ready flag)."""
    phase = d.phase
    d.players = [replace(p, ready=False) if p.ready else p for p in d.players]
    if phase == "betting":
        d.phase = "item"
    elif phase == "item":
        d.phase = "discussion"
    elif phase == "discussion":
        resolve_extortions(d)
        d.phase = "reveal"
    elif phase == "reveal":
        resolve_reveal(d)
        d.race = race.run_race(d.rng, tuple(d.quibbles))
        d.phase = "race"
        winner = d.race.winner
        text = "no quibble finished" if winner is None else f"{d.quibbles[winner].name} wins"
        d.events.append(public("race", f"Round {d.round} race: {text}"))
    elif phase == "race":
        settle_bets(d)
        d.phase = "payout"
    elif phase == "payout":
        for stack in d.stacks:
            d.discard.extend(item.card for item in stack)
        d.stacks = [[] for _ in d.quibbles]
        refill_shop(d)
        d.phase = "purchase"
    elif phase == "purchase":
        if d.round >= d.config.rounds:
            finish_game(d)
            return
        start_round(d, d.round + 1)
        return
    else:
        return
    d.events.append(public("phase", f"Round {d.round}: {d.phase}"))


def resolve_extortions(d: Draft) -> None:
    """Each pending Extortion takes one random card from its target's hand.

    Order: the pending Extortions sorted by (thief seat, target seat), then shuffled by the
    seeded RNG, so neither arrival order nor seat order decides who gets a contested card.
    A thief whose hand is full takes nothing; an empty-handed target gives nothing.
    """
    seats = {p.seat: i for i, p in enumerate(d.players)}
    canonical = sorted(d.extortions, key=lambda e: (e.by, e.target))
    for ext in d.rng.shuffled(canonical):
        thief_i, victim_i = seats[ext.by], seats[ext.target]
        thief, victim = d.players[thief_i], d.players[victim_i]
        if not victim.hand:
            note = f"{victim.name} had no cards to take"
            d.players[thief_i] = replace(thief, notices=(*thief.notices, note))
            continue
        if len(thief.hand) >= d.config.hand_limit:
            note = f"Your hand was full: Extortion on {victim.name} took nothing"
            d.players[thief_i] = replace(thief, notices=(*thief.notices, note))
            continue
        k = d.rng.below(len(victim.hand))
        taken = victim.hand[k]
        victim = replace(
            victim,
            hand=victim.hand[:k] + victim.hand[k + 1 :],
            notices=(*victim.notices, f"{thief.name} took your {card_name(taken.kind)}"),
        )
        d.players[victim_i] = victim
        thief = d.players[thief_i]
        d.players[thief_i] = replace(
            thief,
            hand=(*thief.hand, d.mint(taken.kind)),
            notices=(*thief.notices, f"You took {card_name(taken.kind)} from {victim.name}"),
        )
        d.events.append(private("extortion", f"You took {card_name(taken.kind)}", ext.by))
        d.events.append(private("extortion", f"{thief.name} took a card", ext.target))
    d.extortions = []


def resolve_reveal(d: Draft) -> None:
    """Disguise swaps, then every stack flips and applies, in this fixed order per stack:
    blockers (Vomitex cancels Poison, Tinfoil hat cancels Psyblast), Steroids (speed x2
    each, steroid user), Drug test (disqualifies a steroid user), Poison (-2 speed each,
    floor 1), Psyblast (+2 confusion each), Gun (dead). Stupify ends here.
    """
    for dis in sorted(d.disguises, key=lambda x: x.by):
        d.stacks[dis.a], d.stacks[dis.b] = d.stacks[dis.b], d.stacks[dis.a]
        d.log.append(f"Disguise: the stacks of {d.quibbles[dis.a].name} and "
                     f"{d.quibbles[dis.b].name} were swapped")
        d.events.append(public("disguise", d.log[-1]))
    d.disguises = []
    for i, stack in enumerate(d.stacks):
        d.quibbles[i] = apply_items(d.quibbles[i], [item.card.kind for item in stack])
    d.players = [replace(p, stupified=False) if p.stupified else p for p in d.players]


def apply_items(q: Quibble, kinds: list[CardKind]) -> Quibble:
    """A quibble after its stack's items take effect (order in `resolve_reveal`)."""
    count = kinds.count
    poison = 0 if count("vomitex") else count("poison")
    psyblast = 0 if count("tinfoil_hat") else count("psyblast")
    speed = q.base_speed
    steroids = count("steroids")
    user = q.steroid_user or steroids > 0
    for _ in range(steroids):
        speed = min(STEROID_SPEED_CAP, speed * 2)
    status = q.status
    if count("drug_test") and user:
        status = "disqualified"
    speed = max(1, speed - 2 * poison)
    confusion = q.confusion + 2 * psyblast
    if count("gun"):
        status = "dead"
    return replace(q, speed=speed, confusion=confusion, steroid_user=user, status=status)


def settle_bets(d: Draft) -> None:
    """Pay bets on the winner at the posted odds (stake included, floored); a race with no
    finisher refunds every stake; then every debt grows by the interest rate."""
    assert d.race is not None
    winner = d.race.winner
    results = []
    for i, p in enumerate(d.players):
        coins, bet = p.coins, p.bet
        if bet is not None:
            if winner is None:
                returned = bet.amount
            elif bet.quibble == winner:
                returned = bet.amount * d.quibbles[winner].odds_milli // 1000
            else:
                returned = 0
            coins += returned
            results.append(
                BetResult(seat=p.seat, quibble=bet.quibble, amount=bet.amount, returned=returned)
            )
        debt = with_interest(p.debt, d.config.interest_percent)
        if coins != p.coins or debt != p.debt:
            d.players[i] = replace(p, coins=coins, debt=debt)
    d.bet_results = results
    total = sum(r.returned for r in results)
    d.events.append(public("payout", f"{len(results)} bets settled, {total} coins paid out"))


def refill_shop(d: Draft) -> None:
    """Top the shop row up to `shop_size` face-up cards from the deck."""
    while len(d.shop) < d.config.shop_size:
        card = d.draw()
        if card is None:
            break
        d.shop.append(card)


def standings(players: list[Player] | tuple[Player, ...]) -> list[Standing]:
    """Players ranked by coins minus debt (best first, seat breaks display ties only)."""
    ranked = sorted(players, key=lambda p: (-(p.coins - p.debt), p.seat))
    out: list[Standing] = []
    for pos, p in enumerate(ranked):
        score = p.coins - p.debt
        rank = out[-1].rank if out and out[-1].score == score else pos + 1
        out.append(
            Standing(seat=p.seat, name=p.name, coins=p.coins, debt=p.debt, score=score, rank=rank)
        )
    return out


def finish_game(d: Draft) -> None:
    """Game over: standings are final and everyone with the top score wins."""
    d.phase = "over"
    d.standings = standings(d.players)
    d.winners = [s.seat for s in d.standings if s.rank == 1]
    d.players = [replace(p, ready=False) for p in d.players]
    names = ", ".join(s.name for s in d.standings if s.rank == 1)
    d.events.append(public("game_over", f"Game over: {names or 'nobody'} wins"))


def all_ready(players: tuple[Player, ...] | list[Player]) -> bool:
    """Every connected player is ready (and at least one is connected)."""
    any_connected = False
    for p in players:
        if p.connected:
            if not p.ready:
                return False
            any_connected = True
    return any_connected

