"""BackupAndRestore: a run killed at any moment and started again continues to the same bits."""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING

from .. import io
from . import checkpoint
from .callbacks import Callback

if TYPE_CHECKING:
    from .run import Run


class BackupAndRestore(Callback):
    """Back a training run up every ``every`` epochs to ``path``; resume from it when ``fit`` starts.

    The backup holds the weights and buffers, the optimizer's settings and state, the random
    generators' states (shuffling and Dropout), the number of epochs done and the history so far,
    written atomically and checksummed. When ``fit`` starts and a backup is at ``path``, all of it
    is restored and training continues with the next epoch: a process killed at any moment (even
    mid-write) and started again with the same script ends with the weights and history of a run
    never interrupted, bit for bit. A run that completes removes its backup. A backup of another
    architecture, dtype or optimizer is refused with an error, never overwritten silently. List it
    after callbacks that add values to the logs, so that its backup holds them.
    (Keras has the same name and idea.)

    >>> import portnn as pn, tempfile, os
    >>> X, y = pn.datasets.xor()
    >>> path = os.path.join(tempfile.mkdtemp(), "run.backup")
    >>> net = pn.Sequential(pn.Dense(2, 4), pn.Tanh(), pn.Dense(4, 1), seed=0)
    >>> h = net.fit(X, y, epochs=3, callbacks=[pn.BackupAndRestore(path)], progress=False)
    >>> len(h.history["loss"]), os.path.exists(path)  # completed: the backup is gone
    (3, False)
    """

    def __init__(self, path: str | os.PathLike, every: int = 1) -> None:
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise ValueError(f"every: expected an int >= 1, got {every!r}")
        self.path, self.every = io.check_writable(path), every

    def on_train_begin(self, run: Run) -> None:
        io.check_writable(self.path)  # before any epoch is spent
        if os.path.exists(self.path):
            self._restore(run)

    def _restore(self, run: Run) -> None:
        model = run.model
        tensors, meta = io.read(self.path)
        if meta.get("kind") != "backup":
            raise ValueError(f"BackupAndRestore: {self.path!r} is not a backup (a saved model?); give another path")
        for what, now in (("architecture", checkpoint.architecture(model)), ("dtype", model.dtype_name)):
            if meta.get(what) != now:
                raise ValueError(
                    f"BackupAndRestore: the backup at {self.path!r} is of another {what} ({meta.get(what)}, this model "
                    f"has {now}); delete it to start over, or give another path"
                )
        saved, opt = checkpoint.optimizer_settings(meta, self.path), model.optimizer
        config = json.loads(json.dumps(opt.get_config()))  # as the backup holds it (tuples become lists)
        if opt.schedule is not None:  # a schedule's lr moves with the steps: compare the rest
            config["lr"] = saved["config"].get("lr")
        if saved["class"] != type(opt).__name__ or saved["config"] != config:
            raise ValueError(
                f"BackupAndRestore: the backup at {self.path!r} was made with {saved['class']}({saved['config']}), "
                f"this fit uses {type(opt).__name__}({opt.get_config()}); pass the same optimizer, or delete the backup"
            )
        checkpoint.restore(model, tensors, meta, self.path, optimizer=opt)
        run.history.history, run.history.epoch, run.initial_epoch = checkpoint.progress(meta, self.path)

    def on_epoch_end(self, run: Run, epoch: int, logs: dict[str, float]) -> None:
        if (epoch + 1) % self.every or run.rank != 0:  # data-parallel: rank 0 writes
            return
        model = run.model
        history = {"history": run.history.history, "epoch": run.history.epoch}
        extra = {"kind": "backup", "epochs_done": str(epoch + 1), "history": json.dumps(history)}
        io.write(self.path, *checkpoint.snapshot(model, model.optimizer, extra))

    def on_train_end(self, run: Run) -> None:
        if run.rank == 0 and os.path.exists(self.path):
            os.remove(self.path)
