"""What portnn is measured against, on the same data and device: the seed's XOR loop, a
hand-written NumPy loop, PyTorch eager ``torch.nn``, scikit-learn's MLP and the GEMM floor.

Each ``make_*`` returns a :class:`~portnn.bench.timing.Runner`: ``run()`` trains one timed unit
(``w.epochs`` epochs) and returns the final loss (as something ``sync`` can wait on); ``reset()``
puts the initial weights back, outside the timed region.
"""

from __future__ import annotations

from typing import Any

from .._xp import Backend, import_library
from .timing import Runner
from .workloads import Workload, initial_weights

np = import_library("numpy")


def _no_sync(result: Any) -> None:
    return None


def make_seed_xor(w: Workload, X: Any, y: Any) -> Runner:
    """The XOR notebook's loop as written (column layout), minus its per-epoch progress print."""
    Xc, yc = X.T.copy(), y.T.copy()
    (w1t, _), (w2t, _) = initial_weights(w)

    def sigmoid(x: Any) -> Any:
        return 1 / (1 + np.exp(-x))

    weights = (w1t.T.copy(), w2t.T.copy())

    def reset() -> None:
        weights[0][...], weights[1][...] = w1t.T, w2t.T

    def run() -> float:
        w1, w2 = weights  # updated in place below, as in the notebook
        for _ in range(w.epochs):
            hide = sigmoid(w1 @ Xc)
            out = sigmoid(w2 @ hide)
            err = yc - out
            e_out = err * out * (1 - out)
            e_hide = (w2.T @ e_out) * hide * (1 - hide)
            w2 += 1 * (e_out @ hide.T)
            w1 += 1 * (e_hide @ Xc.T)
        return float(np.mean(err**2))

    return Runner(run, _no_sync, reset)


def make_numpy_hand(w: Workload, X: Any, y: Any) -> Runner:
    """A hand-written NumPy MLP loop: what a careful NumPy programmer writes, no library."""
    X = X.astype(w.dtype)
    Y = np.eye(w.sizes[-1], dtype=w.dtype)[y] if w.loss == "cross_entropy" else y.astype(w.dtype)
    init = [(W.astype(w.dtype), b.astype(w.dtype)) for W, b in initial_weights(w) if b is not None]
    rng = np.random.default_rng(0)
    n, B, lr = X.shape[0], w.batch_size or X.shape[0], w.lr

    params = [(W.copy(), b.copy()) for W, b in init]

    def reset() -> None:
        for (W, b), (W0, b0) in zip(params, init):
            W[...], b[...] = W0, b0

    def run() -> float:
        for _ in range(w.epochs):
            order = rng.permutation(n)
            Xs, Ys = X[order], Y[order]
            total = 0.0
            for start in range(0, n, B):
                total += _hand_step(params, Xs[start : start + B], Ys[start : start + B], w.loss, lr) * min(
                    B, n - start
                )
        return total / n

    return Runner(run, _no_sync, reset)


def _hand_step(params: list, x: Any, t: Any, loss: str, lr: float) -> float:
    acts, h = [x], x
    for i, (W, b) in enumerate(params):
        h = h @ W + b
        if i < len(params) - 1:
            h = np.maximum(h, 0)
        acts.append(h)
    m = x.shape[0]
    if loss == "cross_entropy":
        e = np.exp(h - h.max(axis=1, keepdims=True))
        p = e / e.sum(axis=1, keepdims=True)
        value = -np.mean(np.log(p[t > 0] + 1e-30))
        g = (p - t) / m
    else:
        diff = h - t
        value = np.mean(diff * diff)
        g = diff * (2.0 / diff.size)
    for i in range(len(params) - 1, -1, -1):
        W, b = params[i]
        dW, db = acts[i].T @ g, g.sum(axis=0)
        if i > 0:
            g = (g @ W.T) * (acts[i] > 0)
        W -= lr * dW
        b -= lr * db
    return float(value)


