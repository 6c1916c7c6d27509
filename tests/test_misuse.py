"""Misuse caught before the first training step, with errors naming the layer, the loss and the fix:
probabilities fed to a logits loss, unbounded outputs fed to a probability loss, float and string
class labels."""

import numpy as np
import pytest

import portnn as pn
from portnn.objectives.misuse import check_output


class OwnSquash(pn.Layer):
    """A user's sigmoid: probabilities, though it declares no ``output_kind``."""

    def forward(self, X, training):
        Y = 1.0 / (1.0 + self.xp.exp(-X))
        return Y, lambda dY, input_grad=True: dY * Y * (1.0 - Y)


class OwnShift(pn.Layer):
    """``X + 1``: not probabilities, and it declares nothing."""

    def forward(self, X, training):
        return X + 1.0, lambda dY, input_grad=True: dY


class OwnSoftmax(pn.Layer):
    """A user's softmax: rows summing to 1, declaring nothing."""

    def forward(self, X, training):
        xp = self.xp
        e = xp.exp(X - xp.max(X, axis=1, keepdims=True))
        S = e / xp.sum(e, axis=1, keepdims=True)
        return S, lambda dY, input_grad=True: S * (dY - xp.sum(dY * S, axis=1, keepdims=True))


class OwnUnbounded(OwnSquash):
    """Declares its outputs real, so fit refuses it for bce without looking at them."""

    output_kind = "real"


def data(n=40, k=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4))
    labels = rng.integers(0, k, n)
    return X, labels


def assert_refused_before_training(model, X, y, loss, error, match, **kwargs):
    before = model.state_dict()
    with pytest.raises(error, match=match) as info:
        model.fit(X, y, loss=loss, epochs=1, progress=False, **kwargs)
    for key, value in model.state_dict().items():  # not one step was taken
        np.testing.assert_array_equal(pn.to_numpy(value), pn.to_numpy(before[key]))
    return str(info.value)


LOGITS_FED_PROBABILITIES = [
    (
        lambda: [pn.Dense(4, 3), pn.Softmax()],
        "cross_entropy",
        r"^loss cross_entropy takes logits \(from_logits=True\), but the model ends with Softmax \(layer 1\), so it "
        r"would be trained on probabilities \(softmax twice\): remove the final Softmax \(predict then gives "
        r"logits\), or use CrossEntropy\(from_logits=False\)$",
    ),
    (
        lambda: [pn.Dense(4, 1), pn.Sigmoid()],
        pn.BinaryCrossEntropy(from_logits=True),
        r"^loss bce takes logits \(from_logits=True\), but the model ends with Sigmoid \(layer 1\), .*\(sigmoid "
        r"twice\): remove the final Sigmoid \(predict then gives logits\), or use "
        r"BinaryCrossEntropy\(from_logits=False\)$",
    ),
    (  # CrossEntropy(from_logits=False) would not do either: sigmoid rows do not sum to 1
        lambda: [pn.Dense(4, 3), pn.Sigmoid()],
        "cross_entropy",
        r"^loss cross_entropy takes logits .* ends with Sigmoid \(layer 1\), .*\(softmax on top of Sigmoid\): "
        r"remove the final Sigmoid \(predict then gives logits\)$",
    ),
    (
        lambda: [pn.Dense(4, 3), pn.Softmax()],
        pn.KLDivergence(from_logits=True),
        r"^loss kl_div takes logits .*Softmax \(layer 1\).*or use KLDivergence\(from_logits=False\)$",
    ),
    (
        lambda: [pn.Dense(4, 3), pn.Softmax(), pn.Dropout(0.1)],
        "cross_entropy",
        r"ends with Softmax \(layer 1, then Dropout\), .*\(softmax twice\)",
    ),
    (
        lambda: [pn.Dense(4, 3), OwnSoftmax()],
        "cross_entropy",
        r"ends with OwnSoftmax \(layer 1\), whose outputs on the first rows of X are probability rows summing to "
        r"1, .*remove the final OwnSoftmax",
    ),
]


def targets_for(loss, labels, width):
    if isinstance(loss, pn.BinaryCrossEntropy) or loss == "bce":
        return (labels > 0).astype(float)[:, None] if width == 1 else np.eye(width)[labels % width]
    return labels


