"""Variants of the measured-width mechanism, run by ``width_equilibrium.py --variants`` and kept as evidence.

Each changes one of the two places where :class:`awgnn.growth.MarginalWidths`
treats a layer's last neurons differently from its older ones, and keeps the
rule, the cost and the training-time dropping:

* ``refit``: :class:`awgnn.growth.RefitMarginalWidths` (in the library,
  ``width_control: marginal_refit``): a window's value is measured, and a
  shrink made, with the consumer's weights on the other neurons refitted by
  least squares to stand in for the window.
* ``tiny`` (:class:`TinyGrowthWidths`): a growth adds TINY's neurons
  (:class:`awgnn.growth.TinyGrowth`: fan-ins and fan-outs fitted to the part of
  the loss gradient the layer cannot follow, scaled by TINY's line search) in
  place of random rows with zero outgoing weights, so a new neuron starts
  useful instead of silent; random ones fill in where TINY finds fewer.
* ``refit_tiny`` (:class:`RefitTinyWidths`): both.

The study selects a variant by handing the harness its class for
``width_control: marginal`` (:func:`controller`), so its runs' settings and
keys are the measured widths' own; ``tiny`` and ``refit_tiny`` live here, not
in the library, because the screening of section 12 rejected them.
"""
from __future__ import annotations

import contextlib
from typing import Any
from unittest import mock

import torch
from torch import Tensor, nn
from torch.optim import Optimizer

from awgnn.growth import GrowableLayer, MarginalWidths, RefitMarginalWidths, TinyGrowth
from awgnn.growth.marginal import WIDTH_CONTROLLERS, PerExampleLoss
from awgnn.harness import train as harness_train
from awgnn.width.resize import OptimizerStatePolicy

# TINY's scales searched for the new neurons (0 is not searched: a growth was decided, it adds neurons).
TINY_GAMMAS = (0.25, 0.5, 1.0, 2.0)


class TinyGrowthWidths(MarginalWidths):
    """:class:`MarginalWidths` whose growths add TINY's neurons (see the module)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._measured: list[Any] = []
        self._loss: PerExampleLoss | None = None

    def measure(self, batches: Any, per_example_loss: PerExampleLoss) -> tuple[list[Tensor], list[Any]]:
        increases, self._measured = super().measure(batches, per_example_loss)
        self._loss = per_example_loss
        return increases, self._measured

    def _grow(self, layer: GrowableLayer, count: int, optimizer: Optimizer | None,
              optimizer_state: OptimizerStatePolicy) -> None:
        step = TinyGrowth(count, gammas=TINY_GAMMAS)  # TINY's scale by its own line search (evaluation mode)
        neurons = step.neurons(self.model, [layer], self._measured, self._summed_loss)[0]
        if neurons.count:
            losses = step.line_search(self.model, layer, neurons, self._measured, self._summed_loss)
            gamma = min(losses, key=lambda g: (losses[g], g))
            weight = layer.linear.weight
            layer.grow_(torch.zeros(0, dtype=torch.long), weight.new_zeros(0, weight.shape[1] + 1),
                        gamma * neurons.fan_in, gamma * neurons.fan_out, optimizer, optimizer_state,
                        input_moment=neurons.input_moment)
        if count > neurons.count:
            super()._grow(layer, count - neurons.count, optimizer, optimizer_state)

    def _summed_loss(self, model: nn.Module, batch: Any) -> Tensor:
        return self._loss(model, batch).sum()


class RefitTinyWidths(TinyGrowthWidths, RefitMarginalWidths):
    """Both: windows measured and removed with the consumer refitted, growths by TINY's neurons."""


VARIANTS: dict[str, type[MarginalWidths]] = {"refit": RefitMarginalWidths, "tiny": TinyGrowthWidths,
                                             "refit_tiny": RefitTinyWidths}


def controller(setting: str) -> contextlib.AbstractContextManager:
    """Inside it, the harness's ``width_control: marginal`` builds the setting's variant (a setting is named
    ``<mechanism>-<alpha>-<settle steps>``); the measured widths' own setting changes nothing."""
    variant = VARIANTS.get(setting.split("-")[0])
    if variant is None:
        return contextlib.nullcontext()
    return mock.patch.object(harness_train, "WIDTH_CONTROLLERS", {**WIDTH_CONTROLLERS, "marginal": variant})
