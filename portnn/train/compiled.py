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
from ..nn.paramblock import all_in_place, state_dict_slots
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
        state_keys = tuple((p.name, n) for p in network.parameters() for n in optimizer.state_names)
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
        state_keys = [(p.name, n) for p in self.parameters for n in optimizer.state[p.name]]
        # Every array the step reads and replaces, as (dict, key): the parameters, their gradients,
        # the optimizer's state, the buffers. One flat list in and out of the compiled function:
        # a tiny network's step pays for every Python-level list and attribute it goes through.
        # The optimizer's state dicts the slots point into: replaced (a reset after divergence
        # does), the slots are made again before the next call.
        self.state_dicts = state_dict_slots(optimizer, [p.name for p in self.parameters if optimizer.state[p.name]])
        self.slots = [
            *((p.store, p.key) for p in self.parameters),
            *((p.grads, p.key) for p in self.parameters),
            *((optimizer.state[key], name) for key, name in state_keys),
            *((b.store, b.key) for b in self.network.buffers()),
        ]

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
        if not all_in_place(self.state_dicts):
            self.retarget(self.loss, opt)
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
        return [store[key] for store, key in self.slots]

    def _install(self, arrays: list) -> None:
        for (store, key), value in zip(self.slots, arrays):
            store[key] = value
