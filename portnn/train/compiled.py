"""Training steps compiled as a whole where the backend compiles (JAX), instead of op by op.

The step is the same code that runs eagerly (:meth:`portnn.train.step.TrainStep.eager`): it is traced
once, with the parameters, gradients, buffers (BatchNorm's running statistics), optimizer state
and step count passed in as arrays and handed back out, so the compiled function is pure while
the layers and optimizer keep their usual in-place or rebinding code. What cannot be traced runs
eagerly instead: networks with Dropout (its masks are drawn on the host) and optimizers with a
learning-rate schedule (read as a host number per step).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..nn.layers import Dropout
from ..objectives.losses import Loss
from ..optim.optimizers import Optimizer

if TYPE_CHECKING:
    from ..nn.network import Network

Array = Any


def can_compile(network: Network, optimizer: Optimizer) -> bool:
    """Whether a training step of ``network`` with ``optimizer`` can be traced and compiled."""
    if not network.backend.compiles or optimizer.schedule is not None:
        return False
    return not any(isinstance(layer, Dropout) for layer in network.layers)


class CompiledStep:
    """One network's training step for one loss and optimizer setting, traced and compiled.

    ``key`` is what the compiled code depends on: backend, dtype, loss and optimizer types and
    settings (lr included: it is read when tracing), and the optimizer's state layout.
    """

    def __init__(self, network: Network, eager: Callable[[Array, Array], Array], key: tuple) -> None:
        self.network, self.eager, self.key = network, eager, key
        self.fn = network.backend.compile(self._pure)

    @staticmethod
    def key_for(network: Network, loss: Loss, optimizer: Optimizer) -> tuple:
        state_keys = tuple((p.name, n) for p in network.parameters() for n in optimizer.buffer_names)
        buffer_names = tuple(b.name for b in network.buffers())
        return (
            network.backend.spec,
            network.dtype_name,
            type(loss),
            repr(sorted(vars(loss).items())),
            type(optimizer),
            repr(sorted(optimizer.get_config().items())),
            state_keys,
            buffer_names,
        )

    def retarget(self, loss: Loss, optimizer: Optimizer) -> None:
        """Use ``optimizer``'s arrays from now on (its settings match the key)."""
        self.loss, self.optimizer, self.lr = loss, optimizer, optimizer.lr
        self.parameters = optimizer.parameters
        # Every array the step reads and replaces: the parameters, their gradients and the buffers
        # as (dict, key) of the layers, then the optimizer's state by (parameter, state name),
        # looked up in optimizer.state at every call (a reset after divergence replaces it). One
        # flat list in and out of the compiled function: a tiny network's step pays for every
        # Python-level list and attribute it goes through. Scratch buffers stay out: a rebinding
        # update only passes them along unread.
        self.slots = [
            *((p.store, p.key) for p in self.parameters),
            *((p.grads, p.key) for p in self.parameters),
            *((b.store, b.key) for b in self.network.buffers()),
        ]
        names = [n for n in optimizer.buffer_names if not n.startswith("scratch")]
        self.state_keys = [(p.name, n) for p in self.parameters for n in names]

    def _pure(self, arrays: list, steps: Array, X: Array, y: Array) -> tuple:
        opt = self.optimizer
        self._install(arrays)
        opt.steps = steps
        opt.forget_constants()  # made inside the trace, as its constants...
        value = self.eager(X, y)
        arrays = self._collect()
        opt.forget_constants()  # ...and not kept: they are tracers
        return value, arrays

    def __call__(self, X: Array, y: Array) -> Array:
        opt = self.optimizer
        steps, before = opt.steps, self._collect()
        try:
            value, arrays = self.fn(before, steps, X, y)
        except BaseException:
            self._install(before)  # no tracer is left behind
            opt.steps = steps
            raise
        self._install(arrays)
        opt.steps = steps + 1
        return value

    def _collect(self) -> list:
        arrays = [store[key] for store, key in self.slots]
        if self.state_keys:
            state = self.optimizer.state
            arrays += [state[p][n] for p, n in self.state_keys]
        return arrays

    def _install(self, arrays: list) -> None:
        slots = self.slots
        for (store, key), value in zip(slots, arrays):
            store[key] = value
        if self.state_keys:
            state = self.optimizer.state
            for (p, n), value in zip(self.state_keys, arrays[len(slots) :]):
                state[p][n] = value
