"""A training run with BackupAndRestore that can kill itself (SIGKILL) at a chosen point, for
tests/test_resume.py. Run as:

    python resume_worker.py SPEC DTYPE BACKUP OUT [KILL]

KILL is ``step:N`` (inside the N-th training step), ``before:N`` / ``during:N`` / ``after:N``
(around the N-th backup write; ``during`` dies inside ``portnn.io``'s atomic write, after the
temporary file is written and before it is renamed) or absent. The finished run writes its weights and history to OUT (.npz).
"""

import json
import os
import signal
import sys

import numpy as np

import portnn as pn


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def main(spec: str, dtype: str, backup: str, out: str, kill: str = "") -> None:
    where, _, at = kill.partition(":")
    count = {"step": 0, "write": 0}

    class KillingMSE(pn.MSE):
        def value_and_grad(self, xp, pred, target):
            count["step"] += 1
            if where == "step" and count["step"] == int(at):
                die()
            return super().value_and_grad(xp, pred, target)

    write, replace = pn.io.write, os.replace

    def counted_write(path, tensors, metadata):  # the backup's write through portnn.io
        count["write"] += 1
        hit = count["write"] == int(at or 0)
        if hit and where == "before":
            die()
        count["crash_in_rename"] = hit and where == "during"
        write(path, tensors, metadata)
        if hit and where == "after":
            die()

    def crashing_replace(src, dst):  # the temporary file is written and synced, not yet renamed
        if count.get("crash_in_rename"):
            die()
        replace(src, dst)

    pn.io.write, os.replace = counted_write, crashing_replace
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(24, 3)), rng.normal(size=(24, 2))
    net = pn.Sequential(pn.Dense(3, 8), pn.Tanh(), pn.Dropout(0.25), pn.Dense(8, 2), backend=spec, dtype=dtype, seed=3)
    history = net.fit(
        X,
        y,
        loss=KillingMSE(),
        optimizer=pn.optim.Adam(lr=0.01),
        epochs=6,
        batch_size=5,
        callbacks=[pn.BackupAndRestore(backup)],
        progress=False,
    )
    arrays = {k: pn.to_numpy(v) for k, v in net.state_dict().items()}
    np.savez(out, history=np.array(json.dumps(history.history)), **arrays)


if __name__ == "__main__":
    main(*sys.argv[1:])
