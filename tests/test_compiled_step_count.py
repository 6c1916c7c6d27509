"""A compiled step (JAX) passes the optimizer's step count in and out only where the update reads
it (Adam's bias correction): SGD's and RMSprop's steps take one argument fewer, and the count
still advances on the host, so a later Adam, a checkpoint or a schedule sees the right one."""

import numpy as np
import pytest

import portnn as pn
from portnn.train.step import TrainStep

OPTIMIZERS = [
    (lambda: pn.optim.SGD(lr=0.1, momentum=0.9), False),
    (lambda: pn.optim.RMSprop(lr=0.01), False),
    (lambda: pn.optim.Adam(lr=0.01), True),
    (lambda: pn.optim.AdamW(lr=0.01, weight_decay=0.1), True),
]


def data():
    rng = np.random.default_rng(0)
    return rng.normal(size=(8, 3)), rng.normal(size=(8, 1))


def fit(net, optimizer, epochs=3):
    X, y = data()
    net.fit(X, y, loss="mse", optimizer=optimizer, epochs=epochs, batch_size=4, shuffle=False, progress=False)


@pytest.mark.parametrize("make, reads", OPTIMIZERS)
def test_the_count_goes_in_only_where_the_update_reads_it(jax_bk, monkeypatch, make, reads):
    net = pn.Sequential(pn.Dense(3, 4, activation="tanh"), pn.Dense(4, 1), backend=jax_bk.spec, dtype="float64", seed=0)
    optimizer = make()
    assert type(optimizer).reads_steps is reads
    fit(net, optimizer)
    step = net.train_step
    assert isinstance(step, TrainStep) and step.compiled is not None
    trace, seen = step.compiled.trace, []
    compiled = trace.fn

    def spy(inputs, steps, lr, X, y):
        seen.append(steps)
        return compiled(inputs, steps, lr, X, y)

    monkeypatch.setattr(trace, "fn", spy)
    fit(net, optimizer)
    assert len(seen) == 6
    assert all((steps is not None) is reads for steps in seen)
    assert optimizer.steps == 12  # two fits of 3 epochs of 2 batches: counted on the host either way
    if reads:
        assert [int(np.asarray(s)) for s in seen] == list(range(6, 12))
