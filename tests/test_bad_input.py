"""Bad input gets a clear error (naming the argument, the expected and the received) before any work."""

import numpy as np
import pytest

import portnn as pn
from portnn.cli import main


def net(backend="numpy"):
    return pn.Sequential(pn.Dense(3, 2), pn.ReLU(), pn.Dense(2, 1), backend=backend, seed=0)


GOOD_X, GOOD_Y = np.ones((4, 3)), np.ones((4, 1))


def with_value(a, row, value):
    a = a.copy()
    a[row, 0] = value
    return a


@pytest.mark.parametrize(
    ("X", "y", "error", "match"),
    [
        (with_value(GOOD_X, 2, np.nan), GOOD_Y, ValueError, r"X: contains NaN; first offending row is 2"),
        (with_value(GOOD_X, 1, np.inf), GOOD_Y, ValueError, r"X: contains infinity; first offending row is 1"),
        (GOOD_X, with_value(GOOD_Y, 3, -np.inf), ValueError, r"y: contains infinity; first offending row is 3"),
        (np.ones(4), GOOD_Y, ValueError, r"X: expected a 2-D array \(samples, features\), got shape \(4,\)"),
        (np.ones((4, 3, 1)), GOOD_Y, ValueError, r"X: expected a 2-D array.*\(4, 3, 1\)"),
        (GOOD_X, np.ones((5, 1)), ValueError, r"y: expected 4 rows to match X, got shape \(5, 1\)"),
        (np.ones((0, 3)), np.ones((0, 1)), ValueError, r"X: has zero rows"),
        (np.ones((4, 0)), GOOD_Y, ValueError, r"X: has zero features"),
        (np.ones((4, 5)), GOOD_Y, ValueError, r"X: the model takes 3 features, got 5"),
        (GOOD_X, np.ones((4, 2)), ValueError, r"y: mse: target shape \(4, 2\) differs from prediction shape \(4, 1\)"),
        (GOOD_X + 1j, GOOD_Y, TypeError, r"X: complex data is not supported"),
        (np.array([["a", "b", "c"]] * 4), GOOD_Y, TypeError, r"X: expected numbers, got an array of dtype <U1"),
        (np.array([[object()] * 3] * 4), GOOD_Y, TypeError, r"X: expected numbers, got an array of dtype object"),
        ("data.csv", GOOD_Y, TypeError, r"X: expected an array of numbers, got str"),
        (None, GOOD_Y, TypeError, r"X: expected an array of numbers, got NoneType"),
    ],
)
def test_fit_rejects_bad_data(X, y, error, match):
    model = net()
    before = model.state_dict()
    with pytest.raises(error, match=match):
        model.fit(X, y, epochs=1, progress=False)
    for key, value in model.state_dict().items():  # no work was done
        np.testing.assert_array_equal(value, before[key])


def test_value_and_grad_and_predict_reject_bad_data():
    with pytest.raises(ValueError, match="X: contains NaN; first offending row is 0"):
        pn.value_and_grad(net(), "mse", with_value(GOOD_X, 0, np.nan), GOOD_Y)
    with pytest.raises(ValueError, match="X: the model takes 3 features, got 2"):
        net().predict(np.ones((4, 2)))
    with pytest.raises(ValueError, match="X: contains infinity"):
        net()(with_value(GOOD_X, 0, np.inf))


def test_integer_data_is_cast_to_the_model_dtype(bk):
    model = net(bk)
    out = model(np.ones((4, 3), dtype=np.int64))
    assert out.dtype == model.dtype
    model.fit(np.ones((4, 3), dtype=np.int32), np.ones((4, 1), dtype=np.int64), epochs=1, progress=False)


