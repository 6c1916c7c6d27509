"""Shuffle orders drawn ahead are exactly the orders drawn one epoch at a time."""

import numpy as np
import pytest

import portnn as pn
from portnn.train.shuffling import ShuffleOrders


@pytest.mark.parametrize("bit_generator", [np.random.PCG64, np.random.MT19937, np.random.Philox])
def test_orders_drawn_ahead_are_the_orders_drawn_in_turn(bit_generator):
    backend = pn.get_backend("numpy")
    ahead, plain = (ShuffleOrders(np.random.Generator(bit_generator(7)), 9, backend) for _ in range(2))
    for epoch in range(4):
        if epoch % 2:  # drawn ahead on odd epochs only: both ways mix
            ahead.draw_ahead()
        host, device = ahead.take()
        np.testing.assert_array_equal(host, plain.rng.permutation(9))
        np.testing.assert_array_equal(device, host)
    assert ahead.rng.random() == plain.rng.random()


def test_an_order_drawn_ahead_and_never_taken_leaves_the_generator_untouched():
    orders = ShuffleOrders(np.random.default_rng(3), 6, pn.get_backend("numpy"))
    orders.draw_ahead()
    assert orders.rng.random() == np.random.default_rng(3).random()


def test_a_generator_set_in_between_draws_afresh():
    orders = ShuffleOrders(np.random.default_rng(3), 6, pn.get_backend("numpy"))
    orders.draw_ahead()
    orders.rng.bit_generator.state = np.random.default_rng(11).bit_generator.state  # a restored backup
    np.testing.assert_array_equal(orders.take()[0], np.random.default_rng(11).permutation(6))


class StopAfter(pn.callbacks.Callback):
    def __init__(self, epoch):
        self.epoch = epoch

    def on_epoch_end(self, model, epoch, logs):
        model.stop_training = epoch == self.epoch


def test_fit_shuffles_as_one_epoch_at_a_time(bk, rng):
    """Three epochs in one fit, three fits of one epoch, and a fit of five stopped after the
    third: the same weights and the same generator afterwards."""
    X, y = rng.normal(size=(20, 3)), rng.normal(size=(20, 2))
    dtype = "float64" if bk.float64 else "float32"
    nets = [pn.Sequential(pn.Dense(3, 4), pn.ReLU(), pn.Dense(4, 2), backend=bk, dtype=dtype, seed=5) for _ in range(3)]
    settings = dict(optimizer=pn.optim.SGD(lr=0.05), batch_size=6, progress=False)
    nets[0].fit(X, y, epochs=3, **settings)
    for _ in range(3):
        nets[1].fit(X, y, epochs=1, **settings)
    nets[2].fit(X, y, epochs=5, callbacks=[StopAfter(2)], **settings)
    for net in nets[1:]:
        for key, value in nets[0].state_dict().items():
            np.testing.assert_array_equal(pn.to_numpy(net.state_dict()[key]), pn.to_numpy(value), err_msg=key)
        assert net.shuffle_rng.bit_generator.state == nets[0].shuffle_rng.bit_generator.state
