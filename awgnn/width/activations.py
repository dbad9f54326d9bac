"""Activations by name, with the gain Kaiming initialisation uses for each."""

from __future__ import annotations

import math
from collections.abc import Callable

from torch import nn

LEAKY_RELU_SLOPE = 0.01

_ACTIVATIONS: dict[str, tuple[Callable[[], nn.Module], float]] = {
    "relu": (nn.ReLU, math.sqrt(2.0)),
    "relu6": (nn.ReLU6, math.sqrt(2.0)),
    "leaky_relu": (lambda: nn.LeakyReLU(LEAKY_RELU_SLOPE), math.sqrt(2.0 / (1 + LEAKY_RELU_SLOPE**2))),
    "elu": (nn.ELU, math.sqrt(2.0)),
    "gelu": (nn.GELU, math.sqrt(2.0)),
    "silu": (nn.SiLU, math.sqrt(2.0)),
    "tanh": (nn.Tanh, 5.0 / 3.0),
    "sigmoid": (nn.Sigmoid, 1.0),
}
ACTIVATION_NAMES: tuple[str, ...] = tuple(_ACTIVATIONS)


def check_activation(name: str) -> str:
    if name not in _ACTIVATIONS:
        raise ValueError(f"activation must be one of {', '.join(ACTIVATION_NAMES)}, got {name!r}")
    return name


def make_activation(name: str) -> nn.Module:
    """A fresh activation module for ``name`` (see :data:`ACTIVATION_NAMES`)."""
    return _ACTIVATIONS[check_activation(name)][0]()


def activation_gain(name: str) -> float:
    """The Kaiming gain of ``name``: the std multiplier that preserves variance."""
    return _ACTIVATIONS[check_activation(name)][1]


def is_positively_homogeneous(activation: nn.Module | None) -> bool:
    """Whether ``activation(c * z) == c * activation(z)`` for every ``c > 0`` (ReLU, LeakyReLU).

    For these, scaling a neuron's output by its importance after the
    activation equals scaling the neuron's weights and bias before it, which
    costs O(weights) instead of O(nodes x neurons).
    """
    return activation is None or isinstance(activation, (nn.ReLU, nn.LeakyReLU))
