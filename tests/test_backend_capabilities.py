"""Each backend class answers what its library is: capabilities, array ownership, host copies,
devices, and what a spec says; on every backend of the matrix (array_api_strict's device1 and
no_float64 included). The expectations are written out per spec here, and checked against what the
arrays themselves do."""

import numpy as np
import pytest

import portnn as pn
from portnn._xp import (
    backend_of,
    is_array,
    is_non_numpy_array,
    known_spec,
    library_of,
    namespace_of,
    pin_full_precision,
    spec_arrays_are_numpy,
    spec_for_rank,
    spec_on_gpu,
    spec_selected,
    spec_with_device,
    to_numpy,
)
from portnn._xp.registry import class_of_array, library_class, library_names, register

# spec: (arrays_are_numpy, on_gpu, writeable, float64, compiles)
EXPECTED = {
    "numpy": (True, False, True, True, False),
    "array_api_strict": (False, False, True, True, False),
    "array_api_strict:device1": (False, False, True, True, False),
    "array_api_strict:no_float64": (False, False, True, False, False),
    "torch:cpu": (False, False, True, True, False),
    "jax:cpu": (False, False, False, True, True),  # float64: conftest sets JAX_ENABLE_X64
    "cupy:0": (False, True, True, True, False),
    "torch:cuda": (False, True, True, True, False),
    "jax:gpu": (False, True, False, True, True),
}


def test_every_spec_of_the_matrix_has_expectations():
    assert set(EXPECTED) == set(pn.testing.ALL_SPECS)


def test_capabilities_answer_as_expected(bk, spec):
    got = (bk.arrays_are_numpy, bk.on_gpu, bk.writeable, bk.float64, bk.compiles)
    assert got == EXPECTED[spec]
    assert bk.syncs_with_host == bk.on_gpu


def test_arrays_are_numpy_means_numpy_ndarrays(bk):
    a = bk.asarray([1.0, 2.0], bk.dtype("float32"))
    assert (type(a) is np.ndarray) == bk.arrays_are_numpy
    assert is_non_numpy_array(a) == (not bk.arrays_are_numpy)
    assert (namespace_of(a) is np) == bk.arrays_are_numpy


def test_float64_means_the_device_makes_float64(bk):
    try:
        a = bk.xp.asarray([1.0], dtype=bk.xp.float64, device=bk.device)
    except (ValueError, TypeError, RuntimeError):
        made = False
    else:
        made = bk.xp.isdtype(a.dtype, bk.xp.float64)  # JAX without x64 silently makes float32
    assert made == bk.float64


def test_writeable_means_in_place_updates_stick(bk):
    a = bk.asarray([1.0, 2.0], bk.dtype("float32"))
    try:
        a[0] = 5.0
    except (TypeError, ValueError):
        stuck = False
    else:
        stuck = float(to_numpy(a)[0]) == 5.0
    assert stuck == bk.writeable


def test_compiles_means_compile_returns_a_function(bk):
    compiled = bk.compile(lambda x: x + 1)
    assert (compiled is not None) == bk.compiles
    if compiled is not None:
        assert to_numpy(compiled(bk.asarray([1.0], bk.dtype("float32")))).tolist() == [2.0]


def test_an_array_knows_its_backend_and_comes_home(bk):
    a = bk.asarray(np.arange(6.0).reshape(2, 3), bk.dtype("float32"))
    assert is_array(a)
    assert backend_of(a) == bk
    assert bk.owns(a)
    assert class_of_array(a) is library_class(bk.spec)
    assert library_of(a) == bk.library
    host = to_numpy(a)
    assert type(host) is np.ndarray
    np.testing.assert_array_equal(host, np.arange(6.0, dtype=np.float32).reshape(2, 3))
    host[0, 0] = 99.0  # a copy: the array is untouched
    assert float(to_numpy(a)[0, 0]) == 0.0


def test_exactly_one_library_claims_an_array(bk):
    a = bk.asarray([1.0], bk.dtype("float32"))
    claims = [name for name in library_names() if library_class(name).is_own_array(a)]
    assert claims == [bk.library]


def test_same_library_across_devices():
    strict = pn.get_backend("array_api_strict")
    assert strict.same_library(pn.get_backend("array_api_strict:device1"))
    assert not strict.same_library(pn.get_backend("numpy"))


@pytest.mark.parametrize("value", [[1.0, 2.0], 3.0, np.float64(2.0), (1, 2), "text", None])
def test_things_that_are_not_arrays(value):
    assert not is_array(value)
    assert not is_non_numpy_array(value)
    assert library_of(value) is None
    with pytest.raises(TypeError, match="expected an array"):
        backend_of(value)


