"""Learning-rate schedules: functions ``step -> lr`` that an optimizer takes as its ``lr``
(``pn.optim.SGD(lr=pn.optim.cosine_decay(0.1, 1000))``); the optimizer reads the schedule's lr on
the host before each step, so a training step with a schedule runs op by op, never compiled."""

from __future__ import annotations

import math
from collections.abc import Callable

Schedule = Callable[[int], float]


def exponential_decay(lr: float, rate: float, every: int = 1) -> Schedule:
    """Schedule ``lr * rate ** (step // every)``.

    >>> decay = exponential_decay(1.0, 0.5, every=2)
    >>> [decay(step) for step in range(5)]
    [1.0, 1.0, 0.5, 0.5, 0.25]
    """
    return lambda step: lr * rate ** (step // every)


def cosine_decay(lr: float, total_steps: int, final_lr: float = 0.0) -> Schedule:
    """Schedule from ``lr`` down to ``final_lr`` along half a cosine over ``total_steps``."""
    return lambda step: (
        final_lr + 0.5 * (lr - final_lr) * (1 + math.cos(math.pi * min(step, total_steps) / total_steps))
    )
