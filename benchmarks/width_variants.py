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
* ``gates`` (:class:`StudyGatedWidths`: :class:`awgnn.growth.GatedWidths`
  with a slope of 8): no measurement at all. Every layer's
  ordered neurons pass through hard-concrete gates (Louizos et al. 2018,
  https://arxiv.org/abs/1712.01312) whose log-odds fall with the neuron's
  index past one learned cut-off per layer, and the expected number of open
  gates pays the measured widths' cost per neuron. The cut-off is trained by
  the loss's gradient through the stochastic gates near it: a nested-truncation
  likelihood for a rate, in which every step sees a narrower or a wider layer
  and the neurons near the cut-off are trained while they are judged.
* ``gates_broad`` (:class:`BroadGatedWidths`: the library's
  ``width_control: gates`` with its default slope, 3): ``gates`` whose gates
  are random over a range of widths a factor of 7 wide instead of 2
  (:func:`awgnn.growth.gates.random_range`), so that every neuron beyond a
  small core is trained to be removable, as nested dropout trains the units
  of a Matryoshka layer.
* ``gates_refit`` (:class:`RefitGatedWidths`): the gates' growth, and besides
  it ``refit``'s shrink: a layer whose refitted last window is worth less
  than its cost loses it (the cut-off follows), unless it grew in the last
  ``settle_steps`` steps.

The study selects a variant by handing the harness its class for
``width_control: marginal`` (:func:`controller`), so its runs' settings and
keys are the measured widths' own; ``tiny``, ``refit_tiny``, ``gates`` and
``gates_refit`` live here, not in the library, because the screening of
section 12 rejected them.
"""

from __future__ import annotations

import contextlib
from typing import Any
from unittest import mock

import torch
from torch import Tensor, nn
from torch.optim import Optimizer

from awgnn.growth import (
    WIDTH_CONTROLLERS,
    GatedWidths,
    GrowableLayer,
    MarginalWidths,
    RefitMarginalWidths,
    TinyGrowth,
    WidthController,
    WidthDecision,
)
from awgnn.growth.gates import CUTOFF_PARAMETER, DEFAULT_GATE_SLOPE, log_cutoff_keeping
from awgnn.growth.width_control import PerExampleLoss
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

    def _grow(
        self, layer: GrowableLayer, count: int, optimizer: Optimizer | None, optimizer_state: OptimizerStatePolicy
    ) -> None:
        step = TinyGrowth(count, gammas=TINY_GAMMAS)  # TINY's scale by its own line search (evaluation mode)
        neurons = step.neurons(self.model, [layer], self._measured, self._summed_loss)[0]
        if neurons.count:
            losses = step.line_search(self.model, layer, neurons, self._measured, self._summed_loss)
            gamma = min(losses, key=lambda g: (losses[g], g))
            weight = layer.linear.weight
            layer.grow_(
                torch.zeros(0, dtype=torch.long),
                weight.new_zeros(0, weight.shape[1] + 1),
                gamma * neurons.fan_in,
                gamma * neurons.fan_out,
                optimizer,
                optimizer_state,
                input_moment=neurons.input_moment,
            )
        if count > neurons.count:
            super()._grow(layer, count - neurons.count, optimizer, optimizer_state)

    def _summed_loss(self, model: nn.Module, batch: Any) -> Tensor:
        return self._loss(model, batch).sum()


class RefitTinyWidths(TinyGrowthWidths, RefitMarginalWidths):
    """Both: windows measured and removed with the consumer refitted, growths by TINY's neurons."""


# The screened gates' slope: random between about 0.7 and 1.3 times the cut-off, a window of the layer's own scale,
# as the measured widths'. The broad gates are the library's default slope (random over a range of more than ten).
SCREENED_GATE_SLOPE = 8.0


class StudyGatedWidths(GatedWidths):
    """The library's gates (slope :data:`SCREENED_GATE_SLOPE`) under the study's measured-width keys, whose window
    and settle steps the gates do not use."""

    study_slope = SCREENED_GATE_SLOPE

    def __init__(self, model: nn.Module, n_observations: int, *, window: float, settle_steps: int, **options: Any):
        super().__init__(model, n_observations, slope=self.study_slope, **options)


class BroadGatedWidths(StudyGatedWidths):
    """:class:`StudyGatedWidths` with the library's slope, :data:`~awgnn.growth.gates.DEFAULT_GATE_SLOPE`."""

    study_slope = DEFAULT_GATE_SLOPE


class RefitGatedWidths(GatedWidths, RefitMarginalWidths):
    """Widths grown by the gates' cut-off (slope :data:`SCREENED_GATE_SLOPE`) and shrunk, besides, by ``refit``'s
    rule (see the module).

    Between epochs the refitted value of every layer's last window is measured
    first, under the gates; a layer that did not grow in the last
    ``settle_steps`` steps and whose window is worth less than its cost loses
    it, with the consumer refitted, and its cut-off moves so that exactly the
    remaining neurons are kept. Every other layer follows its gates.
    """

    def __init__(self, model: nn.Module, n_observations: int, *, window: float, settle_steps: int, **options: Any):
        # GatedWidths takes the slope; RefitMarginalWidths, next in the order, the window and settle steps.
        super().__init__(model, n_observations, slope=SCREENED_GATE_SLOPE, **options)
        self.window, self.settle_steps = window, settle_steps

    def _drop_window(self, module: nn.Module, args: Any) -> None:
        """No window is dropped (the gates replace the measured widths' nested dropout); training steps are counted."""
        self.steps += module.training

    def update_(
        self,
        batches: Any,
        per_example_loss: PerExampleLoss,
        optimizer: Optimizer | None = None,
        optimizer_state: OptimizerStatePolicy = "carry",
    ) -> list[WidthDecision]:
        """Shrink by the refitted windows where they do not pay, else follow the gates; recalibrate the norms."""
        increases, used = self.measure(batches, per_example_loss)  # RefitMarginalWidths': the gates measure nothing
        decisions = []
        for index, (layer, decision) in enumerate(zip(self.layers, self.decide(increases))):
            if decision.new < decision.old:
                self._shrink(layer, decision.old - decision.new, optimizer, optimizer_state)  # with the refit
                with torch.no_grad():
                    getattr(layer.consumer, CUTOFF_PARAMETER).fill_(log_cutoff_keeping(layer.size, self.slope))
                decisions.append(decision)
            else:
                decisions.append(self._resize_to_gates(layer, optimizer, optimizer_state))
                if decisions[-1].new > decisions[-1].old:
                    self._judged_after[index] = self.steps + self.settle_steps
        self.recalibrate_norms(used, per_example_loss)
        return decisions


VARIANTS: dict[str, type[WidthController]] = {
    "refit": RefitMarginalWidths,
    "tiny": TinyGrowthWidths,
    "refit_tiny": RefitTinyWidths,
    "gates": StudyGatedWidths,
    "gates_refit": RefitGatedWidths,
    "gates_broad": BroadGatedWidths,
}


def controller(setting: str) -> contextlib.AbstractContextManager:
    """Inside it, the harness's ``width_control: marginal`` builds the setting's variant (a setting is named
    ``<mechanism>-<alpha>-<settle steps>``); the measured widths' own setting changes nothing."""
    variant = VARIANTS.get(setting.split("-")[0])
    if variant is None:
        return contextlib.nullcontext()
    return mock.patch.object(harness_train, "WIDTH_CONTROLLERS", {**WIDTH_CONTROLLERS, "marginal": variant})
