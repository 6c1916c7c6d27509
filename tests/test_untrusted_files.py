"""Model files are untrusted (DESIGN principle 11): loading a crafted file executes nothing,
allocates little beyond the tensors it holds, takes time in proportion to its size, and refuses
anything else with a ValueError naming the file. A checksum proves no origin: the crafted content
below is written with its checksum recomputed."""

import json
import os
import subprocess
import sys
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from crafted import BYTES, CONTENT, raw, valid_model
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import portnn as pn
from portnn.cli import main

ALLOWANCE = 4_000_000  # bytes a load may allocate beyond a few times the file's size


@pytest.fixture(scope="module")
def valid(tmp_path_factory):
    path = tmp_path_factory.mktemp("valid") / "m.safetensors"
    valid_model(path)
    pn.load(path)  # first use: imports and caches are not the files' doing
    return path


def load_measured(path, verify=True):
    """(the ValueError raised or None, peak bytes allocated while loading ``path``)."""
    tracemalloc.start()
    try:
        pn.load(path, verify=verify)
        error = None
    except ValueError as exc:
        error = exc
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return error, peak


def assert_refused_cheaply(path, verify=True):
    error, peak = load_measured(path, verify)
    assert error is not None, f"{path.name}: loaded"
    assert repr(str(path)) in str(error), f"the refusal does not name the file: {error}"
    assert peak < 4 * os.path.getsize(path) + ALLOWANCE, f"{peak} bytes allocated refusing {path.name}: {error}"
    return str(error)


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


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=12,
)


def mutated(draw, value):
    """``value`` (JSON) with one randomly chosen part replaced by random JSON."""
    if isinstance(value, (dict, list)) and value and draw(st.booleans()):
        keys = sorted(value) if isinstance(value, dict) else range(len(value))
        key = draw(st.sampled_from(keys))
        return (
            {**value, key: mutated(draw, value[key])}
            if isinstance(value, dict)
            else [mutated(draw, v) if i == key else v for i, v in enumerate(value)]
        )
    return draw(JSON | st.sampled_from([10**6, -1, 2**64, 0, "nan", "Dense", [10**6, 10**6]]))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_fuzz_content_with_recomputed_checksums_loads_or_is_refused(valid, tmp_path, data):
    tensors, meta = pn.io.read(valid)
    meta = {k: v for k, v in meta.items() if k != "checksum"}
    what = data.draw(st.sampled_from(["metadata", "tensor", "drop"]))
    if what == "metadata":
        key = data.draw(st.sampled_from(sorted(meta)))
        try:
            meta[key] = json.dumps(mutated(data.draw, json.loads(meta[key])))
        except json.JSONDecodeError:  # a plain string (dtype, backend, format)
            meta[key] = data.draw(st.text(max_size=12))
    else:
        key = data.draw(st.sampled_from(sorted(tensors)))
        del tensors[key]
        if what == "tensor":
            shape = data.draw(st.lists(st.integers(0, 5), max_size=3))
            dtype = data.draw(st.sampled_from(["float16", "float32", "float64"]))
            tensors[key] = np.asarray(data.draw(st.floats(width=16)), dtype=dtype) + np.zeros(shape, dtype)
    path = tmp_path / "fuzz.safetensors"
    pn.io.write(path, tensors, meta)
    error, peak = load_measured(path)
    assert error is None or repr(str(path)) in str(error), str(error)
    assert peak < 4 * os.path.getsize(path) + ALLOWANCE


def test_fuzz_mutated_bytes_in_a_subprocess_under_memory_and_time_limits(valid, tmp_path):
    if not sys.platform.startswith("linux"):
        pytest.skip("reads /proc/self/status")
    rng = np.random.default_rng(28)
    data = valid.read_bytes()
    size = len(data)
    files = [[str(valid), True]]
    for i in range(200):
        mutant = bytearray(data)
        kind = i % 4
        if kind == 0:  # flip bytes
            for at in rng.integers(0, size, rng.integers(1, 4)):
                mutant[at] ^= int(rng.integers(1, 256))
        elif kind == 1:  # truncate
            mutant = mutant[: int(rng.integers(0, size))]
        elif kind == 2:  # insert or delete a run of bytes
            at = int(rng.integers(0, size))
            mutant[at:at] = rng.integers(0, 256, int(rng.integers(1, 16))).astype(np.uint8).tobytes()
        else:  # digits in the header made larger: shapes, offsets, settings
            text = mutant.decode("latin-1")
            digits = [j for j, c in enumerate(text[:2000]) if c.isdigit()]
            at = int(rng.choice(digits))
            mutant = bytearray((text[:at] + "9" * int(rng.integers(1, 12)) + text[at:]).encode("latin-1"))
        path = tmp_path / f"mutant{i}.safetensors"
        path.write_bytes(bytes(mutant))
        files.append([str(path), bool(i % 8 < 4)])  # half of them past the checksum: the later checks answer
    listing = tmp_path / "files.json"
    listing.write_text(json.dumps(files))
    worker = Path(__file__).with_name("untrusted_worker.py")
    env = {**os.environ, "PYTHONPATH": str(Path(pn.__file__).parents[1])}
    done = subprocess.run(
        [sys.executable, str(worker), str(listing), str(512 * 2**20)],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    results = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(results) == len(files)
    bad = [r for r in results if r["outcome"] not in ("loaded", "refused") or not r.get("named", True)]
    assert not bad, bad[:5]
    assert max(r["maxrss_growth"] for r in results) < 64 * 2**20
    assert sum(r["outcome"] == "refused" for r in results) > 100
