"""Bots that play from a PlayerView alone, so they work in-process and over the network.

`decide(view)` returns the actions to send now. A bot acts once per (round, phase): later
calls in the same phase return [] (views arrive after every action at a table). It ends
each phase's actions with Ready, so an all-bot table moves on without waiting for deadlines.
Each bot owns a seeded `Rng`; the same seed and the same views give the same actions.
"""

from __future__ import annotations

from game.actions import Action, Borrow, BuyCard, PlaceBet, PlayCard, Ready
from game.cards import CARD_PHASE, PRICES, Card, CardKind
from game.rng import Rng, seed_state
from game.views import PlayerView

_SABOTAGE: frozenset[CardKind] = frozenset({"poison", "psyblast", "gun", "drug_test"})
_HARMFUL: frozenset[CardKind] = frozenset({"poison", "psyblast", "gun"})
_ACTIVE_PHASES = frozenset(
    {"betting", "item", "discussion", "reveal", "race", "payout", "purchase"}
)


class Bot:
    """Common plumbing: the seeded RNG and acting once per phase."""

    def __init__(self, seed: int) -> None:
        self.rng = Rng(seed_state(seed))
        self._acted: tuple[int, str] | None = None

    def decide(self, view: PlayerView) -> list[Action]:
        """Actions to send for this view (empty if already acted in this phase)."""
        key = (view.round, view.phase)
        if view.phase not in _ACTIVE_PHASES or key == self._acted:
            return []
        self._acted = key
        actions = self.choose(view)
        actions.append(Ready(seat=view.seat))
        return actions

    def choose(self, view: PlayerView) -> list[Action]:
        """The phase's actions (without the final Ready)."""
        raise NotImplementedError

    @staticmethod
    def cards_of(view: PlayerView, phase: str) -> list[Card]:
        """Cards in hand playable in `phase`."""
        return [c for c in view.hand if CARD_PHASE[c.kind] == phase]

    @staticmethod
    def rivals(view: PlayerView) -> list[int]:
        """Other seats at the table."""
        return [s.seat for s in view.players if s.seat != view.seat]



class RandomBot(Bot):
    """Plays random, mostly legal actions: a fuzzer with manners."""

    def choose(self, view: PlayerView) -> list[Action]:
        """Random choices among the moves this phase offers."""
        rng, seat, nq = self.rng, view.seat, len(view.quibbles)
        out: list[Action] = []
        phase = view.phase
        if phase == "betting" and nq:
            room = view.loan_cap - view.debt
            if room > 0 and rng.below(5) == 0:
                out.append(Borrow(seat=seat, amount=1 + rng.below(room)))
            if view.coins > 0 and rng.below(10) < 7:
                amount = 1 + rng.below(max(1, min(view.coins, 300)))
                out.append(PlaceBet(seat=seat, quibble=rng.below(nq), amount=amount))
        for card in self.cards_of(view, phase):
            if rng.below(2):
                continue
            out.append(self._random_play(view, card))
        if phase == "purchase" and view.shop and rng.below(2):
            pick = view.shop[rng.below(len(view.shop))]
            if pick.price <= view.coins:
                out.append(BuyCard(seat=seat, card=pick.id))
        return out

    def _random_play(self, view: PlayerView, card: Card) -> Action:
        rng, nq = self.rng, max(1, len(view.quibbles))
        rivals = self.rivals(view)
        target = rivals[rng.below(len(rivals))] if rivals else view.seat
        pick: CardKind | None = None
        if view.discard:
            pick = view.discard[rng.below(len(view.discard))].kind
        return PlayCard(
            seat=view.seat,
            card=card.id,
            quibble=rng.below(nq),
            quibble_b=rng.below(nq),
            target=target,
            pick=pick,
        )


# Shop wish list, most wanted first.
_WANTED: tuple[CardKind, ...] = (
    "gun", "safeguard", "poison", "vomitex", "tinfoil_hat", "psyblast", "extortion",
    "disguise", "futuresight", "drug_test", "steroids", "shovel", "stupify",
)


