"""portnn: one small, fast, correct MLP stack written once against the Python Array API standard.

The same network and backprop train on NumPy, CuPy, PyTorch, JAX and array-api-strict.

>>> import portnn as pn
>>> X, y = pn.datasets.xor()
>>> net = pn.Sequential(pn.Dense(2, 3), pn.Sigmoid(), pn.Dense(3, 1), pn.Sigmoid(), seed=0)
>>> history = net.fit(X, y, loss="mse", optimizer=pn.optim.SGD(lr=1.0), epochs=10, progress=False)
>>> net(X).shape
(4, 1)
"""

from __future__ import annotations

import sys

from . import bench, datasets, distributed, initializers, io, optim
from ._xp import Backend, available_backends, get_backend, to_numpy
from .nn.activations import ELU, GELU, Identity, LeakyReLU, ReLU, Sigmoid, Softmax, Softplus, Tanh
from .nn.layers import Dense, Dropout, Layer, register_layer
from .nn.network import Network
from .nn.normalization import BatchNorm, LayerNorm
from .nn.parameter import Buffer, Parameter
from .nn.standardize import Standardize
from .objectives import losses, metrics
from .objectives.losses import MSE, BinaryCrossEntropy, CrossEntropy, Exponential, KLDivergence, Loss
from .objectives.metrics import R2, Accuracy, MeanAbsoluteError, MeanSquaredError, Metric, TopKAccuracy
from .train import callbacks
from .train.backup import BackupAndRestore
from .train.callbacks import Callback, EarlyStopping, History
from .train.divergence import DivergenceError
from .train.model import Sequential, load
from .train.step import TrainStep, value_and_grad

__version__ = "0.1.0"

# The module paths users import from keep working: `portnn.losses` is `portnn.objectives.losses`.
for _name, _module in {"losses": losses, "metrics": metrics, "callbacks": callbacks}.items():
    sys.modules[f"{__name__}.{_name}"] = _module
del _name, _module

__all__ = [
    "ELU",
    "GELU",
    "MSE",
    "Accuracy",
    "MeanAbsoluteError",
    "MeanSquaredError",
    "Metric",
    "R2",
    "TopKAccuracy",
    "Network",
    "Parameter",
    "Backend",
    "BackupAndRestore",
    "BatchNorm",
    "BinaryCrossEntropy",
    "Buffer",
    "Callback",
    "CrossEntropy",
    "Dense",
    "DivergenceError",
    "Dropout",
    "EarlyStopping",
    "Exponential",
    "History",
    "Identity",
    "KLDivergence",
    "Layer",
    "LayerNorm",
    "LeakyReLU",
    "Loss",
    "ReLU",
    "Sequential",
    "Sigmoid",
    "Softmax",
    "Softplus",
    "Standardize",
    "Tanh",
    "TrainStep",
    "__version__",
    "available_backends",
    "bench",
    "callbacks",
    "datasets",
    "distributed",
    "get_backend",
    "initializers",
    "io",
    "load",
    "losses",
    "metrics",
    "optim",
    "register_layer",
    "to_numpy",
    "value_and_grad",
]
