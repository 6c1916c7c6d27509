"""Optimizers, gradient clipping and learning-rate schedules.

``pn.optim.SGD``, ``Adam``, ``AdamW``, ``RMSprop`` (``SGD(velocity_form=True)`` and
``Adam(eps_hat=True)``: scikit-learn's and Keras's forms); ``exponential_decay`` and
``cosine_decay`` as ``lr=``; ``clipnorm`` / ``global_clipnorm`` / ``clipvalue`` on any optimizer."""

from .base import OPTIMIZERS, Optimizer, get_optimizer, optimizer_from_state
from .optimizers import SGD, Adam, AdamW, RMSprop
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
