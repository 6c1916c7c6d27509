"""A training run with BackupAndRestore that can kill itself (SIGKILL) at a chosen point, for
tests/test_resume.py. Run as:

    python resume_worker.py SPEC DTYPE BACKUP OUT [KILL]

KILL is ``step:N`` (inside the N-th training step), ``before:N`` / ``during:N`` / ``after:N``
(around the N-th backup write; ``during`` leaves half a temporary file, as a crash mid-write
would) or absent. The finished run writes its weights and history to OUT (.npz).
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

    atomic_write = pn.io._atomic_write

    def write(path: str, data: bytes) -> None:
        count["write"] += 1
        hit = count["write"] == int(at or 0)
        if hit and where == "before":
            die()
        if hit and where == "during":
            with open(f"{path}.crashed.tmp", "wb") as f:
                f.write(data[: len(data) // 2])
            die()
        atomic_write(path, data)
        if hit and where == "after":
            die()

    pn.io._atomic_write = write
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
