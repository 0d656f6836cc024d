"""Engine speed: whole bot games per second, mean `apply` time, and the time to build and
encode every player's view after one action, for 6, 16, 100 and 500 players.

Run: .venv/bin/python bench/engine.py [--quick]
Figures go to docs/PERFORMANCE.md (Engine section). Nothing here asserts a threshold.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import msgspec

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from game import (
    Action,
    GameConfig,
    GameState,
    PlaceBet,
    apply,
    encode_view,
    new_game,
    view_for,
)
from game.selfplay import play_game

SIZES = (6, 16, 100, 500)


def machine() -> str:
    """CPU model, core count and Python version."""
    model = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} cores, Python {platform.python_version()}"


def games_per_second(players: int, budget_s: float) -> tuple[float, int]:
    """Whole 5-round heuristic-bot games (bots' thinking and views included) per second."""
    done, start = 0, time.perf_counter()
    while True:
        play_game(GameConfig(seed=done, rounds=5), players, "mixed")
        done += 1
        elapsed = time.perf_counter() - start
        if elapsed >= budget_s or (done >= 1 and elapsed * (done + 1) / done > 4 * budget_s):
            return done / elapsed, done


def apply_times(players: int) -> tuple[float, float, int]:
    """Replay one recorded game: (mean us per apply, p99 us, applies)."""
    journal: list[tuple[Action, int | None]] = []
    config = GameConfig(seed=1, rounds=5)
    play_game(config, players, "mixed", journal)
    state = new_game(config)
    times = []
    clock = time.perf_counter_ns
    for action, actor in journal:
        t0 = clock()
        state = apply(state, action, actor).state
        times.append(clock() - t0)
    times.sort()
    p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
    return statistics.fmean(times) / 1000, p99 / 1000, len(times)


def views_after_one_action(
    state: GameState, repeats: int, spliced: bool
) -> tuple[float, float, int]:
    """(median ms, max ms, bytes per view) to build + JSON-encode every seat's view after
    one accepted action (a bet): a new state each repeat, so nothing is reused from the last.
    `spliced`: encode_view (public part encoded once); else msgspec.json.encode(view_for())."""
    encoder = msgspec.json.Encoder()
    times, size = [], 0
    players = len(state.players)
    for n in range(repeats):
        seat = n % players
        state = apply(state, PlaceBet(seat=seat, quibble=0, amount=1 + n % 5), seat).state
        t0 = time.perf_counter()
        if spliced:
            blobs = [encode_view(state, p.seat) for p in state.players]
        else:
            blobs = [encoder.encode(view_for(state, p.seat)) for p in state.players]
        times.append((time.perf_counter() - t0) * 1000)
        size = len(blobs[0])
    return statistics.median(times), max(times), size


def play_until_round2(config: GameConfig, players: int) -> GameState:
    """A table mid-game: round 2 Betting, hands and discard pile filled by a round of play."""
    from game import AddPlayer, StartGame, Timeout
    from game.bots import HeuristicBot

    state = new_game(config)
    for seat in range(players):
        state = apply(state, AddPlayer(seat=seat, name=f"Player-{seat}"), None).state
    state = apply(state, StartGame(), None).state
    bots = [HeuristicBot(seat) for seat in range(players)]
    while state.round < 2:
        key = (state.round, state.phase)
        for seat, bot in enumerate(bots):
            for action in bot.decide(view_for(state, seat)):
                state = apply(state, action, seat).state
        if (state.round, state.phase) == key:
            state = apply(state, Timeout(round=key[0], phase=key[1]), None).state
    return state


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter runs")
    args = parser.parse_args()
    budget = 0.5 if args.quick else 3.0
    print(f"machine: {machine()}")
    print("all views = build + JSON-encode every seat's view after one action, median (max) ms")
    header = (f"{'players':>7} | {'games/s':>8} | {'apply mean us':>13} | {'apply p99 us':>12}"
              f" | {'all views: view_for+encode':>26} | {'all views: encode_view':>22}"
              f" | {'bytes/view':>10}")
    print(header)
    print("-" * len(header))
    for players in SIZES:
        gps, _ = games_per_second(players, budget)
        mean_us, p99_us, _ = apply_times(players)
        table = play_until_round2(GameConfig(seed=2, rounds=5), players)
        repeats = 20 if players >= 500 else 50
        med, worst, size = views_after_one_action(table, repeats, spliced=False)
        smed, sworst, _ = views_after_one_action(table, repeats, spliced=True)
        plain, splice = f"{med:.2f} ({worst:.2f})", f"{smed:.2f} ({sworst:.2f})"
        print(f"{players:>7} | {gps:>8.2f} | {mean_us:>13.1f} | {p99_us:>12.1f}"
              f" | {plain:>26} | {splice:>22} | {size:>10}")


if __name__ == "__main__":
    main()
