"""A fit's run state (stop_training, initial_epoch, rank, its History) lives with the fit, in the
Run its callbacks are handed, not on the network."""

import pytest

import portnn as pn
from portnn.train.run import Run


class Recorder(pn.Callback):
    def __init__(self, stop_at=None):
        self.stop_at, self.seen = stop_at, []

    def on_train_begin(self, run):
        self.seen.append(run)

    def on_epoch_end(self, model, epoch, logs):  # written for a network, as before
        model.stop_training = epoch == self.stop_at
        model.metadata = {"epochs_seen": epoch + 1}  # not run state: reaches the network
        assert model.state_dict().keys() == model.model.state_dict().keys()


def test_the_network_carries_no_run_state():
    X, y = pn.datasets.xor()
    net = pn.Sequential(pn.Dense(2, 3), pn.Tanh(), pn.Dense(3, 1), seed=0)
    recorder = Recorder(stop_at=1)
    history = net.fit(X, y, epochs=5, callbacks=[recorder], progress=False)
    for name in ("stop_training", "initial_epoch", "rank"):
        assert not hasattr(net, name), name
    (run,) = recorder.seen
    assert isinstance(run, Run) and run.model is net and run.history is history is net.history
    assert run.stop_training and run.initial_epoch == 0 and run.rank == 0
    assert len(history.history["loss"]) == 2 and net.metadata == {"epochs_seen": 2}


def test_a_stop_ends_its_own_fit_only():
    X, y = pn.datasets.xor()
    net = pn.Sequential(pn.Dense(2, 1), seed=0)
    assert len(net.fit(X, y, epochs=4, callbacks=[Recorder(stop_at=0)], progress=False).history["loss"]) == 1
    assert len(net.fit(X, y, epochs=4, callbacks=[Recorder()], progress=False).history["loss"]) == 4


def test_a_run_being_copied_does_not_reach_for_a_model_it_lacks():
    run = Run.__new__(Run)
    with pytest.raises(AttributeError):
        run.model  # noqa: B018