def test_the_spec_says_what_its_backend_answers(bk, spec):
    assert spec_on_gpu(spec) == bk.on_gpu
    assert spec_on_gpu(bk.spec) == bk.on_gpu
    assert spec_arrays_are_numpy(spec) == bk.arrays_are_numpy


TORCH_SPECS = {"torch:cpu", "torch:cuda"}


def test_torch_device_where_arrays_are_torch_tensors(bk, spec):
    assert (bk.torch_device is not None) == (spec in TORCH_SPECS)
    if bk.torch_device is not None:
        import torch

        a = torch.ones(2, device=bk.torch_device)
        assert backend_of(a) == bk


def test_known_spec_names_a_library_usable_here_or_not():
    assert known_spec("cupy:7") and known_spec("array_api_strict:device1") and known_spec("jax")
    assert not known_spec("tensorflow") and not known_spec("") and not known_spec(":gpu")


@pytest.mark.parametrize(
    ("spec", "device", "expected"),
    [("torch:cpu", "cuda:1", "torch:cuda:1"), ("jax", "cpu", "jax:cpu"), ("cupy:0", "2", "cupy:2")],
)
def test_spec_with_device(spec, device, expected):
    assert spec_with_device(spec, device) == expected


def test_spec_selected_by_spec_or_library():
    assert spec_selected("torch:cuda", {"torch"})
    assert spec_selected("array_api_strict:device1", {"numpy", "array_api_strict:device1"})
    assert not spec_selected("torch:cuda", {"torch:cpu", "numpy"})
    assert not spec_selected("array_api_strict:device1", {"array_api_strict:no_float64"})


def test_portnn_backends_narrows_by_library(monkeypatch):
    monkeypatch.setenv("PORTNN_BACKENDS", "array_api_strict")
    assert pn.testing.backend_skip_reason("array_api_strict:device1") is None
    assert "not selected" in pn.testing.backend_skip_reason("numpy")


@pytest.mark.parametrize(
    ("spec", "gpu"),
    [("cupy:3", True), ("torch:cuda:1", True), ("jax:gpu", True), ("jax:cuda:0", True), ("torch", False)]
    + [("numpy", False), ("array_api_strict:device1", False), ("nonsense:gpu", False)],
)
def test_spec_on_gpu_from_the_text_alone(spec, gpu):
    assert spec_on_gpu(spec) is gpu


@pytest.mark.parametrize(
    ("spec", "rank", "expected"),
    [("cupy:0", 2, "cupy:2"), ("torch:cuda", 1, "torch:cuda:1"), ("jax:gpu:0", 3, "jax:gpu:3")]
    + [("torch:cpu", 1, "torch:cpu"), ("jax:cpu", 1, "jax:cpu"), ("numpy", 1, "numpy")]
    + [("array_api_strict:device1", 1, "array_api_strict:device1"), ("torch", 1, "torch")],
)
def test_spec_for_rank(spec, rank, expected):
    assert spec_for_rank(spec, rank) == expected


def test_each_library_is_registered_once_by_its_class():
    assert library_names() == ("numpy", "array_api_strict", "torch", "jax", "cupy")
    for name in library_names():
        assert library_class(name).library == name
        assert library_class(f"{name}:anything") is library_class(name)
    assert library_class("nonsense") is None


def test_a_variant_is_not_registered_as_a_library(bk):
    twin = bk.variant(writeable=False, fast_paths=False)
    assert library_class(bk.spec) is not type(twin)
    assert twin.same_library(bk) and twin.arrays_are_numpy == bk.arrays_are_numpy
    assert twin.on_gpu == bk.on_gpu and not twin.compiles


def test_register_refuses_a_class_that_names_no_library():
    class Nameless(pn.Backend):
        pass

    with pytest.raises(ValueError, match="Nameless names no library"):
        register(Nameless)


def test_pin_full_precision_is_asked_of_each_installed_library():
    torch = pytest.importorskip("torch")
    jax = pytest.importorskip("jax")
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.set_float32_matmul_precision("medium")
    jax.config.update("jax_default_matmul_precision", "bfloat16")
    pin_full_precision()
    assert not torch.backends.cuda.matmul.allow_tf32
    assert torch.get_float32_matmul_precision() == "highest"
    assert jax.config.jax_default_matmul_precision == "highest"


def test_each_library_names_its_devices_here(bk):
    specs = library_class(bk.spec).device_specs()
    assert bk.spec in specs
    for spec in specs:
        assert pn.get_backend(spec).spec == spec  # canonical, and usable here
        assert pn.get_backend(spec).same_library(bk)


def test_array_api_strict_names_its_devices_from_its_inspection_api():
    strict = library_class("array_api_strict").device_specs()
    assert strict[0] == "array_api_strict"
    assert {"array_api_strict:device1", "array_api_strict:no_float64"} <= set(strict)
    assert not pn.get_backend("array_api_strict:no_float64").float64
