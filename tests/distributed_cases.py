"""The training runs that tests/test_distributed.py compares between one process and several
(tests/distributed_worker.py runs them under mpiexec). One function trains both ways."""

import numpy as np

import portnn as pn

# name -> settings: shuffled epochs on 37 rows; batch 12 leaves a last batch of 1 row (with 2 or 3
# ranks, some ranks train on none of it), batch 9 uneven shares, batch 36/2 even ones
CASES = {
    "sgd_momentum_even": {"opt": ("SGD", {"lr": 0.05, "momentum": 0.9}), "batch": 12, "rows": 36},
    "adam_uneven_dropout": {"opt": ("Adam", {"lr": 0.01}), "batch": 10, "dropout": 0.3},
    "adam_empty_shares": {"opt": ("Adam", {"lr": 0.01}), "batch": 12, "dropout": 0.2},
    "sgd_weighted_metrics": {"opt": ("SGD", {"lr": 0.1}), "batch": 9, "weighted": True, "metrics": True},
    # batches of 4 with 30 of the 37 rows weighing 0: at least 3 global batches weigh nothing
    "zero_weight_batches": {"opt": ("SGD", {"lr": 0.1, "momentum": 0.5}), "batch": 4, "weighted": "zeros"},
    "float32_adam": {"opt": ("Adam", {"lr": 0.01}), "batch": 10, "dtype": "float32", "dropout": 0.3},
    # stops before EPOCHS on every rank at once; diverges (lr far too high) on every rank at once
    "early_stopping": {"opt": ("Adam", {"lr": 0.05}), "batch": 10, "stop": True, "metrics": True},
    "diverges": {"opt": ("SGD", {"lr": 1e100}), "batch": 10, "loss": "mse"},
}
EPOCHS = 4


def data(rows: int = 37) -> tuple:
    rng = np.random.default_rng(7)
    X = rng.normal(size=(rows, 5))
    y = (X[:, :1] * X[:, 1:2] + 0.3 * rng.normal(size=(rows, 1)) > 0).astype(np.float64)
    return X, y, rng.uniform(0.2, 2.0, size=rows)


def train(name: str, backend: str, comm=None, seed=3):
    """The case's network after ``fit`` (with ``distributed=comm``) and its History."""
    case = CASES[name]
    dtype = case.get("dtype", "float64")
    X, y, w = data(case.get("rows", 37))
    layers = [pn.Dense(5, 16), pn.Tanh()]
    if case.get("dropout"):
        layers.append(pn.Dropout(case["dropout"]))
    net = pn.Sequential(*layers, pn.Dense(16, 1), backend=backend, dtype=dtype, seed=seed)
    opt_name, opt_args = case["opt"]
    if case.get("weighted") == "zeros":
        w[:30] = 0.0
    extra = {"sample_weight": w} if case.get("weighted") else {}
    if case.get("metrics"):
        extra.update(metrics=["accuracy"], validation_data=(X[:11], y[:11], w[:11]))
    if case.get("stop"):
        extra.update(epochs=4 * EPOCHS, callbacks=[pn.EarlyStopping(monitor="val_loss", patience=0, min_delta=0.02)])
    try:
        net.fit(
            X,
            y,
            loss=case.get("loss", pn.BinaryCrossEntropy(from_logits=True)),
            optimizer=getattr(pn.optim, opt_name)(**opt_args),
            **{"epochs": EPOCHS, **extra},
            batch_size=case["batch"],
            progress=False,
            distributed=comm,
        )
    except pn.DivergenceError as exc:
        net.history.history["diverged"] = [str(exc)]
    return net, net.history


def parameters(net) -> dict:
    return {k: pn.to_numpy(v) for k, v in net.state_dict().items()}
