"""A custom Quibble Race bot written against the public player API: a guide to that API.

    python examples/custom_bot.py ABCD --name Longshot                  # host on this machine
    python examples/custom_bot.py http://192.168.1.20:8080/r/ABCD --name Longshot

The API in four parts:

- ``game.Bot``: subclass it and implement ``choose(view) -> list[Action]``. It is called once
  per phase with this seat's ``game.PlayerView`` (the public table plus this seat's own hand,
  coins, debt and bet: nothing secret of anyone else), and ``Bot.decide`` appends ``Ready`` so
  the table need not wait for the deadline. ``self.rng`` is a seeded RNG: the same seed and
  the same views give the same moves.
- ``game.actions``: the intents a player may send (``PlaceBet``, ``Borrow``, ``PlayCard``,
  ``BuyCard``, ``Ready``), always for ``view.seat``. The host validates each one; a refused
  one comes back as a rejection with a reason code and changes nothing.
- ``peer.player.PlayerOptions`` / ``Player``: where to connect and how. ``await
  Player(options, bot=...).run()`` joins the room, connects over WebRTC (or the signaling
  relay if that fails), reconnects after a drop, and returns the final view at game over; it
  raises ``PlayerFailure`` (with the exit code ``quibble join`` would use) if it cannot.
- ``Player(on_view=...)``: a callback for every view, to watch the game as it happens.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from game import Bot, PlayerView
from game.actions import Action, BuyCard, PlaceBet, PlayCard
from peer.join_cmd import parse_target
from peer.player import Player, PlayerFailure, PlayerOptions


class LongshotBot(Bot):
    """Backs the longest odds still running, protects that runner, keeps coins for Safeguard."""

    stake_share = 4  # bet a quarter of our coins: long shots rarely come in

    def choose(self, view: PlayerView) -> list[Action]:
        """This phase's moves (``Bot.decide`` adds Ready and calls this once per phase)."""
        if view.phase == "betting":
            return self._bet(view)
        if view.phase == "item":
            return self._protect(view)
        if view.phase == "payout":
            return self._safeguard(view)
        if view.phase == "purchase":
            return self._shop(view)
        return []

    @staticmethod
    def _longshot(view: PlayerView) -> int | None:
        running = [q for q in view.quibbles if q.status == "running"]
        if not running:
            return None
        return max(running, key=lambda q: (q.odds_milli, -q.index)).index

    def _bet(self, view: PlayerView) -> list[Action]:
        pick = self._longshot(view)
        amount = view.coins // self.stake_share
        if pick is None or amount < 1:
            return []
        return [PlaceBet(seat=view.seat, quibble=pick, amount=amount)]

    def _protect(self, view: PlayerView) -> list[Action]:
        pick = view.bet.quibble if view.bet is not None else self._longshot(view)
        budget = view.items_per_round - view.items_played
        moves: list[Action] = []
        for card in view.hand:
            if budget <= 0 or pick is None:
                break
            if card.kind in ("tinfoil_hat", "vomitex", "steroids"):
                moves.append(PlayCard(seat=view.seat, card=card.id, quibble=pick))
                budget -= 1
        return moves

    @staticmethod
    def _safeguard(view: PlayerView) -> list[Action]:
        lost = any(r.seat == view.seat and r.returned == 0 for r in view.bet_results)
        guards = [c for c in view.hand if c.kind == "safeguard"]
        if lost and guards and not view.safeguarded:
            return [PlayCard(seat=view.seat, card=guards[0].id)]
        return []

    @staticmethod
    def _shop(view: PlayerView) -> list[Action]:
        room = view.hand_limit - len(view.hand)
        for offer in view.shop:
            if room > 0 and offer.kind in ("safeguard", "tinfoil_hat") and view.coins > offer.price:
                return [BuyCard(seat=view.seat, card=offer.id)]
        return []


def _show(view: PlayerView) -> None:
    print(f"round {view.round}/{view.rounds} {view.phase}: {view.coins} coins", flush=True)


async def play(target: str, name: str, signal: str | None, seed: int) -> int:
    """Join the room with a LongshotBot and play to the end; returns an exit code."""
    signal_url, code = parse_target(target, signal)
    player = Player(
        PlayerOptions(signal_url=signal_url, code=code, name=name),
        bot=LongshotBot(seed),
        on_view=_show,
    )
    try:
        final = await player.run()
    except PlayerFailure as exc:
        print(f"{name}: {exc.reason}", file=sys.stderr)
        return exc.exit_code
    finally:
        await player.close()
    print(f"{name} played via {player.path}. Final standings:")
    for s in final.standings:
        print(f"  {s.rank}. {s.name}: {s.score}")
    winners = [s.name for s in final.standings if s.seat in final.winners]
    print(f"Winners: {', '.join(winners)}")
    return 0


def main() -> int:
    """Command line: the room (code or join URL), a name, and where the signaling is."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("room", help="room code, or the join URL the host printed")
    parser.add_argument("--name", default="Longshot", help="display name (Longshot)")
    parser.add_argument("--signal", metavar="URL", help="signaling server (default: localhost)")
    parser.add_argument("--seed", type=int, default=1, help="the bot's RNG seed (1)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    return asyncio.run(play(args.room, args.name, args.signal, args.seed))


if __name__ == "__main__":
    sys.exit(main())
