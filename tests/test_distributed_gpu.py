"""The GPU gradient transports with one rank (one GPU): NCCL through cupy.cuda.nccl for CuPy and
through torch.distributed for torch on CUDA, host staging for JAX, end to end in a fit. Skipped, with the reason, without
a CUDA device or the library; without mpi4py, the one rank is portnn's stand-in. Run on a GPU machine:

    JAX_ENABLE_X64=1 python -m pytest -q tests/test_distributed_gpu.py
"""

import numpy as np
import pytest
from distributed_cases import parameters, train

import portnn as pn
from portnn import testing
from portnn.distributed.solo import SoloMPI

GPU_SPECS = ["cupy:0", "torch:cuda", "jax:gpu"]
# library -> the transport its gradients take on a GPU (JAX stages them through the host)
TRANSPORTS = {"cupy": "NCCL", "torch": "NCCL", "jax": "MPI"}


@pytest.fixture(params=GPU_SPECS)
def gpu(request):
    reason = testing.backend_skip_reason(request.param)
    if reason:
        pytest.skip(reason)
    return pn.get_backend(request.param)


def one_rank():
    """MPI's one-rank job where mpi4py is installed, else portnn's stand-in (a GPU machine may
    have CuPy or torch and no MPI): NCCL itself needs no MPI with one rank."""
    try:
        from mpi4py import MPI  # noqa: F401  (mpi4py without an MPI library fails here)
    except (ImportError, RuntimeError):
        return pn.distributed.Communicator(SoloMPI(), timeout=60)
    return pn.distributed.init(timeout=60)


def test_transport_is_nccl_and_sums(gpu):
    comm = one_rank()
    transport = comm.transport_for(gpu)
    assert TRANSPORTS[gpu.library] in transport.name
    flat = gpu.asarray(np.arange(6.0), gpu.dtype("float64"))
    summed = transport.allreduce(flat)
    testing.assert_on_backend(summed, gpu)
    np.testing.assert_array_equal(pn.to_numpy(summed), np.arange(6.0) * comm.size)


@pytest.mark.parametrize("name", ["adam_uneven_dropout", "float32_adam"])
def test_fit_over_nccl_matches_plain_fit(gpu, name):
    """One rank through NCCL ends where a plain fit ends (the sum over one rank is the identity)."""
    comm = one_rank()
    net, history = train(name, gpu.spec, comm)
    alone, alone_history = train(name, gpu.spec)
    for key, value in parameters(net).items():
        np.testing.assert_allclose(value, parameters(alone)[key], rtol=1e-6, atol=1e-12, err_msg=key)
    np.testing.assert_allclose(history.history["loss"], alone_history.history["loss"], rtol=1e-6)
