"""Optimizers, gradient clipping and learning-rate schedules.

``pn.optim.SGD``, ``Adam``, ``AdamW``, ``RMSprop``; ``exponential_decay`` and ``cosine_decay`` as
``lr=``; ``clipnorm`` / ``global_clipnorm`` / ``clipvalue`` on any optimizer."""

from .optimizers import OPTIMIZERS, SGD, Adam, AdamW, Optimizer, RMSprop, get_optimizer, optimizer_from_state
from .schedules import Schedule, cosine_decay, exponential_decay

__all__ = [
    "OPTIMIZERS",
    "SGD",
    "Adam",
    "AdamW",
    "Optimizer",
    "RMSprop",
    "Schedule",
    "cosine_decay",
    "exponential_decay",
    "get_optimizer",
    "optimizer_from_state",
]
