"""Model files are untrusted (DESIGN principle 11): loading a crafted file executes nothing,
allocates little beyond the tensors it holds, takes time in proportion to its size, and refuses
anything else with a ValueError naming the file. A checksum proves no origin: the crafted content
below is written with its checksum recomputed."""

import json
import os

import numpy as np
import pytest
from crafted import ALLOWANCE, BYTES, CONTENT, assert_refused_cheaply, load_measured, raw, valid_file

import portnn as pn
from portnn.cli import main


@pytest.fixture(scope="module")
def valid(tmp_path_factory):
    return valid_file(tmp_path_factory.mktemp("valid"))


def test_the_valid_file_loads_within_a_few_times_its_size(valid):
    error, peak = load_measured(valid)
    assert error is None
    assert peak < 4 * os.path.getsize(valid) + ALLOWANCE


@pytest.mark.parametrize("case", sorted(CONTENT))
def test_crafted_content_with_a_recomputed_checksum_is_refused_cheaply(valid, tmp_path, case):
    tensors, meta = pn.io.read(valid)
    tensors, meta = CONTENT[case](tensors, {k: v for k, v in meta.items() if k != "checksum"})
    path = tmp_path / "crafted.safetensors"
    pn.io.write(path, tensors, meta)
    pn.io.read(path)  # the checksum matches
    assert_refused_cheaply(path)


@pytest.mark.parametrize("case", sorted(BYTES))
def test_crafted_bytes_are_refused_cheaply(valid, tmp_path, case):
    path = tmp_path / "crafted.safetensors"
    path.write_bytes(BYTES[case](valid.read_bytes()))
    for verify in (True, False):
        assert_refused_cheaply(path, verify)


def test_what_the_refusals_say(valid, tmp_path):
    def refusal(case):
        tensors, meta = pn.io.read(valid)
        path = tmp_path / "crafted.safetensors"
        pn.io.write(path, *CONTENT[case](tensors, {k: v for k, v in meta.items() if k != "checksum"}))
        return assert_refused_cheaply(path)

    assert "layer 0 (Dense) has a setting of 1000000, more than the 65536 values" in refusal(
        "Dense(10**6, 10**6) in a small file"
    )
    assert "missing keys ['0.bias', '0.weight', '1.bias'" in refusal(
        "memory bomb: Dense(2, 60000), Dense(60000, 60000), Dense(60000, 1)"
    )
    assert "unknown layer 'os.system'" in refusal("unknown layer os.system")
    assert "nested deeper than 32 levels" in refusal("nested rng")
    assert "(1 to 10000 layers" in refusal("10 001 ReLU layers") or "10001 layers" in refusal("10 001 ReLU layers")
    assert "optimizer state['0.weight']['m']: contains NaN" in refusal("NaN in optimizer state")
    assert "optimizer state['0.weight']['m']: expected shape (2, 4), got (4, 2)" in refusal(
        "optimizer state of the wrong shape"
    )
    assert "does not hold the state its Adam needs: missing [('0.weight', 'm')]" in refusal("optimizer state missing")
    assert "integer of 5000 digits" in refusal("5000-digit integer")
    assert "has dtype 'float128'" in refusal("dtype float128")


def test_a_refusal_quotes_the_file_briefly(valid, tmp_path):
    tensors, meta = pn.io.read(valid)
    huge = [{"class": "LeakyReLU", "config": {"alpha": "x" * 100_000}}]
    pn.io.write(tmp_path / "m.safetensors", tensors, {**meta, "architecture": json.dumps(huge)})
    assert len(assert_refused_cheaply(tmp_path / "m.safetensors")) < 600


def test_no_layer_is_constructed_for_an_architecture_beyond_the_file(valid, tmp_path, monkeypatch):
    built = []
    monkeypatch.setattr(pn.Dense, "__init__", lambda self, *a, **k: built.append(a) or None)
    tensors, meta = pn.io.read(valid)
    pn.io.write(tmp_path / "m.safetensors", *CONTENT["Dense(10**6, 10**6) in a small file"](tensors, meta))
    with pytest.raises(ValueError, match="has a setting of 1000000"):
        pn.load(tmp_path / "m.safetensors")
    assert built == []


BUILT_ONLY_TO_COMPARE = {"rng of another generator", "rng of a layer without one", "rng of a layer out of range"}
BUILT_ONLY_TO_COMPARE |= {"rng without shuffle", "rng state negative", "rng state too large", "rng state a string"}
BUILT_ONLY_TO_COMPARE |= {
    "optimizer state missing",
    "unknown optimizer state name",
    "optimizer state name with a slash",
}


