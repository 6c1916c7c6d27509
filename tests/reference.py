"""Plain float64 NumPy references: textbook formulas, evaluated on moderate inputs."""

import math

import numpy as np

K = math.sqrt(2 / math.pi)


def softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


ACTIVATIONS = {
    "Identity": lambda x: x,
    "Sigmoid": lambda x: 1 / (1 + np.exp(-x)),
    "Tanh": np.tanh,
    "ReLU": lambda x: np.maximum(x, 0),
    "LeakyReLU": lambda x: np.where(x > 0, x, 0.01 * x),
    "ELU": lambda x: np.where(x > 0, x, np.exp(x) - 1),
    "Softplus": lambda x: np.log1p(np.exp(x)),
    "GELU": lambda x: 0.5 * x * (1 + np.tanh(K * (x + 0.044715 * x**3))),
    "Softmax": softmax,
}


def log_softmax(z):
    return np.log(softmax(z))


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


LOSSES = {
    "mse": lambda p, t: np.mean((p - t) ** 2),
    "bce": lambda p, t: -np.mean(t * np.log(p) + (1 - t) * np.log(1 - p)),
    "bce_logits": lambda z, t: -np.mean(t * np.log(sigmoid(z)) + (1 - t) * np.log(1 - sigmoid(z))),
    "cross_entropy": lambda z, t: -np.mean(np.sum(t * log_softmax(z), axis=1)),
    "cross_entropy_probs": lambda p, t: -np.mean(np.sum(t * np.log(p), axis=1)),
    "kl_div": lambda p, t: np.mean(np.sum(np.where(t > 0, t * np.log(np.where(t > 0, t, 1) / p), 0), axis=1)),
    "exponential": lambda f, y: np.mean(np.exp(-(2 * y - 1) * f)),
}
