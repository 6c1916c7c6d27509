"""The update rules, each written as its paper writes it, one line of the formula per line of code.

Every rule goes through the backend's in-place helpers, which write into the optimizer's own
buffers where arrays are writeable (no allocation per step) and rebind to new arrays where they
are not (JAX). The gradient ``g`` is only read: whatever a rule needs to compute goes into its
scratch buffers (``state["scratch"]``, ``state["scratch2"]``), so after a step ``Parameter.grad``
is still the gradient of the backward pass. Defaults follow PyTorch; ``velocity_form`` (SGD) and
``eps_hat`` (Adam) give scikit-learn's and Keras's forms.
"""

from __future__ import annotations

import math
from typing import Any

from .._checks import number_in_range
from .base import OPTIMIZERS, Optimizer, get_optimizer, optimizer_from_state
from .schedules import Schedule

__all__ = ["OPTIMIZERS", "SGD", "Adam", "AdamW", "Optimizer", "RMSprop", "get_optimizer", "optimizer_from_state"]

Array = Any


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum, Nesterov momentum and L2 weight decay.

    PyTorch's form (the default): ``b = momentum * b + g``; ``p -= lr * b`` (Nesterov:
    ``p -= lr * (g + momentum * b)``). ``velocity_form=True`` takes the form of Sutskever et al.
    (2013), scikit-learn's and Keras's: ``v = momentum * v - lr * g``; ``p += v`` (Nesterov:
    ``p += momentum * v - lr * g``). The two agree for a constant ``lr`` up to rounding; when
    ``lr`` changes between steps (scikit-learn's ``invscaling`` and ``adaptive`` set
    ``optimizer.lr``), the velocity keeps the step sizes it was built with.

    >>> import portnn as pn
    >>> pn.optim.SGD(lr=0.1, momentum=0.9)
    SGD(lr=0.1)
    >>> pn.optim.SGD(lr=0.1, momentum=0.9, nesterov=True, velocity_form=True).get_config()["velocity_form"]
    True
    """

    reads_steps = False

    velocity_form = False  # the default of optimizers pickled before the setting existed

    def __init__(
        self,
        lr: float | Schedule = 0.01,
        momentum: float = 0.0,
        nesterov: bool = False,
        weight_decay: float = 0.0,
        velocity_form: bool = False,
        **clipping: float | None,
    ) -> None:
        super().__init__(lr, weight_decay, **clipping)
        self.momentum = number_in_range("momentum", momentum, 0.0, 1.0)
        if nesterov and self.momentum == 0.0:
            raise ValueError("nesterov: Nesterov momentum needs momentum > 0")
        if not isinstance(velocity_form, bool):
            raise TypeError(f"velocity_form: expected True or False, got {velocity_form!r}")
        self.nesterov, self.velocity_form = bool(nesterov), velocity_form

    @property
    def state_names(self) -> tuple[str, ...]:
        # scratch2: Nesterov's direction, where the scratch buffer already holds g + weight_decay * p
        # or, in the velocity form, lr * g
        two = self.nesterov and bool(self.weight_decay or self.velocity_form)
        return ("velocity",) * bool(self.momentum) + ("scratch",) + ("scratch2",) * two

    def _extra_config(self) -> dict[str, Any]:
        velocity = {"velocity_form": True} if self.velocity_form else {}
        return {"momentum": self.momentum, "nesterov": self.nesterov, **velocity}

    def _update(self, p: Array, g: Array, state: dict[str, Array]) -> Array:
        bk, mu, lr = self.backend, self.momentum, self._lr_for(p)
        if self.weight_decay:
            g = self._add_l2(p, g, state)  # g + weight_decay * p, in state["scratch"]
        if not mu:
            # p -= lr * g (scratch: lr * g, unless g is already the optimizer's own)
            return bk.sub_scaled(p, g, lr, None if self.weight_decay else state["scratch"])
        if self.velocity_form:
            return self._velocity_update(p, g, state, lr)
        b = state["velocity"] = bk.iadd(bk.imul(state["velocity"], mu), g)  # b = mu * b + g
        if not self.nesterov:
            return bk.sub_scaled(p, b, lr, state["scratch"])  # p -= lr * b
        into = "scratch2" if self.weight_decay else "scratch"
        d = bk.iadd(bk.mul_into(state[into], b, mu), g)  # d = g + mu * b
        return bk.sub_scaled(p, d, lr)  # p -= lr * d

    def _velocity_update(self, p: Array, g: Array, state: dict[str, Array], lr: Array) -> Array:
        bk, mu = self.backend, self.momentum
        s = bk.mul_into(state["scratch"], g, lr)  # lr * g
        v = state["velocity"] = bk.isub(bk.imul(state["velocity"], mu), s)  # v = mu * v - lr * g
        if not self.nesterov:
            return bk.iadd(p, v)  # p += v
        u = bk.isub(bk.mul_into(state["scratch2"], v, mu), s)  # u = mu * v - lr * g
        return bk.iadd(p, u)  # p += u


class Adam(Optimizer):
    """Adam (Kingma & Ba). ``weight_decay`` adds an L2 term to the gradient; see AdamW.

    ``m = b1 m + (1 - b1) g``, ``v = b2 v + (1 - b2) g²``, then by default Algorithm 1 of the paper
    (PyTorch's form): ``p -= lr / (1 - b1^t) · m / (sqrt(v / (1 - b2^t)) + eps)``. With
    ``eps_hat=True``, ``eps`` is the paper's ε̂ (end of its Section 2), added outside the bias
    correction, which goes into the step size: ``lr_t = lr · sqrt(1 - b2^t) / (1 - b1^t)``;
    ``p -= lr_t · m / (sqrt(v) + eps)`` — scikit-learn's and Keras's form.

    >>> import portnn as pn
    >>> pn.optim.Adam(lr=0.01, eps_hat=True).get_config()["eps_hat"]
    True
    """

    eps_hat = False  # the default of optimizers pickled before the setting existed

    def __init__(
        self,
        lr: float | Schedule = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        eps_hat: bool = False,
        **clipping: float | None,
    ) -> None:
        super().__init__(lr, weight_decay, **clipping)
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise TypeError(f"betas: expected a pair of numbers, got {betas!r}")
        self.beta1 = number_in_range("betas[0]", betas[0], 0.0, 1.0)
        self.beta2 = number_in_range("betas[1]", betas[1], 0.0, 1.0)
        self.eps = number_in_range("eps", eps, 0.0, low_open=True)
        if not isinstance(eps_hat, bool):
            raise TypeError(f"eps_hat: expected True or False, got {eps_hat!r}")
        self.eps_hat = eps_hat

    @property
    def state_names(self) -> tuple[str, ...]:
        # scratch2: the L2 gradient, or eps_hat's numerator (the scratch buffer holds its denominator)
        two = self.eps_hat or bool(self.weight_decay and type(self) is Adam)
        return ("m", "v", "scratch") + ("scratch2",) * two

    def _extra_config(self) -> dict[str, Any]:
        hat = {"eps_hat": True} if self.eps_hat else {}
        return {"betas": (self.beta1, self.beta2), "eps": self.eps, **hat}

    def _decay(self, p: Array) -> Array:
        return p

    def _update(self, p: Array, g: Array, state: dict[str, Array]) -> Array:
        bk, b1, b2, t = self.backend, self.beta1, self.beta2, self.steps
        if self.weight_decay and type(self) is Adam:
            g = self._add_l2(p, g, state, into="scratch2")
        p = self._decay(p)
        s = bk.mul_into(state["scratch"], g, 1.0 - b1)
        m = state["m"] = bk.iadd(bk.imul(state["m"], b1), s)  # m = b1 m + (1 - b1) g
        s = bk.imul(bk.mul_into(s, g, g), 1.0 - b2)
        v = state["v"] = bk.iadd(bk.imul(state["v"], b2), s)  # v = b2 v + (1 - b2) g²
        if self.eps_hat:
            s, u = self._eps_hat_step(s, m, v, state["scratch2"])
            return bk.isub(p, u)  # p -= lr_t * m / (sqrt(v) + eps)
        s = bk.ipow(bk.mul_into(s, v, 1.0 / (1.0 - b2**t)), 0.5)  # sqrt(v / (1 - b2^t))
        s = bk.imul(bk.ipow(bk.iadd(s, self.eps), -1.0), m)  # m / (... + eps)
        s = bk.imul(s, self.lr / (1.0 - b1**t))
        return bk.isub(p, s)  # p -= lr / (1 - b1^t) * m / (sqrt(v / (1 - b2^t)) + eps)

    def _eps_hat_step(self, s: Array, m: Array, v: Array, u: Array) -> tuple[Array, Array]:
        """``lr_t * m / (sqrt(v) + eps)`` into ``u``, its denominator into ``s``; returns both."""
        bk, t = self.backend, self.steps
        c = 1.0 - self.beta2**t
        root = math.sqrt(c) if isinstance(c, float) else bk.xp.sqrt(c)  # a traced step count: an array
        lr_t = self.lr * root / (1.0 - self.beta1**t)
        s = bk.iadd(bk.ipow(bk.copy_into(s, v), 0.5), self.eps)  # sqrt(v) + eps
        return s, bk.idiv(bk.mul_into(u, m, lr_t), s)


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter): ``p *= 1 - lr * weight_decay``."""

    def __init__(
        self,
        lr: float | Schedule = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.01,
        eps_hat: bool = False,
        **clipping: float | None,
    ) -> None:
        super().__init__(lr, betas, eps, weight_decay, eps_hat, **clipping)

    def _decay(self, p: Array) -> Array:
        return self.backend.imul(p, 1.0 - self.lr * self.weight_decay) if self.weight_decay else p


class RMSprop(Optimizer):
    """RMSprop: ``v = alpha v + (1 - alpha) g^2``, ``p -= lr g / (sqrt(v) + eps)``."""

    reads_steps = False

    def __init__(
        self,
        lr: float | Schedule = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        **clipping: float | None,
    ) -> None:
        super().__init__(lr, weight_decay, **clipping)
        self.alpha = number_in_range("alpha", alpha, 0.0, 1.0)
        self.eps = number_in_range("eps", eps, 0.0, low_open=True)

    @property
    def state_names(self) -> tuple[str, ...]:
        return ("v", "scratch") + ("scratch2",) * bool(self.weight_decay)  # scratch2: the L2 term

    def _extra_config(self) -> dict[str, Any]:
        return {"alpha": self.alpha, "eps": self.eps}

    def _update(self, p: Array, g: Array, state: dict[str, Array]) -> Array:
        bk = self.backend
        if self.weight_decay:
            g = self._add_l2(p, g, state, into="scratch2")
        s = bk.imul(bk.mul_into(state["scratch"], g, g), 1.0 - self.alpha)
        v = state["v"] = bk.iadd(bk.imul(state["v"], self.alpha), s)  # v = alpha v + (1 - alpha) g²
        s = bk.ipow(bk.iadd(bk.ipow(bk.copy_into(s, v), 0.5), self.eps), -1.0)  # 1 / (sqrt(v) + eps)
        s = bk.imul(bk.imul(s, g), self.lr)
        return bk.isub(p, s)  # p -= lr g / (sqrt(v) + eps)
