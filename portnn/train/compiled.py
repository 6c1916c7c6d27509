"""Training steps compiled as a whole where the backend compiles (JAX), instead of op by op.

The step is the same code that runs eagerly (:meth:`portnn.train.step.TrainStep.eager`): it is traced
once, with the parameters, gradients, buffers (BatchNorm's running statistics), optimizer state,
step count and learning rate passed in as arrays and handed back out, so the compiled function is
pure while the layers and optimizer keep their usual in-place or rebinding code. The learning rate
is an input, read on the host at every call: a callback or scikit-learn's ``invscaling`` changes it
without tracing again. What cannot be traced runs eagerly instead: networks with Dropout (its masks
are drawn on the host) and optimizers with a learning-rate schedule.

Compiled code is shared between networks: a :class:`Trace` is kept (the most recently used
:data:`CACHE_SIZE`) under a key of everything the trace depends on (:func:`trace_key`), so a second
network built alike, as scikit-learn's estimators build one per ``fit``, runs the first one's code.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING, Any

from ..nn.layers import Dropout
from ..objectives.losses import Loss
from ..optim.optimizers import Optimizer
from .tracekey import describe

if TYPE_CHECKING:
    from .._xp import Backend
    from ..nn.network import Network

Array = Any
CACHE_SIZE = 32  # traces kept for later networks: each holds its compiled programs
TRACES: OrderedDict[Hashable, Trace] = OrderedDict()


def can_compile(network: Network, optimizer: Optimizer) -> bool:
    """Whether a training step of ``network`` with ``optimizer`` can be traced and compiled."""
    if not network.backend.compiles or optimizer.schedule is not None:
        return False
    return not any(isinstance(layer, Dropout) for layer in network.layers)


def trace_key(network: Network, loss: Loss, optimizer: Optimizer, hook: Any = None, observe: Any = None) -> tuple:
    """What a traced step of ``network`` depends on besides its inputs' shapes: backend, dtype,
    the layers' types and settings, the loss's, the optimizer's (its learning rate aside: an
    input) and its state layout, the buffers, the gradient hook's settings and ``observe``."""
    return (
        type(network.backend),
        network.backend.spec,
        network.dtype_name,
        network.parameter_block is not None,
        describe(network.layers),
        tuple(b.name for b in network.buffers()),
        describe(loss),
        (type(optimizer), describe(optimizer.trace_settings()), optimizer.flat is not None),
        tuple((p.name, n) for p in network.parameters() for n in optimizer.buffer_names),
        describe(hook),
        describe(observe),
    )


def alive(ref: weakref.ref, holder: str) -> Network:
    """The network a step holds weakly (a kept step must not keep its network alive)."""
    network = ref()
    if network is None:
        raise RuntimeError(f"{holder}: its network no longer exists (keep a reference to it while training)")
    return network  # type: ignore[no-any-return]


class Trace:
    """A step body traced and compiled, shared by the compiled steps of one key. Each call binds
    the step that makes it (``bound.step``, per thread: networks alike may train side by side), so
    a trace for new input shapes traces that step's network. ``traces`` counts the traces."""

    def __init__(self, backend: Backend) -> None:
        self.bound = threading.local()
        self.traces = 0
        self.fn = backend.compile(self._pure)

    @classmethod
    def shared(cls, key: Hashable | None, backend: Backend) -> Trace:
        """The trace kept under ``key`` (made and kept if none is), or a trace of its own for ``None``."""
        if key is None:
            return cls(backend)
        trace = TRACES.get(key)
        if trace is None:
            trace = TRACES[key] = cls(backend)
            while len(TRACES) > CACHE_SIZE:
                TRACES.popitem(last=False)
        TRACES.move_to_end(key)
        return trace

    def _pure(self, arrays: list, steps: Array, lr: Array, X: Array, y: Array) -> tuple:
        self.traces += 1
        step: CompiledStep = self.bound.step
        return step.pure(arrays, steps, lr, X, y)


