"""The optimizer base class: binding to a network's parameters, the step (schedule, clipping,
then the update rule a subclass writes), state that checkpoints save and load, and the registry by
name. The update rules themselves are in :mod:`portnn.optim.optimizers`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from .._checks import by_name, number_in_range, same_shape
from .._xp import Backend, to_numpy
from ..nn.paramblock import FlatState
from .clipping import GradientClipping
from .schedules import Schedule

if TYPE_CHECKING:
    from ..nn.parameter import Parameter
    from ..nn.paramlist import ParameterList

Array = Any


OPTIMIZERS: dict[str, type[Optimizer]] = {}
# What an optimizer holds besides its settings: arrays, binding, the step count and learning rate
_RUN_STATE = frozenset(
    {"lr", "schedule", "steps", "_state", "parameters", "backend", "flat", "parameter_list", "owner_id"}
    | {"_lr_value", "_lr_array"}
)


class Optimizer:
    """Base class. ``lr`` is a positive number or a schedule ``step -> lr``. Keras's ``clipnorm``,
    ``global_clipnorm`` and ``clipvalue`` (every optimizer's ``**clipping`` keywords) clip the loss
    gradients before the update and any L2 ``weight_decay``: see :mod:`portnn.optim.clipping`.

    A subclass writes its rule as ``_update(p, g, state) -> p``: ``g`` is only read (the
    gradient, or the optimizer's clipped copy of it), ``p`` and ``state`` are updated with the
    backend's in-place helpers. On a network's parameter block the rule runs once on the flat
    arrays (``optimizer.flat``), else once per parameter; on JAX it rebinds, and the new arrays
    replace all parameters in one call to the network's parameter list (``optimizer.parameter_list``).

    Subclasses are registered by their lower-case class name (``"sgd"``), so ``optimizer="sgd"``
    and checkpoints find them. ``state_dict()`` / ``load_state_dict()`` own the state and settings.
    """

    # Whether ``_update`` reads ``self.steps`` (Adam's bias correction): a compiled step passes the
    # count in and out only then (each argument of a compiled call costs a tiny network's step)
    reads_steps = True

    @property
    def state_names(self) -> tuple[str, ...]:
        """What the update keeps per parameter: its state (saved) and its scratch buffers (names
        starting with ``scratch``: not saved), as the settings ask."""
        return ()

    @property
    def buffer_names(self) -> tuple[str, ...]:
        """:attr:`state_names` and, where the gradients are clipped, the buffer they are clipped into."""
        return (*self.state_names, *("scratch_clip",) * self.clipping.active)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        OPTIMIZERS[cls.__name__.lower()] = cls

    def __init__(self, lr: float | Schedule = 0.01, weight_decay: float = 0.0, **clipping: float | None) -> None:
        if callable(lr):
            self.schedule: Schedule | None = lr
            self.lr = float(lr(0))
        else:
            self.schedule, self.lr = None, number_in_range("lr", lr, 0.0, low_open=True)
        self.weight_decay = number_in_range("weight_decay", weight_decay, 0.0)
        self.clipping = GradientClipping.from_keywords(type(self).__name__, clipping)
        self.steps = 0
        self.state: dict[str, dict[str, Array]] = {}
        self.parameters: list[Parameter] = []
        self.flat: FlatState | None = None  # the parameter block's state, set by bind where there is one
        self.parameter_list: ParameterList | None = None  # the network's, set by bind where it has one
        self.forget_constants()

    def bind(self, parameters: list[Parameter], backend: Backend, owner: object = None) -> None:
        """Attach to a network's parameters; state is created once, or kept when it already fits.
        Bound to another ``owner`` (network) than before, it starts afresh: no state leaks across models."""
        if owner is not None and getattr(self, "owner_id", None) not in (None, id(owner)):
            self.state, self.steps = {}, 0
        self.owner_id = id(owner) if owner is not None else getattr(self, "owner_id", None)
        self.parameters, self.backend = list(parameters), backend
        self.forget_constants()
        xp = backend.xp
        for param in self.parameters:
            p = param.value
            state = self.state.get(param.name)
            if state is None or any(v.shape != p.shape for v in state.values()):
                state = self.state[param.name] = {}
            for name in self.buffer_names:  # (an optimizer pickled before a buffer existed lacks it)
                if name not in state:
                    state[name] = xp.zeros_like(p)
        self.flat = FlatState.build(getattr(owner, "parameter_block", None), self)
        listed = getattr(owner, "parameter_list", None)
        names = [p.name for p in self.parameters]
        self.parameter_list = listed if listed is not None and listed.names == names else None

    def release(self) -> None:
        """Let the next :meth:`bind` keep this optimizer's state even on another network (its
        parameters of the same names and shapes): for a loop that builds a network per call and
        continues the same training, as scikit-learn's ``partial_fit`` does."""
        self.owner_id = None

    @property
    def state(self) -> dict[str, dict[str, Array]]:
        """Per parameter name, the update's arrays by state name (views of the flat state where
        the network has a parameter block)."""
        return self._state

    @state.setter
    def state(self, state: dict[str, dict[str, Array]]) -> None:
        # replaced wholesale (a reset does): the flat state stands for the old arrays until the
        # next update takes these in
        self._state = state
        if getattr(self, "flat", None) is not None:
            self.flat.stale = True  # type: ignore[union-attr]

    def move(self, backend: Backend, dtype: Any) -> None:
        """Move the state to another backend/dtype (the model's ``to()`` calls this)."""
        for state in self.state.values():
            for name in state:
                state[name] = backend.asarray(state[name], dtype)
        self.backend, self.flat, self.parameter_list = backend, None, None
        self.forget_constants()

    def forget_constants(self) -> None:
        """Drop the arrays cached from settings (lr as a 0-D array): they are made again, on the
        current backend, when next needed. Called on binding, moving, and around a traced step."""
        self._lr_value: float | None = None  # the lr that _lr_array holds
        self._lr_array: Array = None

    @contextmanager
    def traced_lr(self, lr: Array, dtype: Any) -> Iterator[None]:
        """Within: ``lr`` (a traced scalar, an input of a compiled step) is the learning rate, as
        :attr:`lr` for the rules that compute with the number and as the 0-D array of ``dtype``
        that the others combine; the host number is back after."""
        host = self.lr
        self.lr, self._lr_value, self._lr_array = lr, lr, self.backend.xp.astype(lr, dtype)
        try:
            yield
        finally:
            self.lr = host
            self.forget_constants()

    def step(self) -> None:
        """Apply one update to every bound parameter, from the gradients in the layers."""
        self.steps += 1
        if self.schedule is not None:
            self.lr = float(self.schedule(self.steps - 1))
        flat = self.flat
        if flat is not None and flat.stale:  # the state was replaced: its arrays join the block
            flat = self.flat = FlatState.build(flat.block, self)
        grads = self._clipped() if self.clipping.active else None  # the test all that plain optimizers pay
        if flat is not None:  # every update is elementwise: one call for all parameters
            g = flat.block.grads if grads is None else flat.state["scratch_clip"]
            self._update(flat.block.values, g, flat.state)
            return
        state, listed = self.state, self.parameter_list
        if listed is not None:  # rebinding (JAX): all parameters replaced through the network's list
            g = listed.grads() if grads is None else grads
            listed.set_values([self._update(p, gi, state[n]) for p, gi, n in zip(listed.values(), g, listed.names)])
            return
        if grads is None:
            for param in self.parameters:  # the dicts behind the Parameter views: no property calls per step
                store, key = param.store, param.key
                store[key] = self._update(store[key], param.grads[key], state[param.name])
            return
        for param, g in zip(self.parameters, grads):
            param.store[param.key] = self._update(param.value, g, state[param.name])

    def _clipped(self) -> list[Array]:
        """The gradients clipped into the optimizer's own buffers: ``Parameter.grad`` stays the gradient."""
        params, state, listed = self.parameters, self.state, self.parameter_list
        grads = listed.grads() if listed is not None else [p.grads[p.key] for p in params]
        out = [state[p.name]["scratch_clip"] for p in params]
        return self.clipping.apply(self.backend, grads, out)

    def _update(self, p: Array, g: Array, state: dict[str, Array]) -> Array:
        raise NotImplementedError

    def _add_l2(self, p: Array, g: Array, state: dict[str, Array], into: str = "scratch") -> Array:
        """``g + weight_decay * p``, in the scratch buffer ``state[into]`` (``g`` is left as it was)."""
        bk = self.backend
        return bk.iadd(bk.mul_into(state[into], p, self.weight_decay), g)

    def _lr_for(self, like: Array) -> Array:
        """``lr`` as a 0-D array of ``like``'s dtype (cheaper to combine than a float), remade when lr changes."""
        lr = self.lr
        if lr is not self._lr_value and lr != self._lr_value:  # (a traced lr is compared by identity only)
            self._lr_value, self._lr_array = self.lr, self.backend.asarray(self.lr, like.dtype)
        return self._lr_array

    def trace_settings(self) -> dict[str, Any]:
        """What the update reads besides its arrays, step count and learning rate: every other
        attribute (a subclass's own included), for the key a compiled step is shared under.

        >>> sorted(Optimizer(lr=0.1).trace_settings())
        ['clipping', 'weight_decay']
        """
        return {k: v for k, v in vars(self).items() if k not in _RUN_STATE}

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments (saved with a checkpoint). A schedule is saved as its current lr."""
        return {"lr": self.lr, "weight_decay": self.weight_decay, **self._extra_config(), **self.clipping.config()}

    def _extra_config(self) -> dict[str, Any]:
        return {}

    def state_dict(self) -> dict[str, Any]:
        """Settings, step count and state (host NumPy copies; scratch buffers are not state):
        ``{"class", "config", "steps", "state": {parameter name: {state name: array}}}``."""
        state = {
            key: {name: to_numpy(value) for name, value in entries.items() if not name.startswith("scratch")}
            for key, entries in self.state.items()
        }
        return {"class": type(self).__name__, "config": self.get_config(), "steps": int(self.steps), "state": state}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Take the step count and state of :meth:`state_dict` (settings: :func:`optimizer_from_state`)."""
        if state_dict.get("class") != type(self).__name__:
            raise ValueError(f"optimizer state: saved from {state_dict.get('class')}, not {type(self).__name__}")
        unknown = sorted(set(state_dict["state"]) - set(self.state))
        if unknown:
            raise ValueError(f"optimizer state: parameters {unknown} are not bound to this optimizer")
        for key, entries in state_dict["state"].items():
            for name, value in entries.items():  # in place: a flat state's views stay views
                current = self.state[key][name]
                value = same_shape(
                    f"optimizer state[{key!r}][{name!r}]", self.backend.asarray(value, current.dtype), current
                )
                self.state[key][name] = self.backend.copy_into(current, value)
        self.steps = int(state_dict["steps"])

    def __getstate__(self) -> dict[str, Any]:
        drop = ("parameters", "backend", "_lr_array", "flat", "parameter_list", "_state")
        state = {k: v for k, v in self.__dict__.items() if k not in drop}
        host = {key: {n: to_numpy(v) for n, v in e.items()} for key, e in self.state.items()}
        return {**state, "state": host, "owner_id": None, "_lr_value": None}  # bound and moved again by the network

    def __setstate__(self, state: dict[str, Any]) -> None:
        state = dict(state)
        blank: dict[str, Any] = {"parameters": [], "_lr_array": None, "flat": None, "parameter_list": None}
        self.__dict__.update({"clipping": GradientClipping(), **state}, **blank)
        self.__dict__.pop("state", None)
        self._state = state["state"]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.clipping.arguments(lr=self.lr)})"


def optimizer_from_state(state_dict: dict[str, Any]) -> Optimizer:
    """A new optimizer with the class and settings of :meth:`Optimizer.state_dict` (state not yet loaded)."""
    name = str(state_dict.get("class", "")).lower()
    if name not in OPTIMIZERS:
        raise ValueError(f"optimizer state: unknown optimizer {state_dict.get('class')!r}; known: {sorted(OPTIMIZERS)}")
    config = dict(state_dict.get("config", {}))
    if "betas" in config:
        config["betas"] = tuple(config["betas"])  # JSON has no tuples
    return OPTIMIZERS[name](**config)


def get_optimizer(optimizer: str | Optimizer) -> Optimizer:
    """An optimizer by name (default settings) or the object itself."""
    return by_name("optimizer", optimizer, Optimizer, OPTIMIZERS)  # type: ignore[no-any-return]