class HeuristicBot(Bot):
    """Bets on value, sabotages the favourite, protects its own pick, shops with a reserve."""

    reserve = 300  # coins kept back when shopping

    def choose(self, view: PlayerView) -> list[Action]:
        """The phase's sensible moves."""
        handler = {
            "betting": self._betting,
            "item": self._items,
            "discussion": self._discussion,
            "reveal": self._reveal,
            "payout": self._payout,
            "purchase": self._purchase,
        }.get(view.phase)
        return handler(view) if handler else []

    @staticmethod
    def _weights(view: PlayerView) -> list[int]:
        return [
            max(1, q.speed - q.confusion) if q.status == "running" else 0 for q in view.quibbles
        ]

    def _pick(self, view: PlayerView) -> int | None:
        """Our quibble this round: the bet's, else the likeliest winner."""
        if view.bet is not None:
            return view.bet.quibble
        w = self._weights(view)
        return max(range(len(w)), key=lambda i: (w[i], -i)) if w else None

    def _favourite_rival(self, view: PlayerView, mine: int | None) -> int | None:
        w = self._weights(view)
        others = [i for i in range(len(w)) if i != mine]
        return max(others, key=lambda i: (w[i], -i)) if others else None

    def _betting(self, view: PlayerView) -> list[Action]:
        seat = view.seat
        out: list[Action] = []
        w = self._weights(view)
        total = sum(w)
        if not total:
            return []
        coins = view.coins
        room = view.loan_cap - view.debt
        if coins < 200 and room > 0:
            loan = min(room, 150)
            out.append(Borrow(seat=seat, amount=loan))
            coins += loan
        # Expected return per coin = p * odds; p from the speeds the view shows.
        value = [w[i] * q.odds_milli / (1000 * total) for i, q in enumerate(view.quibbles)]
        best = max(range(len(value)), key=lambda i: (value[i], -i))
        share = 5 if value[best] > 1.05 else 12
        amount = max(1, coins // share)
        if coins >= 1:
            out.append(PlaceBet(seat=seat, quibble=best, amount=min(amount, coins)))
        for card in self.cards_of(view, "betting"):
            out.append(PlayCard(seat=seat, card=card.id))
        return out

    def _items(self, view: PlayerView) -> list[Action]:
        seat = view.seat
        out: list[Action] = []
        mine = self._pick(view)
        rival = self._favourite_rival(view, mine)
        seen = {c.kind for s in view.stacks if s.quibble == mine for c in s.cards}
        budget = view.items_per_round - view.items_played
        for card in self.cards_of(view, "item"):
            if budget <= 0:
                break
            kind, target = card.kind, None
            if kind in _SABOTAGE and kind != "drug_test":
                target = rival
            elif kind == "drug_test":
                target = rival if self.rng.below(2) else None
            elif kind == "steroids" and "drug_test" not in seen:
                target = mine
            elif kind in ("vomitex", "tinfoil_hat"):
                target = mine
            if target is not None:
                out.append(PlayCard(seat=seat, card=card.id, quibble=target))
                budget -= 1
        return out

    def _discussion(self, view: PlayerView) -> list[Action]:
        seat = view.seat
        out: list[Action] = []
        others = [s for s in view.players if s.seat != seat]
        if not others:
            return out
        richest = max(others, key=lambda s: (s.hand_count, -s.seat))
        for card in self.cards_of(view, "discussion"):
            if card.kind == "extortion" and richest.hand_count > 0:
                out.append(PlayCard(seat=seat, card=card.id, target=richest.seat))
            elif card.kind == "stupify":
                victim = others[self.rng.below(len(others))]
                out.append(PlayCard(seat=seat, card=card.id, target=victim.seat))
        return out

    def _reveal(self, view: PlayerView) -> list[Action]:
        mine = self._pick(view)
        if mine is None or not view.futuresight:
            return []
        stack = view.stacks[mine].cards if mine < len(view.stacks) else ()
        harmful = [c for c in stack if c.kind in _HARMFUL]
        rival = self._favourite_rival(view, mine)
        disguises = [c for c in self.cards_of(view, "reveal") if c.kind == "disguise"]
        if harmful and disguises and rival is not None:
            return [PlayCard(seat=view.seat, card=disguises[0].id, quibble=mine, quibble_b=rival)]
        return []

    def _payout(self, view: PlayerView) -> list[Action]:
        lost = any(b.seat == view.seat and b.returned == 0 for b in view.bet_results)
        cards = [c for c in self.cards_of(view, "payout") if c.kind == "safeguard"]
        if lost and cards and not view.safeguarded:
            return [PlayCard(seat=view.seat, card=cards[0].id)]
        return []

    def _purchase(self, view: PlayerView) -> list[Action]:
        seat = view.seat
        out: list[Action] = []
        coins, space = view.coins, view.hand_limit - len(view.hand)
        shovels = self.cards_of(view, "purchase")
        in_discard = {k.kind for k in view.discard}
        wanted = [kind for kind in _WANTED if kind in in_discard and kind != "shovel"]
        if shovels and wanted:
            out.append(PlayCard(seat=seat, card=shovels[0].id, pick=wanted[0]))
        ranked = sorted(view.shop, key=lambda c: _WANTED.index(c.kind))
        for offer in ranked:
            if space <= 0:
                break
            if coins - PRICES[offer.kind] >= self.reserve:
                out.append(BuyCard(seat=seat, card=offer.id))
                coins -= PRICES[offer.kind]
                space -= 1
        return out