class CompiledStep:
    """One network's training step for one loss and optimizer setting, compiled.

    ``key`` tells whether a later setting can keep this step (``TrainStep.retarget`` compares it);
    ``shared``, when given, is the :func:`trace_key` under which the compiled code is shared with
    other networks' steps (without it, the step compiles its own).
    """

    def __init__(
        self,
        network: Network,
        eager: Callable[[Array, Array], Array],
        key: tuple,
        shared: Hashable | None = None,
        reads_grads: bool = False,
    ) -> None:
        # reads_grads: the body reads the gradients it is given (an update alone); a whole step's
        # backward pass writes them first, so they are not passed in
        self.network_ref, self.eager, self.key, self.reads_grads = weakref.ref(network), eager, key, reads_grads
        self.dtype = network.dtype
        self.trace = Trace.shared(shared, network.backend)

    @property
    def network(self) -> Network:
        return alive(self.network_ref, "this compiled step")

    def retarget(self, loss: Loss, optimizer: Optimizer) -> None:
        """Use ``optimizer``'s arrays from now on (its settings match the key)."""
        self.loss, self.optimizer = loss, optimizer
        self._lr_made: float | None = None  # the learning rate _lr_array holds
        self._steps_made: int | None = None  # the step count _steps_array holds
        self._steps_array: Any = None
        # Every array the step reads and replaces: the parameters, their gradients and the buffers,
        # read and installed through the network's owner of them, then the optimizer's state by
        # (parameter, state name), looked up in optimizer.state at every call (a reset after
        # divergence replaces it). One flat list in and out of the compiled function: a tiny
        # network's step pays for every Python-level list and attribute it goes through. Scratch
        # buffers stay out: a rebinding update only passes them along unread.
        owner = self.network.parameter_list
        if owner is None:  # (the backends that compile are those whose arrays are immutable)
            raise TypeError("a compiled step needs a network whose arrays are not writeable (JAX)")
        self.n_slots = len(owner.slots)
        self.read_arrays, self.install_arrays = owner.arrays, owner.set_arrays  # bound once: called per step
        self.n_values = len(owner.names)
        self.n_grads = 0 if self.reads_grads else self.n_values  # the gradients not passed in
        names = [n for n in optimizer.buffer_names if not n.startswith("scratch")]
        self.state_keys = [(p, n) for p in owner.names for n in names]

    def pure(self, arrays: list, steps: Array, lr: Array, X: Array, y: Array) -> tuple:
        """The traced body: the eager step on the arrays given, returning its value and the arrays
        after, and the step count after. ``lr`` and ``steps`` come in as weakly typed scalars,
        combined as the numbers were; ``steps`` is None (no argument) where the update does not
        read it (:attr:`Optimizer.reads_steps`)."""
        opt, n = self.optimizer, self.n_values
        # gradients not passed in are written by the backward pass before anything reads them
        grads = [self.network.xp.zeros_like(value) for value in arrays[: self.n_grads]]
        self._install([*arrays[:n], *grads, *arrays[n:]])
        if steps is not None:
            opt.steps = steps
        opt.forget_constants()  # made inside the trace, as its constants...
        try:
            with opt.traced_lr(lr, self.dtype):
                value = self.eager(X, y)
        finally:
            opt.forget_constants()  # ...and not kept: they are tracers
        return value, self._collect(), None if steps is None else steps + 1

    def __call__(self, X: Array, y: Array) -> Array:
        # _collect and _install, and _lr_input's test, inlined: a tiny network's step pays per call
        opt, bound, keys = self.optimizer, self.trace.bound, self.state_keys
        steps, lr, before = opt.steps, opt.lr, self.read_arrays()
        if keys:
            state = opt.state
            before += [state[p][n] for p, n in keys]
        # the count the last call handed back, and the learning rate, are on the device already
        counted = self._steps_array if steps == self._steps_made else self._counted(steps)
        rate = self._lr_array if lr == self._lr_made else self._lr_input(lr)
        bound.step = self
        try:
            inputs = before[: self.n_values] + before[self.n_values + self.n_grads :]
            value, arrays, self._steps_array = self.trace.fn(inputs, counted, rate, X, y)
        except BaseException:
            self._install(before)  # no tracer is left behind
            opt.steps = steps
            raise
        finally:
            bound.step = None  # the trace keeps no network alive
        self.install_arrays(arrays)
        if keys:
            state = opt.state
            for (p, n), value_ in zip(keys, arrays[self.n_slots :]):
                state[p][n] = value_
        opt.steps = self._steps_made = steps + 1
        return value

    def _counted(self, steps: int) -> Any:
        """The step count as the compiled function takes it: a device scalar, or None where the
        update does not read it."""
        return self._scalar(steps) if self.optimizer.reads_steps else None

    def _scalar(self, value: float) -> Any:
        return self.network.backend.compiled_scalar(value)

    def _lr_input(self, lr: float) -> Any:
        """The learning rate as the compiled function takes it, made again (it changed)."""
        self._lr_made, self._lr_array = lr, self._scalar(float(lr))
        return self._lr_array

    def _collect(self) -> list:
        """The owner's arrays, then the optimizer's state: what the compiled function takes."""
        arrays = self.read_arrays()
        if self.state_keys:
            state = self.optimizer.state
            arrays += [state[p][n] for p, n in self.state_keys]
        return arrays

    def _install(self, arrays: list) -> None:
        """Make ``arrays`` (as :meth:`_collect` lists them) the network's and the optimizer's."""
        self.install_arrays(arrays)
        if self.state_keys:
            state = self.optimizer.state
            for (p, n), value in zip(self.state_keys, arrays[self.n_slots :]):
                state[p][n] = value
