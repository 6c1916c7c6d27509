"""Seeded host randomness.

The Array API standard has no random numbers. portnn draws everything on the host with a seeded
``numpy.random.Generator`` and moves it to the device, so one seed gives the same initial weights,
shuffle order and dropout masks on every backend.
"""

from __future__ import annotations

import numpy as np


def make_rng(seed: int | np.random.Generator | None) -> np.random.Generator:
    """A ``numpy.random.Generator`` from a seed (an existing generator is returned as is).

    >>> int(make_rng(0).integers(10))
    8
    """
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
        raise TypeError(f"seed: expected an int or None, got {type(seed).__name__}")
    return np.random.default_rng(seed)


def spawn(rng: np.random.Generator, n: int) -> list[np.random.Generator]:
    """``n`` independent generators derived from ``rng`` (one per purpose: init, shuffle, dropout)."""
    return [np.random.default_rng(s) for s in rng.bit_generator.seed_seq.spawn(n)]  # type: ignore[attr-defined]
