"""TrainStep: one training step — forward, loss, backward, ``grad_hook``, update — eager, or
compiled as a whole where the backend compiles (see :mod:`portnn.train.compiled`).

``fit`` is a loop over batches calling a TrainStep; other loops (scikit-learn estimators,
data-parallel training) make their own. Compiled code is shared by every step of the same
structure and settings (see :mod:`portnn.train.compiled`), and a network's later ``fit`` calls
with the same loss and optimizer settings keep its step (``TrainStep.reuse``).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .. import _checks
from ..objectives import misuse, weights
from ..objectives.lossbase import Loss, get_loss
from ..optim.optimizers import Optimizer
from .compiled import CompiledStep, alive, can_compile, trace_key

if TYPE_CHECKING:
    from ..nn.network import Network
    from ..nn.parameter import Parameter

Array = Any
GradHook = Callable[[list["Parameter"]], None]
# observe(xp, pred, y, weight) -> arrays: what a step reports beside its loss (metrics' statistics)
Observe = Callable[[Any, Array, Array, Any], Any]


class TrainStep:
    """``step(X, y) -> loss`` (a 0-D array on the device): one update of ``network``'s parameters;
    ``step(X, y, weight)`` weighs the rows (``weight``: one per row, a 1-D array of the model's
    dtype on its device; the loss is then their weighted mean).

    ``grad_hook(parameters)``, when given, runs between the backward pass and the update and may
    change each ``parameter.grad`` (averaging across processes, clipping). ``observe(xp, pred, y,
    weight)``, when given, runs after the loss on the predictions the step trains on, and the step
    returns ``(loss, observed)``: ``fit`` computes its metrics' statistics so, inside the compiled
    step (``observe`` is part of what the compiled code depends on, compared with ``==``). With
    ``compile`` the step is traced once and runs compiled where the backend compiles and the step
    can be traced (not with Dropout, a learning-rate schedule or a ``grad_hook``, unless the hook
    declares ``traceable = True``: it computes on the gradients it is given only); elsewhere it
    runs op by op. The learning rate is read at every call (a callback may change it).

    The step holds ``network`` weakly (a network's kept step must not keep it alive): keep a
    reference to the network while you train it.

    >>> import portnn as pn
    >>> X, y = pn.datasets.xor()
    >>> net = pn.Sequential(pn.Dense(2, 1), pn.Sigmoid(), backend="numpy", seed=0)
    >>> step = TrainStep(net, "mse", pn.optim.SGD(lr=0.5))
    >>> loss = step(net.check_features(X), net.backend.asarray(y, net.dtype))
    >>> float(loss) > 0
    True
    """

    def __init__(
        self,
        network: Network,
        loss: str | Loss,
        optimizer: Optimizer,
        grad_hook: GradHook | None = None,
        compile: bool = True,
        observe: Observe | None = None,
    ) -> None:
        if not isinstance(compile, bool):
            raise TypeError(f"compile: expected True or False, got {compile!r}")
        self.network_ref = weakref.ref(network)
        self.grad_hook, self.compile, self.observe = grad_hook, compile, observe
        self.compiled: CompiledStep | None = None
        self.retarget(get_loss(loss), optimizer)

    @property
    def network(self) -> Network:
        """The network this step trains."""
        return alive(self.network_ref, "TrainStep")

    @classmethod
    def reuse(
        cls,
        previous: TrainStep | None,
        network: Network,
        loss: Loss,
        optimizer: Optimizer,
        compile: bool = True,
        observe: Observe | None = None,
    ) -> TrainStep:
        """``previous`` pointed at ``loss``, ``optimizer`` and ``observe`` when it is ``network``'s step
        with the same compile setting and no hook (its compiled code is kept if the settings
        match), else a new step."""
        if (
            previous is None
            or previous.network_ref() is not network
            or previous.compile != compile
            or previous.grad_hook
        ):
            return cls(network, loss, optimizer, compile=compile, observe=observe)
        previous.observe = observe
        previous.retarget(loss, optimizer)
        return previous

    def retarget(self, loss: Loss, optimizer: Optimizer) -> None:
        """Train with ``loss`` and ``optimizer`` from now on (binding the optimizer to the network)."""
        net = self.network
        self.loss, self.optimizer = loss, optimizer
        optimizer.bind(net.parameters(), net.backend, owner=net)
        self.parameters = optimizer.parameters
        if (
            self.compile
            and (self.grad_hook is None or getattr(self.grad_hook, "traceable", False))
            and can_compile(net, optimizer)
        ):
            shared = trace_key(net, loss, optimizer, self.grad_hook, self.observe)
            key = (shared, optimizer.lr)  # a new setting, a new step: its code may be shared still
            if self.compiled is None or self.compiled.key != key:
                self.compiled = CompiledStep(net, self._traced, key, shared)
            self.compiled.retarget(loss, optimizer)
        else:
            self.compiled = None

    @property
    def run(self) -> Callable[..., Any]:
        """The callable a loop should call per batch: the step itself where it is compiled (it
        packs weighted targets), else :meth:`eager` directly (one Python call less per step)."""
        if self.compiled is not None:
            return self
        return self.plain if self.observe is None and self.grad_hook is None else self.eager

    def plain(self, X: Array, y: Array, weight: Array | None = None) -> Array:
        """:meth:`eager` without a metric or a hook: the small networks' hot path, with fewer checks."""
        net = self.network
        pred, backprops = net.forward(X, True)
        loss = self.loss
        value, grad = (
            loss.value_and_grad(net.xp, pred, y) if weight is None else loss.value_and_grad(net.xp, pred, y, weight)
        )
        net.backward(grad, backprops)
        self.optimizer.step()
        return value

    def __call__(self, X: Array, y: Array, weight: Array | None = None) -> Any:
        if self.compiled is not None:
            return self.compiled(X, y if weight is None else (y, weight))
        return self.eager(X, y, weight)

    def _traced(self, X: Array, y: Any) -> Any:
        """What the compiled step traces: :meth:`eager`, with ``y`` the pair ``(y, weight)`` when
        the rows are weighted (the compiled step passes the targets through as one argument)."""
        return self.eager(X, *y) if isinstance(y, tuple) else self.eager(X, y)

    def eager(self, X: Array, y: Array, weight: Array | None = None) -> Any:
        """The step op by op (what the compiled step traces)."""
        net = self.network
        pred, backprops = net.forward(X, True)
        if weight is None:  # a loss of your own may not take weights
            value, grad = self.loss.value_and_grad(net.xp, pred, y)
        else:
            value, grad = self.loss.value_and_grad(net.xp, pred, y, weight)
        observed = None if self.observe is None else self.observe(net.xp, pred, y, weight)
        net.backward(grad, backprops)
        if self.grad_hook is not None:
            self.grad_hook(self.parameters)
            if net.parameter_block is not None:  # the owner takes in gradients the hook replaced
                net.parameter_block.gather_grads()
        self.optimizer.step()
        return value if self.observe is None else (value, observed)


def value_and_grad(
    model: Network, loss: str | Loss, X: Any, y: Any, training: bool = True, sample_weight: Any = None
) -> tuple[Array, dict[str, Array]]:
    """The loss of ``model`` on ``(X, y)`` and its gradient for every parameter (keyed like
    state_dict); with ``sample_weight`` (one per row), the weighted loss. The model is left as it
    was: its buffers (BatchNorm's running statistics) and random generators (Dropout) are put back.

    >>> import portnn as pn
    >>> net = pn.Sequential(pn.Dense(2, 1), backend="numpy", dtype="float64", seed=0)
    >>> value, grads = pn.value_and_grad(net, "mse", [[1.0, 2.0]], [[0.5]])
    >>> sorted(grads), grads["0.weight"].shape
    (['0.bias', '0.weight'], (2, 1))
    """
    loss = get_loss(loss)
    X = model.check_features(X)
    y = _checks.targets("y", y, model.backend, model.dtype, X.shape[0])
    w = None
    if sample_weight is not None:
        weights.check_loss_takes_weights(loss)
        w = model.backend.asarray(weights.sample_weights("sample_weight", sample_weight, X.shape[0]), model.dtype)
    xp, rng_state = model.xp, model.rng_state()
    buffers = {b.name: xp.asarray(b.value, copy=True) for b in model.buffers()}
    pred, backprops = model.forward(X, training)
    for b in model.buffers():
        b.value = buffers[b.name]
    model.set_rng_state(rng_state)
    misuse.check_output(model, loss, X, output=pred)
    try:
        y = loss.prepare_target(model.xp, y, tuple(pred.shape), model.dtype)
    except ValueError as exc:
        raise ValueError(f"y: {exc}") from exc
    value, grad = loss.value_and_grad(model.xp, pred, y) if w is None else loss.value_and_grad(model.xp, pred, y, w)
    model.backward(grad, backprops)
    return xp.asarray(value), {p.name: xp.asarray(p.grad, copy=True) for p in model.parameters()}