def test_validation_data_is_checked():
    with pytest.raises(ValueError, match=r"validation_data\[0\]: contains NaN"):
        net().fit(GOOD_X, GOOD_Y, validation_data=(with_value(GOOD_X, 0, np.nan), GOOD_Y), progress=False)
    with pytest.raises(TypeError, match="validation_data: expected a pair"):
        net().fit(GOOD_X, GOOD_Y, validation_data=GOOD_X, progress=False)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"epochs": 0}, ValueError, "epochs: expected a positive int, got 0"),
        ({"epochs": 2.5}, TypeError, "epochs: expected a positive int, got float"),
        ({"batch_size": 0}, ValueError, "batch_size: expected a positive int, got 0"),
        ({"batch_size": -3}, ValueError, "batch_size: expected a positive int, got -3"),
        ({"loss": "hinge"}, ValueError, r"loss: unknown name 'hinge'; expected one of \['bce'"),
        ({"optimizer": "adagrad"}, ValueError, r"optimizer: unknown name 'adagrad'"),
        ({"optimizer": pn.optim.SGD}, ValueError, r"optimizer: unknown name"),
        ({"progress": "sometimes"}, ValueError, r"progress: expected one of \[True, False, 'auto', 'bar', 'lines'\]"),
    ],
)
def test_fit_rejects_bad_settings(kwargs, error, match):
    with pytest.raises(error, match=match):
        net().fit(GOOD_X, GOOD_Y, **{"progress": False, **kwargs})


@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        (
            lambda: pn.Sequential(pn.Dense(2, 1), "swish"),
            ValueError,
            r"activation: unknown name 'swish'; expected one of",
        ),
        (lambda: pn.Sequential(pn.Dense(2, 1), backend="tensorflow"), ValueError, r"unknown spec 'tensorflow'"),
        (lambda: pn.Dropout(1.0), ValueError, r"Dropout: rate p must be a number in \[0, 1\), got 1.0"),
        (lambda: pn.Dropout(-0.1), ValueError, r"Dropout: rate p"),
        (lambda: pn.Dense(0, 3), ValueError, "n_in: expected a positive int, got 0"),
        (lambda: pn.Dense(2, 3.0), TypeError, "n_out: expected a positive int, got float"),
        (lambda: pn.Sequential(pn.Dense(2, 1), 42), TypeError, r"layers\[1\]: expected a portnn Layer, got int"),
        (lambda: pn.Sequential(pn.Dense(2, 1), seed="abc"), TypeError, "seed: expected an int or None"),
    ],
)
def test_bad_construction(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_state_dict_problems_name_the_key():
    model = net()
    sd = model.state_dict()
    with pytest.raises(ValueError, match=r"missing keys \['2.bias'\], unexpected keys \[\]"):
        model.load_state_dict({k: v for k, v in sd.items() if k != "2.bias"})
    with pytest.raises(ValueError, match=r"unexpected keys \['9.weight'\]"):
        model.load_state_dict({**sd, "9.weight": np.ones(2)})
    with pytest.raises(ValueError, match=r"state\['0.weight'\]: expected shape \(3, 2\), got \(2, 3\)"):
        model.load_state_dict({**sd, "0.weight": np.ones((2, 3))})
    with pytest.raises(ValueError, match=r"state\['0.bias'\]: contains NaN"):
        model.load_state_dict({**sd, "0.bias": np.array([np.nan, 0.0])})
    with pytest.raises(TypeError, match=r"state: expected a dict"):
        model.load_state_dict([1, 2])


def test_arrays_from_another_backend_are_moved(bk):
    model = net("numpy")
    X = bk.asarray(np.ones((4, 3), dtype=np.float32))
    out = model(X)
    assert isinstance(out, np.ndarray)


def test_cli_reports_bad_arguments(capsys):
    assert main(["train", "--hidden", "8,x", "--epochs", "1", "--no-progress"]) == 2
    assert "--hidden: expected comma-separated positive ints" in capsys.readouterr().err
    for argv, message in [
        (["--optimizer", "adagrad"], "--optimizer: invalid choice: 'adagrad'"),
        (["--epochs", "0"], "--epochs: expected a positive int, got 0"),
        (["--dtype", "float16"], "--dtype: invalid choice: 'float16'"),
    ]:
        with pytest.raises(SystemExit) as info:  # argparse: usage and the message, exit status 2
            main(["train", "--no-progress", *argv])
        assert info.value.code == 2 and message in capsys.readouterr().err


def test_huge_finite_values_are_accepted_without_warnings(bk):
    """The finiteness check sums first: an overflowing sum of finite values must not be an error."""
    from portnn import _checks

    X = np.full((4, 3), 3e38, dtype=np.float32)
    with np.errstate(all="raise"):
        arr = _checks.features("X", X, bk, bk.dtype("float32"), 3)
    assert arr.shape == (4, 3)