NOT_PROBABILITIES = [
    (
        lambda: [pn.Dense(4, 1)],
        "bce",
        r"^loss bce takes probabilities in \[0, 1\] \(from_logits=False\), but the model ends with Dense \(layer "
        r"0\), whose outputs are not probabilities in \[0, 1\]: end the model with pn.Sigmoid\(\), or use "
        r"BinaryCrossEntropy\(from_logits=True\) on the raw outputs$",
    ),
    (lambda: [pn.Dense(4, 1), pn.Tanh()], "bce", r"ends with Tanh \(layer 1\).*pn.Sigmoid\(\)"),
    (
        lambda: [pn.Dense(4, 3)],
        pn.CrossEntropy(from_logits=False),
        r"^loss cross_entropy takes probability rows summing to 1 \(from_logits=False\), but the model ends with "
        r"Dense \(layer 0\), .*end the model with pn.Softmax\(\), or use CrossEntropy\(from_logits=True\)",
    ),
    (
        lambda: [pn.Dense(4, 3), pn.ReLU()],
        "kl_div",
        r"loss kl_div .*ReLU \(layer 1\).*KLDivergence\(from_logits=True\)",
    ),
    (
        lambda: [pn.Dense(4, 3), pn.Sigmoid()],
        pn.CrossEntropy(from_logits=False),
        r"ends with Sigmoid \(layer 1\), whose outputs are probabilities that need not sum to 1: replace the "
        r"final Sigmoid with pn.Softmax\(\), or remove it and use CrossEntropy\(from_logits=True\)$",
    ),
    (
        lambda: [pn.Dense(4, 2), OwnShift()],
        "bce",
        r"ends with OwnShift \(layer 1\), whose outputs on the first rows of X are not probabilities in \[0, 1\] "
        r"\(row \d+: \[.*\]\): end the model with pn.Sigmoid\(\)",
    ),
    (
        lambda: [pn.Dense(4, 3), OwnSquash()],
        "kl_div",
        r"ends with OwnSquash \(layer 1\), whose outputs on the first rows of X are not probability rows summing "
        r"to 1 \(row 0 sums to [0-9.]+\): end the model with pn.Softmax\(\)",
    ),
    (lambda: [pn.Dense(4, 2), OwnUnbounded()], "bce", r"ends with OwnUnbounded \(layer 1\), whose outputs are not"),
]


@pytest.mark.parametrize(("layers", "loss", "match"), LOGITS_FED_PROBABILITIES + NOT_PROBABILITIES)
def test_a_loss_that_does_not_fit_the_output_is_refused(spec, layers, loss, match):
    """Probabilities fed to a logits loss, and outputs that are not probabilities fed to a loss
    that takes them: refused by fit before any step, and by value_and_grad."""
    X, labels = data()
    model = pn.Sequential(*layers(), backend=spec, seed=0)
    y = targets_for(loss, labels, model.n_out)
    assert_refused_before_training(model, X, y, loss, ValueError, match)
    with pytest.raises(ValueError, match=match):
        pn.value_and_grad(model, loss, X, y)


FITTING = [
    (lambda: [pn.Dense(4, 1), pn.Sigmoid()], "bce"),
    (lambda: [pn.Dense(4, 3), pn.Softmax()], pn.CrossEntropy(from_logits=False)),
    (lambda: [pn.Dense(4, 3), pn.Softmax()], "kl_div"),
    (lambda: [pn.Dense(4, 3), pn.Softmax()], "bce"),  # softmax outputs lie in [0, 1]
    (lambda: [pn.Dense(4, 3)], "cross_entropy"),
    (lambda: [pn.Dense(4, 1)], pn.BinaryCrossEntropy(from_logits=True)),
    (lambda: [pn.Dense(4, 1), pn.Sigmoid(), pn.Identity()], "bce"),  # Identity passes the kind through
    (lambda: [pn.Dense(4, 3), pn.Softmax()], "mse"),  # mse takes anything
    (lambda: [pn.Dense(4, 2), OwnSquash()], "bce"),  # a user's layer judged by its outputs
    (lambda: [pn.Dense(4, 3), OwnSoftmax()], pn.CrossEntropy(from_logits=False)),
    (lambda: [pn.Dense(4, 1), OwnSquash()], pn.BinaryCrossEntropy(from_logits=True)),  # logits may lie in [0, 1]
]


@pytest.mark.parametrize(("layers", "loss"), FITTING)
def test_fitting_losses_still_train(spec, layers, loss):
    X, labels = data()
    model = pn.Sequential(*layers(), backend=spec, seed=0)
    y = targets_for(loss, labels, model.n_out)
    if loss == "mse":
        y = np.eye(3)[labels]
    history = model.fit(X, y, loss=loss, optimizer=pn.optim.Adam(lr=0.05), epochs=20, progress=False)
    losses = history.history["loss"]
    assert np.isfinite(losses).all() and losses[-1] < losses[0]
    value, _ = pn.value_and_grad(model, loss, X, y)
    assert np.isfinite(float(value))


