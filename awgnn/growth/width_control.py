r"""What every way of setting fixed hidden widths from the data shares: the layers, the cost of a neuron, new neurons,
the batch norms' recalibration.

**The cost of a neuron.** Training would minimise the penalised likelihood
:math:`\sum_i \ell_i + \alpha\,|\theta|` (``alpha`` nats per parameter; AIC
has :math:`\alpha = 1`, BIC :math:`\tfrac12 \ln N`), i.e. per observation
:math:`\bar\ell + \alpha |\theta| / N`. A neuron of a layer with fan-in
:math:`d` (plus a bias), fan-out :math:`F` and a batch norm's two parameters
holds :math:`p = d + 1 + F\,(+2)` parameters, so it pays for itself when it
lowers the mean training loss by more than

.. math::
    c = \alpha\, p / N .

The same :math:`\alpha` serves every dataset: the cost halves when the data
doubles, so more data keeps more neurons, and a harder task, whose neurons
lower the loss more, keeps more too. It counts neurons, not weight norms, so
no rescaling of weights dodges it. A network's effective number of parameters
is far below its count, so :math:`\alpha` is far below AIC's 1:
:data:`DEFAULT_NEURON_COST` was chosen on the synthetic ladder, never on a
test fold.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm
from torch.optim import Optimizer

from awgnn.growth.layer import GrowableLayer, growable_layers
from awgnn.width.resize import OptimizerStatePolicy
from awgnn.width.training import adaptive_widths
from awgnn.width.validation import check_finite_positive, check_int_at_least

# alpha, nats per parameter: chosen on the synthetic ladder against 0.01 (see the module docstring).
DEFAULT_NEURON_COST = 0.003
# Training examples whose losses a measurement (or a recalibration) uses (all of them when the training set is smaller).
DEFAULT_MEASURED_EXAMPLES = 512
# The smallest width a fixed AdaptiveWidth can express (its distribution's offset).
MIN_WIDTH = 2

PerExampleLoss = Callable[[nn.Module, Any], Tensor]


def neuron_cost(parameters_per_neuron: int, n_observations: int, alpha: float = DEFAULT_NEURON_COST) -> float:
    r"""The mean training loss a neuron must remove to pay for itself: :math:`c = \alpha\,p / N`."""
    check_int_at_least("parameters_per_neuron", parameters_per_neuron, 1)
    check_int_at_least("n_observations", n_observations, 1)
    return check_finite_positive("alpha", alpha) * parameters_per_neuron / n_observations


def parameters_per_neuron(layer: GrowableLayer) -> int:
    """The parameters one neuron of ``layer`` holds: its incoming row and bias, outgoing column, norm entries."""
    norm = 0 if layer.norm is None else sum(getattr(layer.norm, key, None) is not None for key in ("weight", "bias"))
    return layer.linear.weight.shape[1] + 1 + layer.consumer.weight.shape[0] + norm


@dataclass(frozen=True)
class WidthDecision:
    """What one update found for one layer, and the width it chose.

    For :class:`~awgnn.growth.MarginalWidths`, ``value``: mean training-loss
    increase when the last ``window`` neurons are off, with its standard error
    ``error``; ``cost``: of those neurons together; ``settling``: the layer
    grew recently and was not judged. For :class:`~awgnn.growth.GatedWidths`,
    ``value`` is the layer's cut-off :math:`w` and ``cost`` one neuron's.
    """

    name: str
    old: int
    new: int
    window: int
    value: float
    error: float
    cost: float
    settling: bool

    def as_record(self) -> dict[str, Any]:
        return {"old": self.old, "new": self.new, "value": self.value, "error": self.error, "cost": self.cost}


class WidthController(ABC):
    r"""The hidden layers of ``model`` whose fixed widths a subclass sets, and what every way of setting them needs.

    Works on the hidden layers :func:`~awgnn.growth.growable_layers` finds
    (block 0 and every GIN MLP of :class:`~awgnn.models.AdaptiveGINClassifier`
    and :class:`~awgnn.models.AdaptiveFairGIN`, every conv of
    :class:`~awgnn.nn.models.AdaptiveGIN`), whose widths must be fixed
    (:func:`~awgnn.growth.fix_hidden_widths_`). A subclass implements
    :meth:`update_`, called between epochs.

    Args:
        model: the model; its current hidden widths are the start.
        n_observations: the number of training observations :math:`N`.
        alpha: the cost :math:`\alpha` in nats per parameter.
        measured_examples: how many training examples an update uses (at most).
        generator: draws the new neurons' weights (and whatever else a subclass draws).
    """

    def __init__(
        self,
        model: nn.Module,
        n_observations: int,
        *,
        alpha: float = DEFAULT_NEURON_COST,
        measured_examples: int = DEFAULT_MEASURED_EXAMPLES,
        generator: torch.Generator | None = None,
    ) -> None:
        self.n_observations = check_int_at_least("n_observations", n_observations, 1)
        self.alpha = check_finite_positive("alpha", alpha)
        self.measured_examples = check_int_at_least("measured_examples", measured_examples, 1)
        self.generator = generator if generator is not None else torch.Generator().manual_seed(0)
        self.model = model
        self.layers = growable_layers(model)
        if not self.layers:
            raise ValueError(f"{type(model).__name__} has no hidden layer with an AdaptiveWidth to set")
        learned = [name for name, width in adaptive_widths(model) if not width.fixed]
        if learned:
            raise ValueError(
                f"adaptive width {learned[0]!r} is learned by its rate; {type(self).__name__} sets fixed "
                "widths only (fix the hidden widths, and give the model fixed embedding sizes)"
            )
        self.norms = [m for m in model.modules() if isinstance(m, _BatchNorm) and m.track_running_stats]
        self._momenta = [norm.momentum for norm in self.norms]
        self._handles: list[torch.utils.hooks.RemovableHandle] = []

    #: The ``reason`` its resizes carry (:class:`~awgnn.width.WidthChange`).
    resize_reason = "marginal"

    def widths(self) -> dict[str, int]:
        """The width of every layer, keyed by layer name."""
        return {layer.name: layer.size for layer in self.layers}

    def cost(self, layer: GrowableLayer) -> float:
        """:math:`c` of one neuron of ``layer``."""
        return neuron_cost(parameters_per_neuron(layer), self.n_observations, self.alpha)

    def decay_free_parameters(self) -> list[nn.Parameter]:
        """Parameters the controller added to the model that an optimizer must not decay (none here)."""
        return []

    @abstractmethod
    def update_(
        self,
        batches: Iterable[Any],
        per_example_loss: PerExampleLoss,
        optimizer: Optimizer | None = None,
        optimizer_state: OptimizerStatePolicy = "carry",
    ) -> list[WidthDecision]:
        """Set every layer's width from training ``batches``; one :class:`WidthDecision` per layer.

        ``per_example_loss(model, batch)`` returns one loss per example of
        ``batch`` (e.g. ``F.cross_entropy(..., reduction="none")``). The
        optimizer's state follows ``optimizer_state`` as in an AWN resize.
        """

    @torch.no_grad()
    def _grow(
        self, layer: GrowableLayer, count: int, optimizer: Optimizer | None, optimizer_state: OptimizerStatePolicy
    ) -> None:
        """Append ``count`` neurons: rows drawn at the scale of the layer's rows, bias and outgoing weights zero."""
        old = layer.size
        scale = layer.linear.weight.std().item() if layer.linear.weight.numel() > 1 else 1.0
        layer.width.resize_(old + count, optimizer, optimizer_state, reason=self.resize_reason)
        rows = torch.randn(count, layer.linear.weight.shape[1], generator=self.generator)
        layer.linear.weight[old:] = (scale * rows).to(layer.linear.weight)
        layer.linear.bias[old:] = 0
        layer.consumer.weight[:, old:] = 0  # the function is unchanged until they are trained

    @torch.no_grad()
    def recalibrate_norms(self, batches: Iterable[Any], per_example_loss: PerExampleLoss) -> None:
        """Batch norms' running statistics averaged afresh over ``batches`` at the current widths, until
        ``measured_examples`` examples are seen.

        A change of width shifts what the norms after it see, and (with
        :class:`~awgnn.growth.MarginalWidths`) only half of the training steps
        update their running statistics; on a small training set those would
        lag behind for several epochs, and evaluation would normalise with
        statistics of older weights and widths.
        """
        was_training = self.model.training
        self.model.eval()
        for norm in self.norms:
            norm.reset_running_stats()
            norm.momentum = None  # a cumulative average over the batches
            norm.train()
        try:
            seen = 0
            for batch in batches:
                seen += len(per_example_loss(self.model, batch))
                if seen >= self.measured_examples:
                    break
        finally:
            for norm, momentum in zip(self.norms, self._momenta):
                norm.momentum = momentum
            self.model.train(was_training)

    def remove(self) -> None:
        """Detach the controller's hooks from the model."""
        for handle in self._handles:
            handle.remove()
        self._handles.clear()
