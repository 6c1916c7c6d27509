"""What a checkpoint holds — weights and buffers, architecture, dtype, the host RNG states and, on
request, the optimizer's settings and state — and how it is put back into a network. Model files
(``Sequential.save`` / ``portnn.load``) and backups (``BackupAndRestore``) both use it; the bytes
on disk are :mod:`portnn.io`'s business."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import numpy as np

from .._xp import to_numpy
from ..nn.layers import Layer, layer_from_config, layer_name
from ..optim.optimizers import Optimizer, optimizer_from_state

if TYPE_CHECKING:
    from ..nn.network import Network

_OPTIMIZER = "optimizer/"


def architecture(network: Network) -> str:
    """The layers as JSON: each registered class name and its constructor arguments."""
    return json.dumps([{"class": layer_name(x), "config": x.get_config()} for x in network.layers])


def snapshot(
    network: Network, optimizer: Optimizer | None = None, extra: dict[str, str] | None = None
) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Host copies of everything a checkpoint holds, as (tensors, metadata strings)."""
    tensors = {key: to_numpy(v) for key, v in network.state_dict().items()}
    meta = {
        "architecture": architecture(network),
        "dtype": network.dtype_name,
        "backend": network.backend.spec,
        "rng": json.dumps(network.rng_state()),
        **(extra or {}),
    }
    if optimizer is not None:
        state = optimizer.state_dict()
        meta["optimizer"] = json.dumps({k: state[k] for k in ("class", "config", "steps")})
        for key, entries in state["state"].items():
            tensors.update({f"{_OPTIMIZER}{key}/{name}": value for name, value in entries.items()})
    return tensors, meta


def layers_from(meta: dict[str, str], path: str) -> list[Layer]:
    """New layers as the checkpoint at ``path`` describes them (their classes must be imported)."""
    try:
        return [layer_from_config(item["class"], item["config"]) for item in json.loads(meta["architecture"])]
    except (KeyError, TypeError, json.JSONDecodeError) as exc:
        raise ValueError(f"load: {path!r} has an unreadable architecture ({exc})") from exc


def restore(
    network: Network, tensors: dict[str, np.ndarray], meta: dict[str, str], path: str, optimizer: Optimizer | None
) -> Optimizer | None:
    """Put the checkpoint's weights, buffers and RNG states into ``network`` (its architecture must
    match), and its optimizer state into ``optimizer`` (or a new optimizer of the saved class, when
    ``optimizer`` is None). Returns that optimizer, or None where the checkpoint holds none."""
    arrays = {k: v for k, v in tensors.items() if not k.startswith(_OPTIMIZER)}
    for key, value in arrays.items():
        if value.dtype.kind != "f":
            raise ValueError(f"load: tensor {key!r} in {path!r} has dtype {value.dtype}, expected floating point")
    network.load_state_dict(arrays)
    if "rng" in meta:
        network.set_rng_state(json.loads(meta["rng"]))
    if "optimizer" not in meta:
        return None
    info = json.loads(meta["optimizer"])
    state: dict[str, dict[str, np.ndarray]] = {}
    for name, value in tensors.items():
        if name.startswith(_OPTIMIZER):
            key, state_name = name[len(_OPTIMIZER) :].split("/")
            state.setdefault(key, {})[state_name] = value
    if optimizer is None:
        optimizer = optimizer_from_state(info)
    optimizer.bind(network.parameters(), network.backend, owner=network)
    optimizer.load_state_dict({**info, "state": state})
    return optimizer
