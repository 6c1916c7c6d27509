"""What a checkpoint holds — weights and buffers, architecture, dtype, the host RNG states and, on
request, the optimizer's settings and state — and how it is put back into a network. Model files
(``Sequential.save`` / ``portnn.load``) and backups (``BackupAndRestore``) both use it; the bytes
on disk are :mod:`portnn.io`'s business, the checks of what a file holds against what its
architecture needs :mod:`portnn.train.filecheck`'s. A file may come from anyone: everything read
from it is checked before it is used, and every refusal is a ``ValueError`` naming the file."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from .._xp import to_numpy
from ..io.jsonsafe import loads
from ..nn.layers import Layer, layer_name
from ..optim import Optimizer, optimizer_from_state
from . import filecheck
from .filecheck import OPTIMIZER

if TYPE_CHECKING:
    from ..nn.network import Network

MAX_SETTINGS = 100_000  # characters of the optimizer's settings
MAX_RNG = 4_000_000  # characters of the random generators' states (about 150 per Dropout layer)
MAX_USER = 16_000_000  # characters of the user's metadata and of a backup's history
MAX_STEPS = 2**62


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
            tensors.update({f"{OPTIMIZER}{key}/{name}": value for name, value in entries.items()})
    return tensors, meta


def rebuild(
    path: str,
    tensors: dict[str, np.ndarray],
    meta: dict[str, str],
    make: Callable[[list[Layer], str, list[tuple[dict, dict]]], Network],
) -> Network:
    """The network the checkpoint at ``path`` describes, ``make(layers, dtype, initial)`` building it
    from ``initial`` (each layer's parameters and buffers). The architecture is checked against the
    tensors first (:func:`portnn.train.filecheck.plan`); the network is then built from the file's
    arrays (no initial weights drawn, no layer method replaced) and its RNG states,
    optimizer (as ``network.optimizer``) and user metadata (``network.metadata``) restored."""
    planned = filecheck.plan(path, tensors, meta)
    rng, info, optimizer = _settings_of(meta, path, None)
    user = settings(meta, "user", path, dict, MAX_USER, default={})
    initial = [
        ({k: tensors[f"{i}.{k}"] for k in planned.params[i]}, {k: tensors[f"{i}.{k}"] for k in planned.buffers[i]})
        for i in range(len(planned.layers))
    ]
    network = make(planned.layers, meta.get("dtype", "float32"), initial)
    network.optimizer = _restore_rest(network, tensors, path, rng, info, optimizer)
    network.metadata = user
    return network


def restore(
    network: Network, tensors: dict[str, np.ndarray], meta: dict[str, str], path: str, optimizer: Optimizer | None
) -> Optimizer | None:
    """Put the checkpoint's weights, buffers and RNG states into ``network`` (its architecture must
    match: names and shapes are checked first), and its optimizer state into ``optimizer`` (or a
    new optimizer of the saved class, when ``optimizer`` is None). Returns that optimizer, or None
    where the checkpoint holds none."""
    params = {p.name: tuple(p.value.shape) for p in network.parameters()}
    buffers = {b.name: tuple(b.value.shape) for b in network.buffers()}
    filecheck.check_tensors(path, tensors, params, buffers)
    rng, info, optimizer = _settings_of(meta, path, optimizer)
    weights = {k: np.array(to_numpy(v)) for k, v in network.state_dict().items()}  # host copies
    generators = network.rng_state()
    network.load_state_dict({k: v for k, v in tensors.items() if not k.startswith(OPTIMIZER)})
    try:
        return _restore_rest(network, tensors, path, rng, info, optimizer)
    except ValueError:  # a checkpoint refused here changes nothing: the network is put back
        network.load_state_dict(weights)
        network.set_rng_state(generators)
        raise


def _settings_of(
    meta: dict[str, str], path: str, optimizer: Optimizer | None
) -> tuple[dict[str, Any] | None, dict[str, Any] | None, Optimizer | None]:
    """(RNG states, optimizer settings, optimizer) the metadata holds, checked before any array is
    made: the optimizer given, or a new one of the saved class (unbound: it holds no arrays yet)."""
    rng = settings(meta, "rng", path, dict, MAX_RNG) if "rng" in meta else None
    if "optimizer" not in meta:
        return rng, None, None
    info = optimizer_settings(meta, path)
    if optimizer is None:
        try:
            optimizer = optimizer_from_state(info)
        except (TypeError, ValueError, KeyError, AttributeError, OverflowError) as exc:
            raise ValueError(f"load: {path!r} has unusable optimizer settings ({filecheck.reason(exc)})") from None
    return rng, info, optimizer


def _restore_rest(
    network: Network,
    tensors: dict[str, np.ndarray],
    path: str,
    rng: dict[str, Any] | None,
    info: dict[str, Any] | None,
    optimizer: Optimizer | None,
) -> Optimizer | None:
    if rng is not None:
        _set_rng_state(network, rng, path)
    if info is None or optimizer is None:
        return None
    state: dict[str, dict[str, np.ndarray]] = {}
    for name, value in tensors.items():
        if name.startswith(OPTIMIZER):  # optimizer/<parameter>/<state name>: checked by filecheck
            _, key, state_name = name.split("/")
            state.setdefault(key, {})[state_name] = value
    optimizer.bind(network.parameters(), network.backend, owner=network)
    needed = {(k, n) for k, entries in optimizer.state_dict()["state"].items() for n in entries}
    held = {(k, n) for k, entries in state.items() for n in entries}
    if needed != held:
        raise ValueError(
            f"load: {path!r} does not hold the state its {info['class']} needs: missing "
            f"{sorted(needed - held)[:8]}, unexpected {sorted(held - needed)[:8]}"
        )
    try:
        optimizer.load_state_dict({**info, "state": state})
    except (TypeError, ValueError, KeyError) as exc:
        raise ValueError(f"load: {path!r} has unusable optimizer state ({filecheck.reason(exc)})") from None
    return optimizer


def settings(meta: dict[str, str], key: str, path: str, kind: type, max_chars: int, default: Any = None) -> Any:
    """The JSON in ``meta[key]``, bounded (see :func:`portnn.io.jsonsafe.loads`) and of type
    ``kind``; ``default`` where absent (absent and no default: refused).

    >>> settings({"user": '{"classes": [0, 1]}'}, "user", "m.safetensors", dict, 100)
    {'classes': [0, 1]}
    >>> settings({"user": "[1]"}, "user", "m.safetensors", dict, 100)
    Traceback (most recent call last):
    ...
    ValueError: load: 'm.safetensors' has a corrupt user (a JSON list, expected dict)
    """
    if key not in meta:
        if default is None:
            raise ValueError(f"load: {path!r} has no {key} in its metadata")
        return default
    value = loads(meta[key], key, path, max_chars)
    if not isinstance(value, kind):
        raise ValueError(
            f"load: {path!r} has a corrupt {key} (a JSON {type(value).__name__}, expected {kind.__name__})"
        )
    return value


def optimizer_settings(meta: dict[str, str], path: str) -> dict[str, Any]:
    """The optimizer's class, settings and step count the checkpoint at ``path`` holds, checked."""
    info = settings(meta, "optimizer", path, dict, MAX_SETTINGS)
    steps = info.get("steps")
    if (
        set(info) != {"class", "config", "steps"}
        or not isinstance(info["class"], str)
        or not isinstance(info["config"], dict)
        or not (isinstance(steps, int) and not isinstance(steps, bool) and 0 <= steps <= MAX_STEPS)
    ):
        raise ValueError(
            f"load: {path!r} has a corrupt optimizer (expected class, config and steps in 0..{MAX_STEPS}, got "
            f"{filecheck.short(info)})"
        )
    return info