def make_torch_eager(w: Workload, X: Any, y: Any, device: Any) -> Runner:
    """PyTorch eager: ``torch.nn.Sequential`` + loss + ``torch.optim.SGD``, same initial weights."""
    torch = import_library("torch")
    dtype = getattr(torch, w.dtype)
    layers: list[Any] = []
    init = initial_weights(w)
    for i, (W, b) in enumerate(init):
        linear = torch.nn.Linear(W.shape[0], W.shape[1], bias=b is not None)
        layers.append(linear)
        if i < len(init) - 1 or w.activation == "sigmoid":
            layers.append(torch.nn.Sigmoid() if w.activation == "sigmoid" else torch.nn.ReLU())
    model = torch.nn.Sequential(*layers).to(device=device, dtype=dtype)
    state = {k: v.clone() for k, v in _torch_state(torch, model, init, dtype, device).items()}
    Xd = torch.as_tensor(X, dtype=dtype, device=device)
    yd = (
        torch.as_tensor(y, device=device)
        if w.loss == "cross_entropy"
        else torch.as_tensor(y, dtype=dtype, device=device)
    )
    loss_fn = torch.nn.CrossEntropyLoss() if w.loss == "cross_entropy" else torch.nn.MSELoss()
    n, B = Xd.shape[0], w.batch_size or Xd.shape[0]
    generator = torch.Generator(device="cpu").manual_seed(0)

    def reset() -> None:
        model.load_state_dict(state)

    def run() -> Any:
        opt = torch.optim.SGD(model.parameters(), lr=w.lr)
        for _ in range(w.epochs):
            Xs, ys = Xd, yd
            if w.shuffle:
                order = torch.randperm(n, generator=generator).to(device)
                Xs, ys = Xd[order], yd[order]
            total = torch.zeros((), dtype=dtype, device=device)
            for start in range(0, n, B):
                opt.zero_grad(set_to_none=True)
                value = loss_fn(model(Xs[start : start + B]), ys[start : start + B])
                value.backward()
                opt.step()
                total += value.detach() * min(B, n - start)
        return total / n

    def sync(result: Any) -> None:
        result.item()  # waits for the device

    return Runner(run, sync, reset)


def _torch_state(torch: Any, model: Any, init: list, dtype: Any, device: str) -> dict[str, Any]:
    state = {}
    linears = [m for m in model if isinstance(m, torch.nn.Linear)]
    for linear, (W, b) in zip(linears, init):
        prefix = next(name for name, module in model.named_children() if module is linear)
        state[f"{prefix}.weight"] = torch.as_tensor(W.T.copy(), dtype=dtype, device=device)
        if b is not None:
            state[f"{prefix}.bias"] = torch.as_tensor(b, dtype=dtype, device=device)
    return state


def make_sklearn(w: Workload, X: Any, y: Any) -> Runner:
    """scikit-learn's MLPClassifier, SGD without momentum or L2, one epoch per ``fit``."""
    import warnings

    neural = import_library("sklearn").neural_network  # type: ignore[attr-defined]
    hidden = w.sizes[1:-1]

    def run() -> float:
        clf = neural.MLPClassifier(
            hidden_layer_sizes=hidden,
            activation="relu",
            solver="sgd",
            learning_rate_init=w.lr,
            momentum=0.0,
            nesterovs_momentum=False,
            alpha=0.0,
            batch_size=w.batch_size,
            max_iter=w.epochs,
            shuffle=True,
            random_state=0,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # ConvergenceWarning after one epoch, by design
            clf.fit(X, y)
        return float(clf.loss_)

    return Runner(run, _no_sync)


def make_gemm_floor(w: Workload, backend: Backend, first_input_grad: bool = True) -> Runner:
    """The matrix products of one epoch with the backend's own ``matmul`` and nothing else: per
    layer and step the forward product, the weight gradient and the input gradient. With
    ``first_input_grad=False`` the first layer's input gradient, which training never needs (and
    portnn does not compute), is left out: the strict floor."""
    xp, dtype = backend.xp, backend.dtype(w.dtype)
    rng = np.random.default_rng(0)
    B = w.batch_size or w.samples
    shapes = list(zip(w.sizes, w.sizes[1:]))
    arrays = [
        tuple(backend.asarray(rng.normal(size=s), dtype) for s in ((B, n_in), (n_in, n_out), (B, n_out)))
        for n_in, n_out in shapes
    ]
    steps = w.steps_per_epoch * w.epochs

    def run() -> Any:
        out = None
        for _ in range(steps):
            for i, (x, W, dY) in enumerate(arrays):
                out = xp.matmul(x, W)
                out = xp.matmul(x.T, dY)
                if i > 0 or first_input_grad:
                    out = xp.matmul(dY, W.T)
        return out

    return Runner(run, lambda result: backend.synchronize(result))
