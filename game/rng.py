"""The game's only source of chance: splitmix64 over a plain integer kept in the state.

A hand-rolled generator (rather than `random.Random`) so its whole state is one int that
msgspec serialises, the journal can replay, and no global randomness leaks in.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

T = TypeVar("T")

MASK64 = (1 << 64) - 1
MASK48 = (1 << 48) - 1
_GOLDEN = 0x9E3779B97F4A7C15


def splitmix64(state: int) -> tuple[int, int]:
    """One step of splitmix64: (output, next state), both unsigned 64-bit ints."""
    state = (state + _GOLDEN) & MASK64
    z = state
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return z ^ (z >> 31), state


class Rng:
    """A short-lived cursor over the state's RNG int; read `.state` back into the new state.

    Mutable on purpose (it lives only inside one `apply` call), so hot loops such as the odds
    simulation do not allocate a tuple per draw.
    """

    __slots__ = ("state",)

    def __init__(self, state: int) -> None:
        self.state = state & MASK64

    def next64(self) -> int:
        """The next unsigned 64-bit output."""
        self.state = (self.state + _GOLDEN) & MASK64
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
        return z ^ (z >> 31)

    def below(self, n: int) -> int:
        """A uniform int in [0, n), n >= 1 (64-bit modulo: bias < 2**-40 for n < 2**24)."""
        return self.next64() % n

    def between(self, lo: int, hi: int) -> int:
        """A uniform int in [lo, hi], inclusive."""
        return lo + self.below(hi - lo + 1)

    def shuffled(self, items: Sequence[T]) -> list[T]:
        """A Fisher-Yates shuffled copy."""
        out = list(items)
        for i in range(len(out) - 1, 0, -1):
            j = self.below(i + 1)
            out[i], out[j] = out[j], out[i]
        return out


def seed_state(seed: int) -> int:
    """The RNG state for a game seed (any int; folded to 64 bits and scrambled once)."""
    out, _ = splitmix64(seed & MASK64)
    return out


def mix48(x: int) -> int:
    """A bijection on 48-bit ints (xorshifts and odd multipliers), used for opaque card ids."""
    x &= MASK48
    x ^= x >> 23
    x = (x * 0xD6E8FEB86659) & MASK48  # odd: invertible mod 2**48
    x ^= x >> 19
    x = (x * 0x9E3779B97F4B) & MASK48
    x ^= x >> 24
    return x


def card_id(serial: int, key: int) -> str:
    """The opaque 12-hex-digit id of the card minted as number `serial` in a game keyed `key`.

    Distinct serials give distinct ids (mix48 is a bijection), and the ids look random, so a
    card id seen in someone's bytes identifies exactly one card instance.
    """
    return format(mix48((serial + key) & MASK48), "012x")
