"""The data-parallel step compiled where the backend compiles (JAX): a compiled gradient
function, the reduction between the ranks (outside any trace: it is communication), and a
compiled update. Both parts are :class:`portnn.train.compiled.CompiledStep` bodies, so they trace the
same layer, loss and optimizer code as the eager step.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..train.compiled import CompiledStep

if TYPE_CHECKING:
    from ..nn.network import Network
    from ..objectives.metricbase import MetricSet
    from ..optim.optimizers import Optimizer
    from .shares import ScaledLoss

Array = Any


class SplitStep:
    """``step(X, y, w, scale, reduce)``: this rank's scaled loss and gradients (compiled), then
    ``reduce(parameters)`` (the sum over the ranks, which sets the gradients), then the update
    (compiled). Returns what the eager step returns: the scaled value, or it with the metrics'
    statistics."""

    def __init__(self, network: Network, scaled: ScaledLoss, optimizer: Optimizer, observe: MetricSet | None) -> None:
        self.network, self.scaled, self.optimizer, self.observe = network, scaled, optimizer, observe
        self.grads = CompiledStep(network, self._grads, ())
        self.grads.retarget(scaled, optimizer)
        self._update_for(optimizer.lr)

    def _update_for(self, lr: float) -> None:
        self.update = CompiledStep(self.network, self._update, (), reads_grads=True)
        self.update.retarget(self.scaled, self.optimizer)
        self.lr = lr

    def __call__(self, X: Array, y: Array, w: Array | None, scale: Array, reduce: Any) -> Any:
        opt = self.optimizer
        steps = opt.steps
        out = self.grads(X, (y, w, scale))
        opt.steps = steps  # the gradient part updates nothing
        self.scaled.value = out[0] if self.observe is not None else out
        reduce(opt.parameters)
        if opt.lr != self.lr:  # changed by a callback: the update is traced again
            self._update_for(opt.lr)
        self.update(X[:0, ...], y[:0, ...])
        return out

    def _grads(self, X: Array, packed: tuple) -> Any:
        y, w, scale = packed
        net, scaled = self.network, self.scaled
        scaled.scale = scale
        pred, backprops = net.forward(X, True)
        value, grad = scaled.value_and_grad(net.xp, pred, y) if w is None else scaled.value_and_grad(net.xp, pred, y, w)
        observed = None if self.observe is None else self.observe(net.xp, pred, y, w)
        net.backward(grad, backprops)
        return value if self.observe is None else (value, observed)

    def _update(self, X: Array, y: Array) -> Array:
        self.optimizer.step()
        return X.shape[0]
