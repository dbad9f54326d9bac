"""What every growth step shares: the neuron budget, the selection of candidates and the report."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from awgnn.growth.layer import GrowableLayer, LayerGrowth, growable_layers
from awgnn.width.validation import check_fraction, check_int_at_least


@dataclass(frozen=True)
class GrowthResult:
    """The outcome of one growth step: one :class:`LayerGrowth` per layer, and the loss change it predicts."""

    layers: list[LayerGrowth]
    predicted_change: float

    @property
    def added(self) -> int:
        """Neurons added over all layers (splits and new neurons)."""
        return sum(layer.new - layer.old for layer in self.layers)

    @property
    def split(self) -> int:
        """Neurons split over all layers (each adds one offspring to :attr:`added`)."""
        return sum(layer.split for layer in self.layers)


class GrowthBudget:
    """How many neurons a growth step adds over all layers together.

    Exactly one of ``num_neurons`` (a count) and ``fraction`` (of the current
    total number of neurons, rounded down, at least 1) is given.
    """

    def __init__(self, num_neurons: int | None, fraction: float | None) -> None:
        if (num_neurons is None) == (fraction is None):
            raise ValueError(f"give exactly one of num_neurons and fraction, got {num_neurons!r} and {fraction!r}")
        self.num_neurons = None if num_neurons is None else check_int_at_least("num_neurons", num_neurons, 1)
        self.fraction = None if fraction is None else check_fraction("fraction", fraction)

    def __call__(self, layers: Sequence[GrowableLayer]) -> int:
        """The number of neurons to add to ``layers`` now."""
        if self.num_neurons is not None:
            return self.num_neurons
        return max(1, math.floor(self.fraction * sum(layer.size for layer in layers)))


# Where a step's budget goes: the most negative scores over all layers (the papers' official code), or each
# layer's own most negative scores up to its share of the budget.
SELECTIONS: tuple[str, ...] = ("global", "per_layer")


def select(scores: Sequence[Tensor], budget: int, layers: Sequence[GrowableLayer], selection: str) -> list[Tensor]:
    """:func:`select_globally` or :func:`select_per_layer` (``selection``) of ``scores`` for ``layers``."""
    room = [layer.room() for layer in layers]
    if selection == "global":
        return select_globally(scores, budget, room)
    return select_per_layer(scores, budget, [layer.size for layer in layers], room)


def select_globally(scores: Sequence[Tensor], budget: int, room: Sequence[int]) -> list[Tensor]:
    """Per layer, the indices of the most negative ``scores`` over all layers.

    Only negative scores count (a candidate that does not lower the loss is
    never taken); at most ``budget`` in total and ``room[l]`` in layer ``l``.
    Returns sorted index tensors, one per layer.
    """
    flat = [
        (float(value), layer, index)
        for layer, values in enumerate(scores)
        for index, value in enumerate(values.tolist())
        if value < 0
    ]
    flat.sort()
    taken: list[list[int]] = [[] for _ in scores]
    total = 0
    for _, layer, index in flat:
        if total == budget:
            break
        if len(taken[layer]) < room[layer]:
            taken[layer].append(index)
            total += 1
    return [torch.tensor(sorted(indices), dtype=torch.long) for indices in taken]


def select_per_layer(scores: Sequence[Tensor], budget: int, sizes: Sequence[int], room: Sequence[int]) -> list[Tensor]:
    r"""Per layer, the indices of its own most negative ``scores``, up to its share of ``budget``.

    Layer :math:`l` of :math:`D_l` neurons (``sizes``) takes at most
    :math:`\max(1, \lfloor B D_l / \sum_k D_k \rfloor)` of a budget
    :math:`B`, and at most ``room[l]``, so every layer grows in proportion to
    its size whatever the scale of its scores (splitting eigenvalues and gate
    derivatives are not comparable across layers of different inputs). Only
    negative scores count. Returns sorted index tensors, one per layer.
    """
    total = sum(sizes)
    chosen = []
    for values, size, space in zip(scores, sizes, room, strict=True):
        share = min(space, max(1, budget * size // total))
        negative = (values < 0).nonzero().flatten()
        most_negative = negative[values[negative].argsort()[:share]]
        chosen.append(most_negative.sort().values.to(torch.long))
    return chosen


def resolve_layers(model: nn.Module, layers: Iterable[GrowableLayer] | None) -> list[GrowableLayer]:
    """``layers``, or every growable layer of ``model``; ``ValueError`` when there is none."""
    if layers is None:
        layers = growable_layers(model)
        if not layers:
            raise ValueError(
                f"{type(model).__name__} has no growable layer: growth grows the hidden layers of AdaptiveMLP and "
                "AdaptiveGINMLP whose width is an AdaptiveWidth (a fixed int hidden size cannot grow)"
            )
        return layers
    layers = list(layers)
    if not layers or not all(isinstance(layer, GrowableLayer) for layer in layers):
        raise ValueError(f"layers must be a non-empty list of GrowableLayer, got {layers!r}")
    return layers


def check_number(name: str, value: Any, minimum: float) -> float:
    """``value`` as a float if it is a finite number >= ``minimum``, else ``ValueError``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < minimum:
        raise ValueError(f"{name} must be a finite number >= {minimum:g}, got {value!r}")
    return float(value)
