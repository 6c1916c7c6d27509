"""Backends: the one package that imports array libraries other than NumPy-on-the-host.

A *backend* is an array namespace bound to one device. It is named by a spec string:
``"numpy"``, ``"array_api_strict"``, ``"array_api_strict:device1"``, ``"torch"``, ``"torch:cpu"``,
``"torch:cuda"``, ``"jax"``, ``"jax:cpu"``, ``"jax:gpu"``, ``"cupy"``, ``"cupy:N"``. A bare library
name means that library's default device. Everything numerical outside this package computes
through ``backend.xp``. The generic :class:`Backend` is written once against the Array API; each
library's subclass overrides only where it differs, including the few fast paths (``matmul_into``,
``sum0_into``, ``maximum(..., in_place=True)``, ``zero_where_not``, ``relu_grad``, ``add_bias``,
``sub_scaled``, ``compile``) whose generic versions ``variant(fast_paths=False)`` uses, for the tests to compare against.

Modules:

- ``registry``: what each library is, known by its backend class (whether an array is its own, the
  array on the host, the device in a spec, whether a spec names a GPU) and registered once.
- ``base``: the generic :class:`Backend`, the fallback for every method, and its capabilities
  (``arrays_are_numpy``, ``on_gpu``, ``writeable``, ``float64``, ``compiles``): code outside
  this package asks these, never a library's name or a spec's text.
- ``outparam``: the ``out=`` fast paths that NumPy, CuPy and torch share.
- ``numpy_backend``, ``strict``, ``torch_backend``, ``jax_backend``, ``cupy_backend``: one subclass
  per library (array_api_strict's in ``strict``), with how its specs name devices.
- ``resolve``: specs to cached backends (:func:`get_backend`), probing (:func:`available_backends`),
  :func:`backend_of`, what a spec says (:func:`known_spec`, :func:`spec_on_gpu`,
  :func:`spec_arrays_are_numpy`, :func:`spec_for_rank`, :func:`spec_with_device`, :func:`spec_selected`).
- ``arrays``: arrays of any library: :func:`is_array`, :func:`is_non_numpy_array`, :func:`to_numpy`,
  :func:`namespace_of`, :func:`sum_of_squares`.
- ``special``: SciPy's ``expit`` and ``xlogy``, SciPy's own where the backend offers them.
- ``libraries``: libraries by name: :func:`import_library`, :func:`library_versions`,
  :func:`pin_full_precision`.
"""

from .arrays import Array, is_array, is_non_numpy_array, library_of, namespace_of, sum_of_squares, to_numpy
from .base import Backend
from .libraries import import_library, library_versions, pin_full_precision
from .resolve import (
    available_backends,
    backend_of,
    get_backend,
    known_spec,
    spec_arrays_are_numpy,
    spec_for_rank,
    spec_on_gpu,
    spec_selected,
    spec_with_device,
)
from .special import expit, xlogy

__all__ = [
    "Array",
    "Backend",
    "available_backends",
    "backend_of",
    "expit",
    "get_backend",
    "import_library",
    "is_array",
    "is_non_numpy_array",
    "known_spec",
    "library_of",
    "library_versions",
    "namespace_of",
    "pin_full_precision",
    "spec_arrays_are_numpy",
    "spec_for_rank",
    "spec_on_gpu",
    "spec_selected",
    "spec_with_device",
    "sum_of_squares",
    "to_numpy",
    "xlogy",
]
