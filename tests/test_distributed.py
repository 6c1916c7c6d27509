"""Data-parallel fit (portnn.distributed): 2 and 3 ranks under mpiexec end where one process ends.

Each (backend, ranks) pair starts one mpiexec job (tests/distributed_worker.py) running every case
of tests/distributed_cases.py; the single-process runs happen here. pytest itself is not run under
mpiexec. Skipped, with the reason, without mpi4py or mpiexec.
"""

import json
import os
import pathlib
import shutil
import subprocess
import sys

import numpy as np
import pytest
from distributed_cases import CASES, EPOCHS, parameters, train
from readme_blocks import python_block

import portnn as pn
from portnn import testing
from portnn.distributed.solo import SoloMPI

HERE = pathlib.Path(__file__).parent
ALL = ",".join([*CASES, "seed_none"])
# jax:cpu (eager: its host-staged reduction) on one case: each op dispatched alone is slow
JOBS = [(b, n, ALL) for b in ("numpy", "array_api_strict", "torch:cpu") for n in (2, 3)] + [
    ("jax:cpu", 2, "sgd_momentum_even")
]


def mpiexec() -> str:
    """The mpiexec beside this Python (MPICH's wheel puts it there) or on PATH; skips without MPI."""
    pytest.importorskip("mpi4py", reason="portnn.distributed needs mpi4py: pip install 'portnn[mpi]'")
    found = shutil.which("mpiexec", path=f"{pathlib.Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    if found is None:
        pytest.skip("no mpiexec (pip install mpich)")
    return found


def launch(ranks: int, script: str, *args: str, timeout: float = 120, cwd=None) -> subprocess.CompletedProcess:
    """``mpiexec -n ranks python -m mpi4py script args`` with portnn importable, one BLAS thread each."""
    root = str(HERE.parent)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([root, str(HERE), os.environ.get("PYTHONPATH", "")])}
    env.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1", JAX_ENABLE_X64="1")
    # Open MPI's mpiexec refuses to run as root without the first two (the CI and GPU machines run
    # the tests as root), and more ranks than cores without the others (4.x, then 5.x's PRRTE);
    # MPICH's ignores them all.
    env.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    env.update(OMPI_MCA_rmaps_base_oversubscribe="1", PRTE_MCA_rmaps_default_mapping_policy=":oversubscribe")
    target = [str(HERE / script)] if script.endswith(".py") else [script]  # a test's worker, or "-m"
    command = [mpiexec(), "-n", str(ranks), sys.executable, "-m", "mpi4py", *target, *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env, cwd=cwd)


def run_job(backend: str, ranks: int, names: str, out: pathlib.Path) -> dict:
    """The results of ``names`` on ``ranks`` ranks: ``{case: [(parameters, history) per rank]}``."""
    done = launch(ranks, "distributed_worker.py", backend, str(out), names)
    assert done.returncode == 0, done.stdout + done.stderr
    return {
        name: [
            (dict(np.load(out / f"{name}.{r}.npz")), json.loads((out / f"{name}.{r}.json").read_text()))
            for r in range(ranks)
        ]
        for name in names.split(",")
    }


def assert_as_one_process(name: str, backend: str, params: dict, history: dict) -> None:
    net, alone_history = train(name, backend)
    alone, dtype = parameters(net), CASES[name].get("dtype", "float64")
    for key, value in params.items():
        if dtype == "float64":
            np.testing.assert_allclose(value, alone[key], rtol=0, atol=1e-12, err_msg=f"{name} {key}")
        else:
            np.testing.assert_allclose(value, alone[key], rtol=2e-5, atol=2e-6, err_msg=f"{name} {key}")
    assert history.keys() == alone_history.history.keys(), name
    for key, values in history.items():
        if key == "diverged":  # the same error, at the same epoch and step
            assert values == alone_history.history[key], name
            continue
        tol = 1e-9 if dtype == "float64" else 1e-4
        np.testing.assert_allclose(values, alone_history.history[key], rtol=tol, err_msg=f"{name} {key}")


def assert_ranks_identical(name: str, runs: list) -> None:
    first_params, first_history = runs[0]
    for rank, (params, history) in enumerate(runs[1:], 1):
        assert history == first_history, f"{name}: rank {rank}'s history differs from rank 0's"
        for key, value in params.items():
            assert np.array_equal(value, first_params[key]), f"{name}: rank {rank}'s {key} differs from rank 0's"


