"""Optimizers. One code path per algorithm: every update goes through the backend's in-place
helpers, which write into the existing buffers where arrays are writeable (no allocation per step)
and rebind to new arrays where they are not (JAX). Semantics follow PyTorch's optimizers.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from ._checks import by_name
from ._xp import Backend

Array = Any
Schedule = Callable[[int], float]


def _check(name: str, value: Any, low: float, high: float = math.inf, low_open: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise TypeError(f"{name}: expected a finite number, got {value!r}")
    if value < low or value >= high or (low_open and value == low):
        bound = "(" if low_open else "["
        raise ValueError(f"{name}: expected a value in {bound}{low}, {high}), got {value}")
    return float(value)


class Slot:
    """One parameter as the optimizer sees it: where it and its gradient live."""

    __slots__ = ("grads", "key", "name", "params")

    def __init__(self, key: str, params: dict, grads: dict, name: str) -> None:
        self.key, self.params, self.grads, self.name = key, params, grads, name


class Optimizer:
    """Base class. ``lr`` is a positive number or a schedule ``step -> lr``."""

    state_names: tuple[str, ...] = ()

    def __init__(self, lr: float | Schedule = 0.01, weight_decay: float = 0.0) -> None:
        if callable(lr):
            self.schedule: Schedule | None = lr
            self.lr = float(lr(0))
        else:
            self.schedule, self.lr = None, _check("lr", lr, 0.0, low_open=True)
        self.weight_decay = _check("weight_decay", weight_decay, 0.0)
        self.steps = 0
        self.state: dict[str, dict[str, Array]] = {}
        self._slots: list[Slot] = []
        self.forget_constants()

    def bind(self, slots: list[Slot], backend: Backend) -> None:
        """Attach to a model's parameters; state is created once, or kept when it already fits."""
        self._slots, self.backend = slots, backend
        self.forget_constants()
        xp = backend.xp
        for slot in slots:
            p = slot.params[slot.name]
            state = self.state.get(slot.key)
            if state is None or any(v.shape != p.shape for v in state.values()):
                self.state[slot.key] = {n: xp.zeros_like(p) for n in self.state_names}

    def move(self, backend: Backend, dtype: Any) -> None:
        """Move the state to another backend/dtype (the model's ``to()`` calls this)."""
        for state in self.state.values():
            for name in state:
                state[name] = backend.asarray(state[name], dtype)
        self.backend = backend
        self.forget_constants()

    def forget_constants(self) -> None:
        """Drop the arrays cached from settings (lr as a 0-D array): they are made again, on the
        current backend, when next needed. Called on binding, moving, and around a traced step."""
        self._lr_value: float | None = None  # the lr that _lr_array holds
        self._lr_array: Array = None

    def step(self) -> None:
        """Apply one update to every bound parameter, from the gradients in the layers."""
        self.steps += 1
        if self.schedule is not None:
            self.lr = float(self.schedule(self.steps - 1))
        for slot in self._slots:
            params = slot.params
            params[slot.name] = self._update(params[slot.name], slot.grads[slot.name], self.state[slot.key])

    def _update(self, p: Array, g: Array, state: dict[str, Array]) -> Array:
        raise NotImplementedError

    def _add_l2(self, p: Array, g: Array, state: dict[str, Array]) -> Array:
        """``g + weight_decay * p`` without a temporary (scratch buffer)."""
        bk = self.backend
        s = state["scratch"] = bk.imul(bk.copy_into(state["scratch"], p), self.weight_decay)
        return bk.iadd(g, s)

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments (saved with a checkpoint). A schedule is saved as its current lr."""
        return {"lr": self.lr, "weight_decay": self.weight_decay, **self._extra_config()}

    def _extra_config(self) -> dict[str, Any]:
        return {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(lr={self.lr})"


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum, Nesterov momentum and L2 weight decay.

    >>> import portnn as pn
    >>> pn.optim.SGD(lr=0.1, momentum=0.9)
    SGD(lr=0.1)
    """

    def __init__(
        self, lr: float | Schedule = 0.01, momentum: float = 0.0, nesterov: bool = False, weight_decay: float = 0.0
    ) -> None:
        super().__init__(lr, weight_decay)
        self.momentum = _check("momentum", momentum, 0.0, 1.0)
        if nesterov and self.momentum == 0.0:
            raise ValueError("nesterov: Nesterov momentum needs momentum > 0")
        self.nesterov = bool(nesterov)
        # Plain SGD keeps no state at all: no parameter-sized buffer is made.
        self.state_names = ("velocity",) * bool(self.momentum) + ("scratch",) * bool(self.momentum or self.weight_decay)

    def _extra_config(self) -> dict[str, Any]:
        return {"momentum": self.momentum, "nesterov": self.nesterov}

    def _update(self, p: Array, g: Array, state: dict[str, Array]) -> Array:
        bk = self.backend
        if self.weight_decay:
            g = self._add_l2(p, g, state)
        if self.momentum:
            v = state["velocity"] = bk.iadd(bk.imul(state["velocity"], self.momentum), g)
            if self.nesterov:
                s = state["scratch"] = bk.imul(bk.copy_into(state["scratch"], v), self.momentum)
                g = bk.iadd(g, s)
            else:
                g = state["scratch"] = bk.copy_into(state["scratch"], v)
        if self.lr != self._lr_value:  # lr as a 0-D array (cheaper than a float), remade when lr changes
            self._lr_value, self._lr_array = self.lr, bk.asarray(self.lr, p.dtype)
        return bk.sub_scaled(p, g, self._lr_array)


