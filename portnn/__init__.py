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

from . import callbacks, datasets, distributed, initializers, io, losses, metrics, optim
from ._xp import Backend, available_backends, get_backend, to_numpy
from .activations import ELU, GELU, Identity, LeakyReLU, ReLU, Sigmoid, Softmax, Softplus, Tanh
from .backup import BackupAndRestore
from .callbacks import Callback, EarlyStopping, History
from .divergence import DivergenceError
from .layers import Dense, Dropout, Layer, register_layer
from .losses import MSE, BinaryCrossEntropy, CrossEntropy, Exponential, KLDivergence, Loss
from .metrics import R2, Accuracy, MeanAbsoluteError, MeanSquaredError, Metric, TopKAccuracy
from .model import Sequential, load
from .network import Network
from .normalization import BatchNorm, LayerNorm
from .parameter import Buffer, Parameter
from .step import TrainStep, value_and_grad

__version__ = "0.1.0"

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
    "Tanh",
    "TrainStep",
    "__version__",
    "available_backends",
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
