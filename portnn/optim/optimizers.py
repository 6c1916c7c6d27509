"""Optimizers. One code path per algorithm: every update goes through the backend's in-place
helpers, which write into the existing buffers where arrays are writeable (no allocation per step)
and rebind to new arrays where they are not (JAX). Semantics follow PyTorch's optimizers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._checks import by_name, number_in_range, same_shape
from .._xp import Backend, to_numpy
from ..nn.paramblock import FlatState
from .clipping import GradientClipping
from .schedules import Schedule

if TYPE_CHECKING:
    from ..nn.parameter import Parameter

Array = Any


OPTIMIZERS: dict[str, type[Optimizer]] = {}


class Optimizer:
    """Base class. ``lr`` is a positive number or a schedule ``step -> lr``. Keras's ``clipnorm``,
    ``global_clipnorm`` and ``clipvalue`` (every optimizer's ``**clipping`` keywords) clip the loss
    gradients before the update and any L2 ``weight_decay``: see :mod:`portnn.optim.clipping`.

    Subclasses are registered by their lower-case class name (``"sgd"``), so ``optimizer="sgd"``
    and checkpoints find them. ``state_dict()`` / ``load_state_dict()`` own the state and settings.
    """

    state_names: tuple[str, ...] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        OPTIMIZERS[cls.__name__.lower()] = cls

    def __init__(self, lr: float | Schedule = 0.01, weight_decay: float = 0.0, **clipping: float | None) -> None:
        if callable(lr):
            self.schedule: Schedule | None = lr
            self.lr = float(lr(0))
        else:
            self.schedule, self.lr = None, number_in_range("lr", lr, 0.0, low_open=True)
        self.weight_decay = number_in_range("weight_decay", weight_decay, 0.0)
        self.clipping = GradientClipping.from_keywords(type(self).__name__, clipping)
        self.steps = 0
        self.state: dict[str, dict[str, Array]] = {}
        self.parameters: list[Parameter] = []
        self.flat: FlatState | None = None  # the parameter block's state, set by bind where there is one
        self.forget_constants()

    def bind(self, parameters: list[Parameter], backend: Backend, owner: object = None) -> None:
        """Attach to a network's parameters; state is created once, or kept when it already fits.
        Bound to another ``owner`` (network) than before, it starts afresh: no state leaks across models."""
        if owner is not None and getattr(self, "owner_id", None) not in (None, id(owner)):
            self.state, self.steps = {}, 0
        self.owner_id = id(owner) if owner is not None else getattr(self, "owner_id", None)
        self.parameters, self.backend = list(parameters), backend
        self.forget_constants()
        xp = backend.xp
        for param in self.parameters:
            p = param.value
            state = self.state.get(param.name)
            if state is None or any(v.shape != p.shape for v in state.values()):
                self.state[param.name] = {n: xp.zeros_like(p) for n in self.state_names}
        self.flat = FlatState.build(getattr(owner, "parameter_block", None), self)

    def move(self, backend: Backend, dtype: Any) -> None:
        """Move the state to another backend/dtype (the model's ``to()`` calls this)."""
        for state in self.state.values():
            for name in state:
                state[name] = backend.asarray(state[name], dtype)
        self.backend, self.flat = backend, None
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
        if self.clipping.active:  # all that plain optimizers pay for it
            self.clipping(self.parameters, self.backend)
        flat = self.flat
        if flat is not None and flat.intact():  # every update is elementwise: one call for all parameters
            self._update(flat.block.values, flat.block.grads, flat.state)
            return
        state = self.state
        for param in self.parameters:  # the dicts behind the Parameter views: no property calls per step
            store, key = param.store, param.key
            store[key] = self._update(store[key], param.grads[key], state[param.name])

    def _update(self, p: Array, g: Array, state: dict[str, Array]) -> Array:
        raise NotImplementedError

    def _add_l2(self, p: Array, g: Array, state: dict[str, Array]) -> Array:
        """``g + weight_decay * p`` without a temporary (scratch buffer)."""
        bk = self.backend
        s = state["scratch"] = bk.imul(bk.copy_into(state["scratch"], p), self.weight_decay)
        return bk.iadd(g, s)

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments (saved with a checkpoint). A schedule is saved as its current lr."""
        return {"lr": self.lr, "weight_decay": self.weight_decay, **self._extra_config(), **self.clipping.config()}

    def _extra_config(self) -> dict[str, Any]:
        return {}

    def state_dict(self) -> dict[str, Any]:
        """Settings, step count and state (host NumPy copies; scratch buffers are not state):
        ``{"class", "config", "steps", "state": {parameter name: {state name: array}}}``."""
        state = {
            key: {name: to_numpy(value) for name, value in entries.items() if name != "scratch"}
            for key, entries in self.state.items()
        }
        return {"class": type(self).__name__, "config": self.get_config(), "steps": int(self.steps), "state": state}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Take the step count and state of :meth:`state_dict` (settings: :func:`optimizer_from_state`)."""
        if state_dict.get("class") != type(self).__name__:
            raise ValueError(f"optimizer state: saved from {state_dict.get('class')}, not {type(self).__name__}")
        unknown = sorted(set(state_dict["state"]) - set(self.state))
        if unknown:
            raise ValueError(f"optimizer state: parameters {unknown} are not bound to this optimizer")
        for key, entries in state_dict["state"].items():
            for name, value in entries.items():  # in place: a flat state's views stay views
                current = self.state[key][name]
                value = same_shape(
                    f"optimizer state[{key!r}][{name!r}]", self.backend.asarray(value, current.dtype), current
                )
                self.state[key][name] = self.backend.copy_into(current, value)
        self.steps = int(state_dict["steps"])

    def __getstate__(self) -> dict[str, Any]:
        state = {k: v for k, v in self.__dict__.items() if k not in ("parameters", "backend", "_lr_array", "flat")}
        host = {key: {n: to_numpy(v) for n, v in e.items()} for key, e in self.state.items()}
        return {**state, "state": host, "owner_id": None, "_lr_value": None}  # bound and moved again by the network

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update({"clipping": GradientClipping(), **state}, parameters=[], _lr_array=None, flat=None)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.clipping.arguments(lr=self.lr)})"


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum, Nesterov momentum and L2 weight decay.

    >>> import portnn as pn
    >>> pn.optim.SGD(lr=0.1, momentum=0.9)
    SGD(lr=0.1)
    """

    def __init__(
        self,
        lr: float | Schedule = 0.01,
        momentum: float = 0.0,
        nesterov: bool = False,
        weight_decay: float = 0.0,
        **clipping: float | None,
    ) -> None:
        super().__init__(lr, weight_decay, **clipping)
        self.momentum = number_in_range("momentum", momentum, 0.0, 1.0)
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
        **clipping: float | None,
    ) -> None:
        super().__init__(lr, weight_decay, **clipping)
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise TypeError(f"betas: expected a pair of numbers, got {betas!r}")
        self.beta1 = number_in_range("betas[0]", betas[0], 0.0, 1.0)
        self.beta2 = number_in_range("betas[1]", betas[1], 0.0, 1.0)
        self.eps = number_in_range("eps", eps, 0.0, low_open=True)

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
        **clipping: float | None,
    ) -> None:
        super().__init__(lr, betas, eps, weight_decay, **clipping)

    def _decay(self, p: Array) -> Array:
        return self.backend.imul(p, 1.0 - self.lr * self.weight_decay) if self.weight_decay else p


class RMSprop(Optimizer):
    """RMSprop: ``v = alpha v + (1 - alpha) g^2``, ``p -= lr g / (sqrt(v) + eps)``."""

    state_names = ("v", "scratch")

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


def optimizer_from_state(state_dict: dict[str, Any]) -> Optimizer:
    """A new optimizer with the class and settings of :meth:`Optimizer.state_dict` (state not yet loaded)."""
    name = str(state_dict.get("class", "")).lower()
    if name not in OPTIMIZERS:
        raise ValueError(f"optimizer state: unknown optimizer {state_dict.get('class')!r}; known: {sorted(OPTIMIZERS)}")
    config = dict(state_dict.get("config", {}))
    if "betas" in config:
        config["betas"] = tuple(config["betas"])  # JSON has no tuples
    return OPTIMIZERS[name](**config)


def get_optimizer(optimizer: str | Optimizer) -> Optimizer:
    """An optimizer by name (default settings) or the object itself."""
    return by_name("optimizer", optimizer, Optimizer, OPTIMIZERS)  # type: ignore[no-any-return]
