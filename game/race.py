"""Quibble racing: the field for a round, odds by simulation, and the race itself.

All chance comes from the `Rng` cursor passed in, so the same state gives the same race.
"""

from __future__ import annotations

from bisect import bisect_right
from typing import Final

from game.rng import Rng
from game.state import Quibble, RaceResult

TRACK_LENGTH: Final = 100
MIN_SPEED: Final = 3
MAX_SPEED: Final = 8
MAX_WEIGHT: Final = 64
MAX_TICKS: Final = 60

QUIBBLE_NAMES: Final[tuple[str, ...]] = (
    "Biscuit", "Noodle", "Pickles", "Waffles", "Gizmo", "Pudding", "Sprocket", "Muffin",
    "Zigzag", "Bramble", "Tofu", "Wobbles", "Nugget", "Crumpet", "Pretzel", "Doodle",
    "Fidget", "Marmalade", "Scooter", "Truffle", "Bumble", "Kazoo", "Dumpling", "Quokka",
)


def field_size(players: int) -> int:
    """Quibbles per race: min(8, max(4, players // 2))."""
    return min(8, max(4, players // 2))


def draw_field(rng: Rng, players: int) -> list[tuple[str, int]]:
    """(name, base speed) of this round's quibbles: distinct names, speeds 3..8."""
    names = rng.shuffled(QUIBBLE_NAMES)[: field_size(players)]
    return [(name, rng.between(MIN_SPEED, MAX_SPEED)) for name in names]


def race_weight(speed: int, confusion: int) -> int:
    """A running quibble's draw weight: speed minus confusion, clamped to 1..64."""
    return min(MAX_WEIGHT, max(1, speed - confusion))


def simulate_win_counts(rng: Rng, weights: list[int], samples: int) -> list[int]:
    """How often each quibble wins in `samples` simulated races (first draw of the race)."""
    cumulative: list[int] = []
    total = 0
    for w in weights:
        total += w
        cumulative.append(total)
    wins = [0] * len(weights)
    below = rng.below
    for _ in range(samples):
        wins[bisect_right(cumulative, below(total))] += 1
    return wins


def odds_from_wins(wins: int, samples: int, max_odds_milli: int) -> int:
    """Decimal odds x1000 for a quibble that won `wins` of `samples`: min(1/p, cap), floored."""
    if wins <= 0:
        return max_odds_milli
    return max(1000, min(max_odds_milli, samples * 1000 // wins))


def finishing_order(rng: Rng, quibbles: tuple[Quibble, ...]) -> list[int]:
    """Running quibbles in finishing order: a weighted draw without replacement."""
    pool = [(q.index, race_weight(q.speed, q.confusion)) for q in quibbles if q.status == "running"]
    order: list[int] = []
    while pool:
        total = sum(w for _, w in pool)
        r = rng.below(total)
        for i, (index, w) in enumerate(pool):
            if r < w:
                order.append(index)
                del pool[i]
                break
            r -= w
    return order


def _progress(rng: Rng, steps: int, wobbly: bool) -> list[int]:
    """Positions 0..TRACK_LENGTH over `steps` ticks, monotone, reaching the end at the last."""
    incs = []
    for _ in range(steps):
        step = 1 + rng.below(4)
        if wobbly and rng.below(3) == 0:
            step = 0  # a confused quibble stalls now and then
        incs.append(step)
    incs[-1] = max(1, incs[-1])
    total = sum(incs)
    out = [0]
    acc = 0
    for step in incs:
        acc += step
        out.append(acc * TRACK_LENGTH // total)
    return out


def run_race(rng: Rng, quibbles: tuple[Quibble, ...]) -> RaceResult:
    """The race: finishing order plus per-tick positions (at most MAX_TICKS ticks).

    The k-th finisher crosses the line at a tick strictly after the (k-1)-th, so the
    animation always agrees with the order. A shot quibble runs, then stops where it
    fell; a disqualified one never leaves the start.
    """
    order = finishing_order(rng, quibbles)
    finish_tick: dict[int, int] = {}
    tick = 22 + rng.below(6)
    for index in order:
        finish_tick[index] = tick
        tick += 1 + rng.below(3)
    last = max(finish_tick.values(), default=30)
    n_ticks = min(MAX_TICKS, last + 1)
    columns: list[list[int]] = []
    for q in quibbles:
        if q.index in finish_tick:
            path = _progress(rng, finish_tick[q.index], q.confusion > 0)
        elif q.status == "dead":
            path = _progress(rng, last + 8, q.confusion > 0)
            fell = 4 + rng.below(max(1, last // 2))
            path = path[: fell + 1]
        else:
            path = [0]
        path = path[:n_ticks] + [path[-1]] * (n_ticks - len(path))
        columns.append(path)
    ticks = tuple(tuple(col[t] for col in columns) for t in range(n_ticks))
    return RaceResult(order=tuple(order), ticks=ticks, winner=order[0] if order else None)