class Adam(Optimizer):
    """Adam (Kingma & Ba). ``weight_decay`` adds an L2 term to the gradient; see AdamW."""

    state_names = ("m", "v", "scratch")

    def __init__(
        self,
        lr: float | Schedule = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(lr, weight_decay)
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise TypeError(f"betas: expected a pair of numbers, got {betas!r}")
        self.beta1 = _check("betas[0]", betas[0], 0.0, 1.0)
        self.beta2 = _check("betas[1]", betas[1], 0.0, 1.0)
        self.eps = _check("eps", eps, 0.0, low_open=True)

    def _extra_config(self) -> dict[str, Any]:
        return {"betas": (self.beta1, self.beta2), "eps": self.eps}

    def _decay(self, p: Array) -> Array:
        return p

    def _update(self, p: Array, g: Array, state: dict[str, Array]) -> Array:
        bk, b1, b2 = self.backend, self.beta1, self.beta2
        if self.weight_decay and type(self) is Adam:
            g = self._add_l2(p, g, state)
        p = self._decay(p)
        s = bk.imul(bk.copy_into(state["scratch"], g), 1.0 - b1)
        m = state["m"] = bk.iadd(bk.imul(state["m"], b1), s)
        g = bk.imul(bk.imul(g, g), 1.0 - b2)
        v = state["v"] = bk.iadd(bk.imul(state["v"], b2), g)
        t = self.steps
        # p -= lr / (1 - b1^t) * m / (sqrt(v / (1 - b2^t)) + eps), built in the scratch buffer
        s = bk.ipow(bk.imul(bk.copy_into(s, v), 1.0 / (1.0 - b2**t)), 0.5)
        s = bk.imul(bk.ipow(bk.iadd(s, self.eps), -1.0), m)
        state["scratch"] = s = bk.imul(s, self.lr / (1.0 - b1**t))
        return bk.isub(p, s)


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter): ``p *= 1 - lr * weight_decay``."""

    def __init__(
        self,
        lr: float | Schedule = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.01,
    ) -> None:
        super().__init__(lr, betas, eps, weight_decay)

    def _decay(self, p: Array) -> Array:
        return self.backend.imul(p, 1.0 - self.lr * self.weight_decay) if self.weight_decay else p


class RMSprop(Optimizer):
    """RMSprop: ``v = alpha v + (1 - alpha) g^2``, ``p -= lr g / (sqrt(v) + eps)``."""

    state_names = ("v", "scratch")

    def __init__(
        self, lr: float | Schedule = 1e-2, alpha: float = 0.99, eps: float = 1e-8, weight_decay: float = 0.0
    ) -> None:
        super().__init__(lr, weight_decay)
        self.alpha = _check("alpha", alpha, 0.0, 1.0)
        self.eps = _check("eps", eps, 0.0, low_open=True)

    def _extra_config(self) -> dict[str, Any]:
        return {"alpha": self.alpha, "eps": self.eps}

    def _update(self, p: Array, g: Array, state: dict[str, Array]) -> Array:
        bk = self.backend
        if self.weight_decay:
            g = self._add_l2(p, g, state)
        s = bk.imul(bk.imul(bk.copy_into(state["scratch"], g), g), 1.0 - self.alpha)
        v = state["v"] = bk.iadd(bk.imul(state["v"], self.alpha), s)
        s = bk.ipow(bk.iadd(bk.ipow(bk.copy_into(s, v), 0.5), self.eps), -1.0)
        state["scratch"] = s = bk.imul(bk.imul(s, g), self.lr)
        return bk.isub(p, s)


def exponential_decay(lr: float, rate: float, every: int = 1) -> Schedule:
    """Schedule ``lr * rate ** (step // every)``."""
    return lambda step: lr * rate ** (step // every)


def cosine_decay(lr: float, total_steps: int, final_lr: float = 0.0) -> Schedule:
    """Schedule from ``lr`` down to ``final_lr`` along half a cosine over ``total_steps``."""
    return lambda step: (
        final_lr + 0.5 * (lr - final_lr) * (1 + math.cos(math.pi * min(step, total_steps) / total_steps))
    )


OPTIMIZERS: dict[str, type[Optimizer]] = {"sgd": SGD, "adam": Adam, "adamw": AdamW, "rmsprop": RMSprop}


def get_optimizer(optimizer: str | Optimizer) -> Optimizer:
    """An optimizer by name (default settings) or the object itself."""
    return by_name("optimizer", optimizer, Optimizer, OPTIMIZERS)  # type: ignore[no-any-return]
