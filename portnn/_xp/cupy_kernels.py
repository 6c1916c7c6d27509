"""CUDA kernels for CuPy's hot elementwise updates, reading and writing whole vectors (``float4``,
``double2``) per thread.

CuPy's generic elementwise kernels move one element per thread with 64-bit index arithmetic; the
per-step updates of a large network (the SGD step, the bias add, ReLU and its gradient) are pure
memory traffic, and vector loads move the same bytes in a fraction of the time (see
``benchmarks/gpu_kernels.py``). Each kernel here takes C-contiguous arrays whose size divides into
whole vectors and whose data start on a vector boundary; :class:`VectorKernels` says when they
apply, and callers fall back to CuPy's own kernels otherwise.
"""

from __future__ import annotations

import re
from typing import Any

# Per element type: the vector type, its scalar type and its lanes.
_VECTORS = {"float32": ("float4", "float", "xyzw"), "float64": ("double2", "double", "xy")}

# name -> (parameters, loads, statement per lane with {c} for the lane, stores), in terms of the
# vector type V and the scalar type T. Every kernel also takes `n`, its length in vectors; the
# bias kernel takes `cols`, the vectors per row. The SGD scale is read from the device (the
# optimizer keeps the learning rate there), the ReLU bound is a value.
_KERNELS = {
    "sub_scaled": (
        "V* p, const V* g, const T* scale",
        "V a = p[i]; const V b = g[i]; const T s = scale[0];",
        "a.{c} -= s * b.{c};",
        "p[i] = a;",
    ),
    "relu_grad": (
        "const V* y, V* dy",
        "const V a = y[i]; V b = dy[i];",
        "if (!(a.{c} > (T)0)) b.{c} = (T)0;",
        "dy[i] = b;",
    ),
    # NaN stays NaN, as in maximum()
    "maximum": (
        "const V* x, V* out, const T v",
        "V a = x[i];",
        "if (!(a.{c} >= v) && a.{c} == a.{c}) a.{c} = v;",
        "out[i] = a;",
    ),
    "add_bias": (
        "V* y, const V* bias, const long long cols",
        "V a = y[i]; const V b = bias[i % cols];",
        "a.{c} += b.{c};",
        "y[i] = a;",
    ),
}


def kernel_source(name: str, dtype: str) -> str:
    """The CUDA source of kernel ``name`` for arrays of ``dtype`` (float32 or float64).

    >>> print(kernel_source("relu_grad", "float64").splitlines()[0])
    extern "C" __global__ void portnn_relu_grad_float64(const double2* y, double2* dy, const long long n) {
    """
    vector, scalar, lanes = _VECTORS[dtype]
    params, load, lane, store = _KERNELS[name]
    body = " ".join(lane.format(c=c) for c in lanes)

    def typed(text: str) -> str:
        return re.sub(r"\bT\b", scalar, re.sub(r"\bV\b", vector, text))

    return (
        f'extern "C" __global__ void portnn_{name}_{dtype}({typed(params)}, const long long n) {{\n'
        "    const long long stride = (long long)gridDim.x * blockDim.x;\n"
        "    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {\n"
        f"        {typed(load)} {typed(body)} {store}\n"
        "    }\n"
        "}\n"
    )


# The column sum: a block of SUM_COLUMNS x SUM_ROWS threads sums SUM_COLUMNS vector columns, each
# thread every SUM_ROWS-th row, then the block adds its SUM_ROWS partial sums in shared memory.
SUM_COLUMNS, SUM_ROWS = 8, 32


