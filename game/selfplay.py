"""Whole games played in-process by bots: for `quibble simulate`, tests and benchmarks."""

from __future__ import annotations

from typing import Literal

from game.actions import Action, AddPlayer, StartGame, Timeout
from game.bots import Bot, HeuristicBot, RandomBot
from game.engine import apply, new_game, phase_key
from game.state import GameConfig, GameState
from game.views import view_for

BotKind = Literal["random", "heuristic", "mixed"]
BOT_KINDS: tuple[BotKind, ...] = ("random", "heuristic", "mixed")


def make_bot(kind: BotKind, seat: int, seed: int) -> Bot:
    """The bot for `seat`: 'mixed' alternates heuristic (even seats) and random (odd)."""
    bot_seed = seed * 1_000_003 + seat
    if kind == "random" or (kind == "mixed" and seat % 2):
        return RandomBot(bot_seed)
    return HeuristicBot(bot_seed)


def bot_name(kind: BotKind, seat: int) -> str:
    """A readable, unique player name for a bot seat."""
    label = {"random": "Rando", "heuristic": "Brainy"}[
        "random" if kind == "random" or (kind == "mixed" and seat % 2) else "heuristic"
    ]
    return f"{label}-{seat + 1}"


def play_game(
    config: GameConfig,
    players: int,
    kind: BotKind = "heuristic",
    journal: list[tuple[Action, int | None]] | None = None,
) -> GameState:
    """Seat `players` bots, start, and play until game over.

    Each pass gives every bot its current view and applies what it decides; a phase that
    is still open after a full pass ends with the host's Timeout, as a deadline would.
    Every action tried (accepted or not) is appended to `journal` with its actor.
    """
    log = journal if journal is not None else []
    state = new_game(config)

    def act(action: Action, actor: int | None) -> None:
        nonlocal state
        log.append((action, actor))
        state = apply(state, action, actor).state

    for seat in range(players):
        act(AddPlayer(seat=seat, name=bot_name(kind, seat)), None)
    act(StartGame(), None)
    bots = [make_bot(kind, seat, config.seed) for seat in range(players)]
    while state.phase != "over":
        key = phase_key(state)
        for seat, bot in enumerate(bots):
            for action in bot.decide(view_for(state, seat)):
                act(action, seat)
        if phase_key(state) == key:
            act(Timeout(round=key[0], phase=key[1]), None)
    return state