@pytest.mark.parametrize("case", sorted(set(CONTENT) - BUILT_ONLY_TO_COMPARE))
def test_no_network_is_built_for_a_refused_file(valid, tmp_path, monkeypatch, case):
    def built(*args, **kwargs):
        raise AssertionError("a network was built")

    tensors, meta = pn.io.read(valid)
    pn.io.write(tmp_path / "m.safetensors", *CONTENT[case](tensors, {k: v for k, v in meta.items() if k != "checksum"}))
    monkeypatch.setattr(pn.Sequential, "__init__", built)
    with pytest.raises(ValueError):
        pn.load(tmp_path / "m.safetensors")


def test_no_initial_weights_are_drawn_when_loading(valid, monkeypatch):
    def drawn(*args, **kwargs):
        raise AssertionError("initial weights drawn")

    monkeypatch.setattr(pn.Dense, "init_params", drawn)
    loaded = pn.load(valid)
    np.testing.assert_array_equal(loaded.state_dict()["0.weight"], pn.io.read(valid)[0]["0.weight"])


def test_a_user_layer_loads_and_is_checked_through_the_stand_in_generator(tmp_path, monkeypatch):
    # registered in a copy of the registry, for this test only (other tests list the registered layers)
    monkeypatch.setattr(pn.nn.layers, "LAYERS", dict(pn.nn.layers.LAYERS))

    class OwnScaleForUntrustedFiles(pn.Layer):
        """A layer of a user's: its weights drawn through the generator by position, then scaled in place."""

        def __init__(self, n):
            super().__init__()
            self.n = n

        @classmethod
        def example(cls):
            return cls(3)

        def init_params(self, rng):
            w = rng.standard_normal((self.n, self.n))
            w *= 0.1
            return {"w": w}

        def forward(self, X, training):
            return self.xp.matmul(X, self.params["w"]), None

        def get_config(self):
            return {"n": self.n}

    net = pn.Sequential(pn.Dense(2, 3), OwnScaleForUntrustedFiles(3), seed=0)
    path = tmp_path / "own.safetensors"
    net.save(path)
    np.testing.assert_array_equal(pn.to_numpy(pn.load(path).state_dict()["1.w"]), pn.to_numpy(net.state_dict()["1.w"]))
    tensors, meta = pn.io.read(path)
    meta = {**meta, "architecture": json.dumps([{"class": "OwnScaleForUntrustedFiles", "config": {"n": 60000}}])}
    pn.io.write(path, tensors, {k: v for k, v in meta.items() if k != "checksum"})
    assert "needs an array of shape (60000, 60000), more than the 18 values" in assert_refused_cheaply(path)


def test_backups_are_read_through_the_same_checks(valid, tmp_path):
    X, y = pn.datasets.xor()
    net = pn.Sequential(pn.Dense(2, 4), pn.Tanh(), pn.Dense(4, 1), seed=0)
    path = tmp_path / "run.backup"

    class Stop(pn.callbacks.Callback):
        def on_epoch_end(self, model, epoch, logs):
            raise KeyboardInterrupt  # killed after the first backup

    with pytest.raises(KeyboardInterrupt):
        net.fit(X, y, epochs=3, callbacks=[pn.BackupAndRestore(path), Stop()], progress=False)
    tensors, meta = pn.io.read(path)
    meta.pop("checksum")
    for key, value in (("history", "[" * 100_000), ("epochs_done", "1" * 5000), ("optimizer", "{}"), ("rng", "[]")):
        pn.io.write(path, tensors, {**meta, key: value})
        with pytest.raises(ValueError) as info:
            net.fit(X, y, epochs=3, callbacks=[pn.BackupAndRestore(path)], progress=False)
        assert repr(str(path)) in str(info.value), str(info.value)
    pn.io.write(path, {**tensors, "0.weight": np.full((2, 4), np.nan, np.float32)}, meta)
    with pytest.raises(ValueError, match=r"state\['0.weight'\]: contains NaN"):
        net.fit(X, y, epochs=3, callbacks=[pn.BackupAndRestore(path)], progress=False)


def test_the_command_line_refuses_a_crafted_model_in_one_line(valid, tmp_path, capsys):
    tensors, meta = pn.io.read(valid)
    bomb = tmp_path / "evil.safetensors"
    pn.io.write(bomb, *CONTENT["memory bomb: Dense(2, 60000), Dense(60000, 60000), Dense(60000, 1)"](tensors, meta))
    nested = tmp_path / "nested.safetensors"
    nested.write_bytes(raw(b"[" * 100_000))
    data = tmp_path / "f.csv"
    data.write_text("a,b,y\n0,1,1\n")
    for model in (bomb, nested):
        for command in ("predict", "evaluate"):
            assert main([command, str(model), "--data", str(data)]) != 0
            err = capsys.readouterr().err
            assert "Traceback" not in err and str(model) in err and len(err.strip().splitlines()) == 1, err
