"""No hangs in a data-parallel run: an exception, a SIGKILL or a stall on one rank ends the whole
job with a non-zero exit and a message naming the rank (tests/distributed_faults.py; started
under mpiexec as a subprocess, as tests/test_distributed.py does)."""

import re
import time

import pytest
from test_distributed import launch

import portnn as pn


def run_fault(mode: str) -> tuple[str, float]:
    start = time.perf_counter()
    done = launch(2, "distributed_faults.py", mode, timeout=60)
    seconds = time.perf_counter() - start
    output = done.stdout + done.stderr
    assert done.returncode != 0, output
    assert "finished" not in output
    return output, seconds


def test_an_exception_on_one_rank_ends_the_job():
    output, seconds = run_fault("raise")
    assert "a fault on purpose" in output
    assert "rank 1 of 2 raised RuntimeError" in output, output
    assert seconds < 30, output  # not the others' 1 s stall timeout's business: mpi4py aborts at once


def test_a_killed_rank_ends_the_job():
    output, seconds = run_fault("kill")
    pids = dict(re.findall(r"rank (\d+): pid (\d+)", output))
    assert "signal 9" in output.lower() or "killed" in output.lower(), output
    assert re.search(rf"PID {pids['1']}\b", output), f"the killed PID is not rank 1's ({pids}):\n{output}"
    assert seconds < 30, output


def test_a_stalled_rank_ends_the_job_after_the_timeout():
    output, seconds = run_fault("stall")
    assert re.search(r"rank 1 of 2 is stalled|rank 0 of 2 waited more than 1 s in", output), output
    assert "aborting the job" in output
    assert seconds < 30, output  # the stalled rank sleeps 60 s


def test_watchdog_aborts_with_the_operation_and_rank():
    """In one process: a watched operation that overruns calls abort with a message naming both."""
    messages = []
    dog = pn.distributed.watchdog.Watchdog(rank=2, size=4, timeout=0.05, abort=messages.append)
    with dog.watch("the gradient allreduce"):
        deadline = time.monotonic() + 5
        while not messages and time.monotonic() < deadline:
            time.sleep(0.01)
    assert messages and "rank 2 of 4" in messages[0] and "the gradient allreduce" in messages[0]


def test_watchdog_refuses_a_bad_timeout():
    with pytest.raises(ValueError, match="timeout"):
        pn.distributed.watchdog.Watchdog(rank=0, size=1, timeout=0, abort=print)


def test_a_crashed_run_resumes_from_rank_0s_backup(tmp_path):
    """Rank 1 crashes after epoch 2; started again, the job resumes from the backup rank 0 wrote
    and ends where one uninterrupted process ends; the finished run removes the backup."""
    import json

    import numpy as np
    from distributed_backup import run

    backup, out = tmp_path / "run.backup", tmp_path / "out.npz"
    crashed = launch(2, "distributed_backup.py", str(backup), str(out), "crash", timeout=60)
    assert crashed.returncode != 0 and backup.exists(), crashed.stdout + crashed.stderr
    done = launch(2, "distributed_backup.py", str(backup), str(out), timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert not backup.exists()
    net, history = run("")
    saved = np.load(out)
    resumed = json.loads(str(saved["history"]))
    assert resumed.keys() == history.history.keys()
    for key, values in resumed.items():
        np.testing.assert_allclose(values, history.history[key], rtol=1e-12, err_msg=key)
    for key, value in net.state_dict().items():
        np.testing.assert_allclose(saved[key], pn.to_numpy(value), rtol=0, atol=1e-12, err_msg=key)


def test_ranks_with_different_data_are_refused_alike(tmp_path):
    """Every rank must pass the whole training set: data of other shapes on one rank is an error
    on every rank, before any step (not a hang, not a silent mix)."""
    script = tmp_path / "different.py"
    script.write_text(
        "import numpy as np, portnn as pn\n"
        "comm = pn.distributed.init(timeout=20)\n"
        "X = np.ones((10 + comm.rank, 2))\n"
        "try:\n"
        "    pn.Sequential(pn.Dense(2, 1)).fit(X, X[:, :1], batch_size=4, distributed=comm, progress=False)\n"
        "except ValueError as exc:\n"
        "    print(f'rank {comm.rank}: {exc}')\n"
    )
    done = launch(2, str(script), timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    for rank in (0, 1):
        assert f"rank {rank}: distributed: the ranks differ" in done.stdout, done.stdout