@pytest.mark.parametrize(("backend", "ranks", "names"), JOBS, ids=[f"{b}-{n}ranks" for b, n, _ in JOBS])
def test_ranks_end_as_one_process(backend, ranks, names, tmp_path):
    """Every case: rank 0's parameters and history equal one process's (1e-12 in float64, 2e-5
    relative in float32); every rank's are rank 0's, bit for bit."""
    reason = testing.backend_skip_reason(backend)
    if reason:
        pytest.skip(reason)
    results = run_job(backend, ranks, names, tmp_path)
    for name, runs in results.items():
        assert_ranks_identical(name, runs)
        if name in CASES:
            assert_as_one_process(name, backend, *runs[0])
    if "early_stopping" in results:  # the stop came before the last epoch, on every rank alike
        assert len(results["early_stopping"][0][1]["loss"]) < 4 * EPOCHS
        assert "diverged" in results["diverges"][0][1]
    if "seed_none" in results:  # every rank built other weights: all end with rank 0's run, another run than seed 3's
        seeded = results["adam_uneven_dropout"][0][0]["0.weight"]
        assert not np.array_equal(results["seed_none"][0][0]["0.weight"], seeded)


@pytest.mark.parametrize("kind", ["mpi", "solo"])
def test_one_rank_is_a_plain_fit(kind):
    """Run without mpiexec, ``init()`` is a job of one rank and fit trains as usual; so does
    portnn's one-process stand-in for MPI (what the GPU tests use without mpi4py)."""
    if kind == "mpi":
        mpiexec()
    comm = pn.distributed.init() if kind == "mpi" else pn.distributed.Communicator(SoloMPI())
    assert (comm.rank, comm.size, comm.local_rank) == (0, 1, 0)
    net, history = train("adam_uneven_dropout", "numpy", comm)
    alone, alone_history = train("adam_uneven_dropout", "numpy")
    assert history.history == alone_history.history
    for key, value in parameters(net).items():
        np.testing.assert_array_equal(value, parameters(alone)[key])


def test_cli_train_distributed(tmp_path):
    """``portnn train --distributed`` under mpiexec: rank 0 alone shows progress, reports and
    saves, with one process's numbers."""
    args = "train --dataset spirals --epochs 3 --batch-size 50 --progress lines --dtype float64".split()
    done = launch(2, "-m", "portnn", *args, "--distributed", "--save", str(tmp_path / "m.safetensors"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert [line.split()[1] for line in done.stderr.splitlines() if line.startswith("epoch")] == ["1/3", "2/3", "3/3"]
    alone = subprocess.run([sys.executable, "-m", "portnn", *args], capture_output=True, text=True, timeout=60)
    assert done.stdout.count("on 2 ranks") == 1, done.stdout
    loss_line = next(line for line in done.stdout.splitlines() if line.startswith("loss"))
    alone_line = next(line for line in alone.stdout.splitlines() if line.startswith("loss"))
    assert loss_line.split(" in ")[0] == alone_line.split(" in ")[0]
    assert (tmp_path / "m.safetensors").exists()


def test_torch_distributed_transport_with_gloo():
    """The torch.distributed transport (NCCL on GPUs) run with gloo on the CPU: 2 ranks sum."""
    reason = testing.backend_skip_reason("torch:cpu")
    if reason:
        pytest.skip(reason)
    done = launch(2, "distributed_gloo.py")
    assert done.returncode == 0, done.stdout + done.stderr
    for rank in (0, 1):
        assert f"rank {rank}: GLOO (torch.distributed): [0.0, 3.0, 6.0, 9.0]" in done.stdout, done.stdout


def test_readme_example_on_two_ranks(tmp_path):
    """The README's train.py, run as it says (2 ranks): rank 0 alone prints and saves."""
    script = tmp_path / "train.py"
    script.write_text(python_block("## Train on several processes or GPUs"))
    done = launch(2, str(script), cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("2 ranks: loss") == 1, done.stdout
    assert (tmp_path / "spirals.safetensors").exists()


@pytest.mark.parametrize("name", ["sgd_momentum_even", "sgd_weighted_metrics"])
def test_jax_step_splits_into_compiled_parts(jax_bk, monkeypatch, name):
    """On JAX the data-parallel step runs as a compiled gradient function, the reduction and a
    compiled update (one rank here), and ends where the compiled single-process fit ends."""
    mpiexec()
    from portnn.distributed.compiled import SplitStep

    calls, plain = [], SplitStep.__call__
    monkeypatch.setattr(SplitStep, "__call__", lambda self, *args: calls.append(1) or plain(self, *args))
    net, history = train(name, jax_bk.spec, pn.distributed.init())
    alone, alone_history = train(name, jax_bk.spec)
    assert calls, "the split compiled step was not used"
    for key, value in parameters(net).items():
        np.testing.assert_allclose(value, parameters(alone)[key], rtol=0, atol=1e-12, err_msg=key)
    for key, values in history.history.items():
        np.testing.assert_allclose(values, alone_history.history[key], rtol=1e-12, err_msg=key)
