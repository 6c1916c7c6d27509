"""Training steps compiled as a whole where the backend compiles (JAX), instead of op by op.

The step is the same code that runs eagerly (``Sequential._train_step``): it is traced once, with
the parameters, gradients, optimizer state and step count passed in as arrays and handed back
out, so the compiled function is pure while the layers and optimizer keep their usual in-place
or rebinding code. What cannot be traced runs eagerly instead: models with Dropout (its masks are
drawn on the host) and optimizers with a learning-rate schedule (read as a host number per step).

The compiled step is kept on the model and reused by later ``fit`` calls whose loss and optimizer
have the same type and settings (tracing and compiling cost far more than an epoch of a small
network).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .layers import Dropout
from .losses import Loss
from .optim import Optimizer

if TYPE_CHECKING:
    from .model import Sequential

Array = Any
TrainStep = Callable[[Array, Array, Loss, Optimizer], Array]


def compiled_train_step(model: Sequential, loss: Loss, optimizer: Optimizer) -> TrainStep | None:
    """A drop-in for ``model._train_step`` that runs compiled, or None where it cannot.

    Optimizer settings are read when a step is traced; a changed ``optimizer.lr`` (by a callback,
    say) is noticed and the step traced again.
    """
    if not model.backend.compiles or optimizer.schedule is not None:
        return None
    if any(isinstance(layer, Dropout) for layer in model.layers):
        return None
    compiled = _CompiledStep.lookup(model, loss, optimizer)
    if compiled is None:
        return None
    current = [compiled]

    def step(X: Array, y: Array, loss_: Loss, optimizer_: Optimizer) -> Array:
        if current[0].lr != optimizer.lr:
            current[0] = _CompiledStep.lookup(model, loss, optimizer)  # type: ignore[assignment]
        return current[0](X, y)

    return step


class _CompiledStep:
    """One model's training step for one loss and optimizer setting, traced and compiled."""

    def __init__(self, model: Sequential, loss: Loss, optimizer: Optimizer, state_keys: list) -> None:
        self.slots, self.state_keys = model._slots(), state_keys
        self.model, self.loss, self.optimizer = model, loss, optimizer  # who is trained now
        self.lr = optimizer.lr
        self.fn = model.backend.compile(self._pure)

    @staticmethod
    def lookup(model: Sequential, loss: Loss, optimizer: Optimizer) -> _CompiledStep | None:
        """The compiled step for these settings (lr included), made once and kept on the model."""
        state_keys = [(s.key, name) for s in model._slots() for name in optimizer.state[s.key]]
        key = (
            model.backend.spec,
            model.dtype_name,
            type(loss),
            repr(sorted(vars(loss).items())),
            type(optimizer),
            repr(sorted(optimizer.get_config().items())),
            tuple(state_keys),
        )
        cache = model.__dict__.setdefault("_compiled_steps", {})
        if key not in cache:
            cache.clear()  # one entry: a new setting replaces the old compiled step
            cache[key] = _CompiledStep(model, loss, optimizer, state_keys)
        compiled: _CompiledStep = cache[key]
        compiled.loss, compiled.optimizer = loss, optimizer
        return compiled if compiled.fn is not None else None

    def _pure(self, params: list, grads: list, state: list, steps: Array, X: Array, y: Array) -> tuple:
        opt = self.optimizer
        self._install(params, grads, state)
        opt.steps = steps
        opt.forget_constants()  # made inside the trace, as its constants...
        value = self.model._train_step(X, y, self.loss, opt)
        outputs = self._collect()
        opt.forget_constants()  # ...and not kept: they are tracers
        return value, *outputs

    def __call__(self, X: Array, y: Array) -> Array:
        opt = self.optimizer
        steps, before = opt.steps, self._collect()
        try:
            value, params, grads, state = self.fn(*before, steps, X, y)
        except BaseException:
            self._install(*before)  # no tracer is left behind
            opt.steps = steps
            raise
        self._install(params, grads, state)
        opt.steps = steps + 1
        return value

    def _collect(self) -> tuple[list, list, list]:
        params = [s.params[s.name] for s in self.slots]
        grads = [s.grads[s.name] for s in self.slots]
        return params, grads, [self.optimizer.state[key][name] for key, name in self.state_keys]

    def _install(self, params: list, grads: list, state: list) -> None:
        for s, p, g in zip(self.slots, params, grads):
            s.params[s.name], s.grads[s.name] = p, g
        for (key, name), value in zip(self.state_keys, state):
            self.optimizer.state[key][name] = value
