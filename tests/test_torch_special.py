"""torch computes scikit-learn's ``expit`` and ``xlogy`` with its own ``torch.special`` (one
operation each); the standard forms of its generic twin agree to rounding, extremes included."""

import numpy as np
import pytest

import portnn as pn
from portnn._xp import expit, xlogy

Z = np.concatenate([np.linspace(-40, 40, 2001), [-1000.0, -745.5, 0.0, 709.0, 1000.0]])


def test_torch_takes_its_own_special_functions():
    torch = pytest.importorskip("torch")
    bk = pn.get_backend("torch:cpu")
    assert bk.scipy_special is torch.special
    z = bk.asarray(Z, bk.dtype("float64"))
    assert torch.equal(expit(bk, z), torch.special.expit(z))
    p = expit(bk, z)
    assert torch.equal(xlogy(bk, p, p), torch.special.xlogy(p, p))


def test_torch_special_agrees_with_the_generic_forms():
    pytest.importorskip("torch")
    bk = pn.get_backend("torch:cpu")
    generic = bk.variant(fast_paths=False)
    f64 = bk.dtype("float64")
    z = bk.asarray(Z, f64)
    np.testing.assert_allclose(pn.to_numpy(expit(bk, z)), pn.to_numpy(expit(generic, z)), rtol=2e-15, atol=0)
    x = bk.asarray([0.0, 0.0, 0.0, 2.0, 0.5, 1.0], f64)
    y = bk.asarray([0.0, np.nan, 3.0, 3.0, 1e-300, 0.0], f64)
    np.testing.assert_allclose(pn.to_numpy(xlogy(bk, x, y)), pn.to_numpy(xlogy(generic, x, y)), rtol=2e-15)