def sum0_source(dtype: str) -> str:
    """The CUDA source of the sum over rows (axis 0) of a C-contiguous 2-D array of ``dtype``."""
    vector, scalar, lanes = _VECTORS[dtype]

    def add(into: str, term: str) -> str:
        return " ".join(f"{into}.{c} += {term}.{c};" for c in lanes)

    zero = ", ".join(["(" + scalar + ")0"] * len(lanes))
    return (
        f'extern "C" __global__ void portnn_sum0_{dtype}(const {vector}* a, {vector}* out, '
        "const long long rows, const long long cols) {\n"
        f"    __shared__ {vector} part[{SUM_ROWS}][{SUM_COLUMNS}];\n"
        f"    const long long c = (long long)blockIdx.x * {SUM_COLUMNS} + threadIdx.x;\n"
        f"    {vector} s = {{{zero}}};\n"
        "    if (c < cols) {\n"
        f"        for (long long r = threadIdx.y; r < rows; r += {SUM_ROWS}) {{ const {vector} v = a[r * cols + c]; "
        f"{add('s', 'v')} }}\n"
        "    }\n"
        "    part[threadIdx.y][threadIdx.x] = s;\n"
        "    __syncthreads();\n"
        "    if (threadIdx.y == 0 && c < cols) {\n"
        f"        for (int k = 1; k < {SUM_ROWS}; ++k) {{ {add('s', 'part[k][threadIdx.x]')} }}\n"
        "        out[c] = s;\n"
        "    }\n"
        "}\n"
    )


class VectorKernels:
    """The kernels above for one CuPy module, compiled on first use, launched on the current stream.

    ``cupy`` is the CuPy module (only the backend package imports it).
    """

    THREADS = 256

    def __init__(self, cupy: Any) -> None:
        self._cupy = cupy
        self._compiled: dict[tuple[str, str], Any] = {}
        self._max_blocks: int | None = None

    @staticmethod
    def lanes(dtype: Any) -> int:
        """Elements per vector for ``dtype``; 0 when these kernels do not handle it."""
        name = getattr(dtype, "name", str(dtype))
        return len(_VECTORS[name][2]) if name in _VECTORS else 0

    def fits(self, *arrays: Any) -> bool:
        """Whether every array is C-contiguous, of one handled dtype, a whole number of vectors
        long and starting on a 16-byte boundary (CuPy's allocations do; offset views may not)."""
        lanes = self.lanes(arrays[0].dtype)
        return bool(lanes) and all(
            a.dtype == arrays[0].dtype and a.flags.c_contiguous and a.size % lanes == 0 and a.data.ptr % 16 == 0
            for a in arrays
        )

    def launch(self, name: str, arrays: tuple[Any, ...], scalars: tuple[Any, ...] = ()) -> None:
        """Run kernel ``name`` over ``arrays`` (the first sets the length), then ``scalars``."""
        first = arrays[0]
        dtype = first.dtype.name
        n = first.size // self.lanes(first.dtype)
        if n == 0:
            return
        kernel = self._kernel(name, dtype)
        blocks = min((n + self.THREADS - 1) // self.THREADS, self._block_cap())
        as_scalar = self._cupy.dtype(dtype).type  # the kernel's T, not a Python float's double
        values = tuple(as_scalar(v) if isinstance(v, float) else v for v in scalars)
        kernel((blocks,), (self.THREADS,), (*arrays, *values, self._cupy.int64(n)))

    def sum0(self, a: Any, out: Any) -> None:
        """``out[:] = a.sum(axis=0)`` for a 2-D ``a`` whose rows are whole vectors (``fits(a, out)``)."""
        cols = a.shape[1] // self.lanes(a.dtype)
        if cols == 0:
            return
        blocks = (cols + SUM_COLUMNS - 1) // SUM_COLUMNS
        kernel = self._kernel("sum0", a.dtype.name)
        kernel((blocks,), (SUM_COLUMNS, SUM_ROWS), (a, out, self._cupy.int64(a.shape[0]), self._cupy.int64(cols)))

    def _kernel(self, name: str, dtype: str) -> Any:
        key = (name, dtype)
        if key not in self._compiled:
            source = sum0_source(dtype) if name == "sum0" else kernel_source(name, dtype)
            self._compiled[key] = self._cupy.RawKernel(source, f"portnn_{name}_{dtype}")
        return self._compiled[key]

    def _block_cap(self) -> int:
        # Enough blocks to fill every multiprocessor several times over; the loop covers the rest.
        if self._max_blocks is None:
            count = self._cupy.cuda.Device().attributes["MultiProcessorCount"]
            self._max_blocks = int(count) * 32
        return self._max_blocks