def progress(meta: dict[str, str], path: str) -> tuple[dict[str, list], list[int], int]:
    """A backup's (history, epochs of the history, epochs done), checked."""
    saved = settings(meta, "history", path, dict, MAX_USER)
    history, epoch = saved.get("history"), saved.get("epoch")
    done = meta.get("epochs_done", "")
    if not isinstance(history, dict) or not isinstance(epoch, list) or not done.isdigit() or len(done) > 18:
        raise ValueError(f"load: {path!r} has a corrupt history or epochs_done ({filecheck.short(done)})")
    return history, epoch, int(done)


def _set_rng_state(network: Network, saved: dict[str, Any], path: str) -> None:
    current = network.rng_state()
    if not _same_form(saved, current):
        raise ValueError(
            f"load: {path!r} has corrupt random generators' states (expected the form of "
            f"{filecheck.short(current)}, got {filecheck.short(saved)})"
        )
    try:
        network.set_rng_state(saved)
    except (ValueError, TypeError, KeyError, OverflowError) as exc:
        raise ValueError(f"load: {path!r} has corrupt random generators' states ({filecheck.reason(exc)})") from None


def _same_form(saved: Any, current: Any) -> bool:
    """``saved`` has ``current``'s keys and types, its integers those of a generator's state."""
    if isinstance(current, dict):
        return (
            isinstance(saved, dict)
            and saved.keys() == current.keys()
            and all(_same_form(saved[k], current[k]) for k in current)
        )
    if isinstance(current, int) and not isinstance(current, bool):
        return type(saved) is int and 0 <= saved < 2**128
    return type(saved) is type(current)