def test_an_invalid_output_kind_is_refused_when_the_class_is_defined():
    with pytest.raises(TypeError, match=r"Bad.output_kind: expected one of .*'probability'.*got 'probabilities'"):

        class Bad(pn.Layer):
            output_kind = "probabilities"


def test_check_output_with_no_deciding_layer_passes():
    model = pn.Sequential(pn.Identity(), seed=0)  # nothing but pass-through layers: nothing to judge
    check_output(model, pn.CrossEntropy(), model.check_features(np.ones((2, 3))))


@pytest.mark.parametrize("loss", ["cross_entropy", "kl_div"])
def test_whole_number_float_labels_train_exactly_like_integer_labels(spec, loss):
    X, labels = data(n=48, k=4)
    last = [pn.Softmax()] if loss == "kl_div" else []
    histories = []
    for y in (labels, labels.astype(np.float64)):
        model = pn.Sequential(pn.Dense(4, 8), pn.Tanh(), pn.Dense(8, 4), *last, backend=spec, seed=3)
        history = model.fit(
            X, y, loss=loss, epochs=3, batch_size=16, validation_data=(X[:8], y[:8]), progress=False
        ).history
        histories.append((history, float(pn.value_and_grad(model, loss, X, y)[0])))
    assert histories[0] == histories[1]


@pytest.mark.parametrize("bad", [0.5, 2.25, -0.5])
def test_non_whole_float_labels_are_refused_by_value_not_shape(spec, bad):
    X, labels = data()
    y = labels.astype(np.float64)
    y[5] = bad
    model = pn.Sequential(pn.Dense(4, 3), backend=spec, seed=0)
    message = assert_refused_before_training(
        model,
        X,
        y,
        "cross_entropy",
        ValueError,
        rf"^y: cross_entropy: 1-D targets are class labels, but these are floats \(dtype float32\) that are not "
        rf"whole numbers: row 5 has {bad}; pass integer labels in \[0, 3\)",
    )
    assert "shape (40,)" not in message
    with pytest.raises(ValueError, match=r"validation_data\[1\]: cross_entropy: .*not whole numbers: row 5"):
        model.fit(X, labels, loss="cross_entropy", validation_data=(X, y), progress=False)
    with pytest.raises(ValueError, match=r"y: cross_entropy: .*not whole numbers: row 5"):
        pn.value_and_grad(model, "cross_entropy", X, y)


def test_whole_float_labels_out_of_range_name_the_label(spec):
    X, labels = data()
    y = labels.astype(np.float64)
    y[7] = 3.0
    model = pn.Sequential(pn.Dense(4, 3), backend=spec, seed=0)
    match = r"y: cross_entropy: class labels must be in \[0, 3\); row 7 has label 3$"
    assert_refused_before_training(model, X, y, "cross_entropy", ValueError, match)


STRING_FIX = r"; encode them as integers first: classes, y_int = np.unique\(y, return_inverse=True\)$"


@pytest.mark.parametrize(
    ("y", "dtype"),
    [
        (np.array(["cat", "dog"] * 20), "<U3"),
        (np.array(["cat", "dog"] * 20, dtype=object), "object"),
        (["cat", "dog"] * 20, "<U3"),
        (np.array([b"cat", b"dog"] * 20), "|S3"),
    ],
    ids=["str", "object", "list", "bytes"],
)
def test_string_labels_name_the_encoding(y, dtype):
    X = data()[0]
    match = rf"^y: class labels are strings \(dtype {dtype}\){STRING_FIX}"
    model = pn.Sequential(pn.Dense(4, 2), seed=0)
    assert_refused_before_training(model, X, y, "cross_entropy", TypeError, match)
    with pytest.raises(TypeError, match=match):
        pn.value_and_grad(model, "cross_entropy", X, y)
    with pytest.raises(TypeError, match=r"^validation_data\[1\]: class labels are strings \(dtype"):
        model.fit(X, data()[1] % 2, loss="cross_entropy", validation_data=(X, y), progress=False)


def test_an_object_array_of_numbers_keeps_the_plain_message():
    X = data()[0]
    y = np.array(list(range(40)), dtype=object)
    with pytest.raises(TypeError, match=r"^y: expected numbers, got an array of dtype object$"):
        pn.Sequential(pn.Dense(4, 2), seed=0).fit(X, y, loss="cross_entropy", progress=False)
