"""A loss that does not fit the model's output, caught once before the first training step.

A loss with ``from_logits=True`` fed probabilities (a model ending in ``Softmax`` or ``Sigmoid``)
trains silently to a much worse fit; a loss taking probabilities fed unbounded outputs (a model
ending in ``Dense``) is not even defined. What a model outputs is what its last layer declares in
``output_kind`` (see :data:`portnn.nn.layers.OUTPUT_KINDS`), looking through pass-through layers
(``Identity``, ``Dropout``); a layer of your own that declares nothing is judged by its outputs on
the first rows of the data (a forward pass on those rows and one host read, for each data set
given to ``fit``; nothing per step). What a loss takes is :meth:`portnn.objectives.losses.Loss.expects`.

>>> import portnn as pn
>>> net = pn.Sequential(pn.Dense(2, 3), pn.Softmax(), seed=0)
>>> check_output(net, pn.CrossEntropy(), net.check_features([[0.0, 1.0]]))
Traceback (most recent call last):
...
ValueError: loss cross_entropy takes logits (from_logits=True), but the model ends with Softmax (layer 1), so it would be trained on probabilities (softmax twice): remove the final Softmax (predict then gives logits), or use CrossEntropy(from_logits=False)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._xp import to_numpy

if TYPE_CHECKING:
    from ..nn.layers import Layer
    from ..nn.network import Network
    from .losses import Loss

Array = Any

ROWS = 8  # training rows whose outputs are looked at when the last layer declares no kind

_NOUN = {"probability": "probabilities in [0, 1]", "distribution": "probability rows summing to 1"}
_LAYER_FOR = {"probability": "pn.Sigmoid()", "distribution": "pn.Softmax()"}


def satisfies(kind: str | None, need: str) -> bool:
    """Whether outputs of ``kind`` are what a loss taking ``need`` takes (rows summing to 1 are
    probabilities too)."""
    return kind == need or (kind == "distribution" and need == "probability")


def last_layer(model: Network) -> tuple[int, Layer, list[str]] | None:
    """The last layer that decides what the model outputs: its index, itself, and the names of the
    pass-through layers after it (``None`` when every layer passes its input through)."""
    after: list[str] = []
    for index in range(len(model.layers) - 1, -1, -1):
        layer = model.layers[index]
        if layer.output_kind != "same":
            return index, layer, after
        after.insert(0, type(layer).__name__)
    return None


def check_output(model: Network, loss: Loss, X: Array, x_name: str = "X", output: Array | None = None) -> None:
    """``ValueError`` naming the layer, the loss and what to change when ``model``'s outputs are not
    what ``loss`` takes. ``X`` is the checked input; ``output``, when already computed for ``X``,
    spares the forward pass that judges a last layer of undeclared kind."""
    need = loss.expects()
    found = last_layer(model)
    if need not in ("logits", "probability", "distribution") or found is None:
        return  # the loss takes any real numbers (or a kind of its own), or no layer decides
    index, layer, after = found
    kind, seen = layer.output_kind, ""
    if kind is None:
        kind, seen = _observed(model, X, x_name, output, need)
    name = type(layer).__name__
    where = f"{name} (layer {index}" + (f", then {', '.join(after)})" if after else ")")
    loss_name = loss.name or type(loss).__name__
    switch = f"{type(loss).__name__}(from_logits={need != 'logits'})" if hasattr(loss, "from_logits") else ""
    if need == "logits":
        if kind not in ("probability", "distribution"):
            return
        twice = f"{loss.link} twice" if name.lower() == loss.link else f"{loss.link or 'the loss'} on top of {name}"
        alt = f", or use {switch}" if switch and satisfies(kind, loss.probability_kind or "") else ""
        raise ValueError(
            f"loss {loss_name} takes logits (from_logits=True), but the model ends with {where}{seen}, so it "
            f"would be trained on probabilities ({twice}): remove the final {name} (predict then gives logits){alt}"
        )
    if satisfies(kind, need):
        return
    if kind == "probability":  # a Sigmoid where the loss takes rows summing to 1
        fix = f"replace the final {name} with {_LAYER_FOR[need]}"
        fix += f", or remove it and use {switch}" if switch else ""
        raise ValueError(
            f"loss {loss_name} takes {_NOUN[need]} (from_logits=False), but the model ends with {where}, "
            f"whose outputs are probabilities that need not sum to 1: {fix}"
        )
    fix = f"end the model with {_LAYER_FOR[need]}" + (f", or use {switch} on the raw outputs" if switch else "")
    raise ValueError(
        f"loss {loss_name} takes {_NOUN[need]} (from_logits=False), but the model ends with {where}, "
        f"whose outputs {seen or 'are not ' + _NOUN[need]}: {fix}"
    )


def _observed(model: Network, X: Array, x_name: str, output: Array | None, need: str) -> tuple[str, str]:
    """The kind of the outputs on the first rows of ``X``, with words saying what was seen when it
    matters. One host read of three numbers computed on the device (more only to word an error).

    For a loss taking logits only rows of probabilities summing to 1 count as misuse: logits may
    well all lie in [0, 1].
    """
    xp = model.xp
    out = output if output is not None else model.forward(X[:ROWS, ...], False)[0]
    out = out[:ROWS, ...]
    if len(out.shape) != 2:
        return "real", ""  # not (samples, outputs): the loss's shape check says so
    row_sums = xp.sum(out, axis=1)
    stats = xp.stack([xp.min(out), xp.max(out), xp.max(xp.abs(row_sums - 1.0))])
    low, high, off = (float(v) for v in to_numpy(stats))
    tolerance = float(xp.finfo(model.dtype).eps) ** 0.5
    in_unit_interval = low >= 0.0 and high <= 1.0  # False with NaN too
    rows = f"the first rows of {x_name}"
    if in_unit_interval and out.shape[1] >= 2 and off <= tolerance:
        return "distribution", f", whose outputs on {rows} are {_NOUN['distribution']}"
    if need == "logits":
        return "real", ""
    if not in_unit_interval:
        host = to_numpy(out, copy=False)
        row = int(((host < 0.0) | (host > 1.0) | (host != host)).any(axis=1).argmax())
        return "real", f"on {rows} are not {_NOUN[need]} (row {row}: {host[row].tolist()})"
    if need == "distribution":
        sums = to_numpy(row_sums, copy=False)
        row = int((abs(sums - 1.0) > tolerance).argmax())
        return "real", f"on {rows} are not {_NOUN[need]} (row {row} sums to {float(sums[row]):.6g})"
    return "probability", ""
