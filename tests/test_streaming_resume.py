"""A streamed fit under BackupAndRestore, killed (SIGKILL) mid-epoch and run again, ends with the
weights of an uninterrupted in-memory fit, bit for bit (issue 24)."""

import signal
import subprocess
import sys

import numpy as np
import pytest

import portnn as pn
from portnn.testing import backend_skip_reason

WORKER = """
import os, signal, sys
import numpy as np
import portnn as pn

spec, folder, kill_at = sys.argv[1], sys.argv[2], int(sys.argv[3])
count = [0]

class KillingCE(pn.CrossEntropy):
    def value_and_grad(self, xp, pred, target, weight=None):
        count[0] += 1
        if count[0] == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
        return super().value_and_grad(xp, pred, target, weight)

X = np.load(os.path.join(folder, "X.npy"), mmap_mode="r")
y = np.load(os.path.join(folder, "y.npy"), mmap_mode="r")
net = pn.Sequential(pn.Dense(5, 8), pn.ReLU(), pn.Dropout(0.3), pn.Dense(8, 3), backend=spec, seed=4)
net.fit(X, y, loss=KillingCE(), optimizer="adam", epochs=4, batch_size=16, progress=False, chunk_bytes=1000,
        callbacks=[pn.BackupAndRestore(os.path.join(folder, "backup"))])
np.savez(os.path.join(folder, "out.npz"), **{k: pn.to_numpy(v) for k, v in net.state_dict().items()})
print(count[0])
"""


@pytest.mark.parametrize("spec", ["numpy", "torch:cpu"])
def test_streamed_fit_killed_and_resumed_gives_the_in_memory_weights(tmp_path, spec):
    reason = backend_skip_reason(spec)
    if reason:
        pytest.skip(reason)
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(300, 5)).astype(np.float32), rng.integers(0, 3, 300)
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "y.npy", y)
    run = [sys.executable, "-c", WORKER, spec, str(tmp_path)]
    killed = subprocess.run([*run, "50"], capture_output=True, text=True)  # in the third epoch (19 steps each)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert not (tmp_path / "out.npz").exists()
    finished = subprocess.run([*run, "0"], capture_output=True, text=True)
    assert finished.returncode == 0, finished.stderr
    assert int(finished.stdout.split()[-1]) == 2 * 19  # resumed after the second epoch's backup
    reference = pn.Sequential(pn.Dense(5, 8), pn.ReLU(), pn.Dropout(0.3), pn.Dense(8, 3), backend=spec, seed=4)
    reference.fit(X, y, loss="cross_entropy", optimizer="adam", epochs=4, batch_size=16, progress=False)
    resumed = np.load(tmp_path / "out.npz")
    for key, value in reference.state_dict().items():
        np.testing.assert_array_equal(resumed[key], pn.to_numpy(value), err_msg=key)
