"""One fit's run state: whether to stop, the epoch it starts at, this process's rank, its History.

It lives with the fit, not on the network: ``fit`` makes a :class:`Run` and hands it to every
callback, which stops the run (``run.stop_training = True``) or resumes it (``run.initial_epoch``,
as ``BackupAndRestore`` does) through it. Everything else a callback reads or sets goes to the
network being trained (``run.model``): a callback written as ``model.state_dict()`` works as before.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..nn.network import Network

OWN = ("model", "stop_training", "initial_epoch", "rank", "history")


class Run:
    """The state of one ``fit``: ``model`` (the network it trains), ``stop_training`` (set it to
    stop after this epoch), ``initial_epoch`` (where the epochs start: set it in
    ``on_train_begin`` to resume), ``rank`` (this process's in a data-parallel fit; only rank 0
    writes files) and ``history`` (the History being filled). Other attributes are the model's.

    >>> import portnn as pn
    >>> class StopAtOnce(pn.Callback):
    ...     def on_epoch_end(self, run, epoch, logs):
    ...         run.stop_training = run.model.num_parameters() > 0
    >>> X, y = pn.datasets.xor()
    >>> net = pn.Sequential(pn.Dense(2, 1), seed=0)
    >>> len(net.fit(X, y, epochs=10, callbacks=[StopAtOnce()], progress=False).history["loss"])
    1
    """

    model: Network
    stop_training: bool
    initial_epoch: int
    rank: int
    history: Any  # a portnn.train.callbacks.History (which imports this module)

    def __init__(self, model: Network, history: Any, rank: int = 0) -> None:
        for name, value in zip(OWN, (model, False, 0, rank, history)):
            object.__setattr__(self, name, value)

    def __getattr__(self, name: str) -> Any:
        if name in OWN:  # not set yet (a copy being made): not the model's
            raise AttributeError(name)
        return getattr(self.model, name)

    def __setattr__(self, name: str, value: Any) -> None:
        if name in OWN:
            object.__setattr__(self, name, value)
        else:
            setattr(self.model, name, value)

    def __repr__(self) -> str:
        return f"Run(model={self.model!r}, initial_epoch={self.initial_epoch}, stop_training={self.stop_training})"
