"""CuPy's NCCL transport, on a machine without a GPU: its calls into ``cupy.cuda.nccl``, checked
against stand-in modules. The real run is in tests/test_distributed_gpu.py (GPU machines only);
this one catches, everywhere, what broke there once: ``cupy.cuda.nccl`` is a submodule that
``import cupy`` does not load."""

import contextlib
import sys
import types

import pytest

from portnn._xp.nccl import CupyNcclTransport


class FakeComm:
    rank, size = 0, 1

    def __init__(self):
        self.watched, self.broadcasts = [], []

    def broadcast(self, value, what):
        self.broadcasts.append(what)
        return value

    @contextlib.contextmanager
    def watch(self, what):
        self.watched.append(what)
        yield


class FakeBackend:
    device = contextlib.nullcontext()


def fake_cupy(with_nccl=True):
    """``cupy`` and ``cupy.cuda`` modules, and ``cupy.cuda.nccl`` importable only if ``with_nccl``
    (and, like the real one, not an attribute of ``cupy.cuda`` until imported)."""
    calls = []
    stream = types.SimpleNamespace(ptr=77, synchronize=lambda: calls.append("synchronize"))
    cuda = types.ModuleType("cupy.cuda")
    cuda.get_current_stream = lambda: stream
    cupy = types.ModuleType("cupy")
    cupy.cuda = cuda
    modules = {"cupy": cupy, "cupy.cuda": cuda}
    if with_nccl:
        nccl = types.ModuleType("cupy.cuda.nccl")
        nccl.NCCL_FLOAT32, nccl.NCCL_FLOAT64, nccl.NCCL_SUM = 7, 8, 0
        nccl.get_unique_id = lambda: (1, 2, 3)

        class NcclCommunicator:
            def __init__(self, size, uid, rank):
                calls.append(("communicator", size, uid, rank))

            def allReduce(self, send, recv, count, kind, op, stream_ptr):  # CuPy's name
                calls.append(("allReduce", send, recv, count, kind, op, stream_ptr))

        nccl.NcclCommunicator = NcclCommunicator
        modules["cupy.cuda.nccl"] = nccl
    return modules, calls


def test_cupy_nccl_transport_imports_the_submodule_and_sums_in_place(monkeypatch):
    modules, calls = fake_cupy()
    for name, module in modules.items():
        monkeypatch.setitem(sys.modules, name, module)
    comm = FakeComm()
    transport = CupyNcclTransport(FakeBackend(), comm)
    assert calls == [("communicator", 1, (1, 2, 3), 0)]
    flat = types.SimpleNamespace(data=types.SimpleNamespace(ptr=1234), size=9, dtype="float32")
    assert transport.allreduce(flat) is flat
    assert calls[1:] == [("allReduce", 1234, 1234, 9, 7, 0, 77), "synchronize"]
    assert comm.broadcasts == ["the NCCL unique id broadcast"]
    assert comm.watched == ["the NCCL communicator setup (CuPy)", "the NCCL gradient allreduce (CuPy)"]


def test_cupy_without_nccl_is_a_clear_error(monkeypatch):
    modules, _ = fake_cupy(with_nccl=False)
    for name, module in modules.items():
        monkeypatch.setitem(sys.modules, name, module)
    monkeypatch.setitem(sys.modules, "cupy.cuda.nccl", None)  # "import cupy.cuda.nccl" raises ImportError
    with pytest.raises(RuntimeError, match=r"CuPy's NCCL bindings cannot be loaded.*nvidia-nccl"):
        CupyNcclTransport(FakeBackend(), FakeComm())
