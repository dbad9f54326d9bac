"""Growing baselines beside AWN: S2D (exact and fast), Firefly and TINY (through GroMo) growth steps.

They grow the hidden layer of an :class:`~awgnn.width.AdaptiveMLP` (block 0
and every :class:`~awgnn.nn.AdaptiveGINConv` MLP of
:class:`~awgnn.models.AdaptiveGINClassifier`) or of the PyG-style
:class:`~awgnn.nn.models.AdaptiveGINMLP` (every conv of
:class:`~awgnn.nn.models.AdaptiveGIN`) whose width has been fixed
(:func:`fix_hidden_widths_`): a growth step is a resize of that width whose
new neurons get chosen values, so every follower and the optimizer state
follow it as in AWN. A batch norm inside the MLP (as in
:class:`~awgnn.models.GrowingFairGIN`) follows the grown neurons too.

:class:`MarginalWidths` grows and shrinks the same layers by the measured
value of their last neurons against a cost per neuron that falls with the
number of training observations; :class:`GatedWidths` by hard-concrete gates
past a learned cut-off, against the same cost.
"""

from collections.abc import Mapping
from types import MappingProxyType

from awgnn.growth.activations import SecondDerivative
from awgnn.growth.firefly import FireflyCandidates, FireflyGrowth
from awgnn.growth.gates import GatedWidths
from awgnn.growth.layer import (
    GROWABLE_ACTIVATIONS,
    GrowableLayer,
    HiddenLayer,
    LayerGrowth,
    fix_hidden_widths_,
    growable_layers,
    hidden_layers,
    input_moment,
    reinitialise_,
)
from awgnn.growth.marginal import MarginalWidths, RefitMarginalWidths, refitted_consumer
from awgnn.growth.s2d import S2DGrowth, SplittingMatrices, splitting_matrices
from awgnn.growth.statistics import NodeGradients, node_gradients
from awgnn.growth.step import GrowthBudget, GrowthResult
from awgnn.growth.tiny import TinyGrowth
from awgnn.growth.width_control import WidthController, WidthDecision, neuron_cost

# The ways of setting fixed hidden widths from the data, by their name in the harness's width_control key.
WIDTH_CONTROLLERS: Mapping[str, type[WidthController]] = MappingProxyType(
    {"marginal": MarginalWidths, "marginal_refit": RefitMarginalWidths, "gates": GatedWidths}
)

__all__ = [
    "FireflyCandidates",
    "FireflyGrowth",
    "GROWABLE_ACTIVATIONS",
    "GatedWidths",
    "GrowableLayer",
    "GrowthBudget",
    "GrowthResult",
    "HiddenLayer",
    "LayerGrowth",
    "MarginalWidths",
    "NodeGradients",
    "RefitMarginalWidths",
    "S2DGrowth",
    "SecondDerivative",
    "SplittingMatrices",
    "TinyGrowth",
    "WIDTH_CONTROLLERS",
    "WidthController",
    "WidthDecision",
    "fix_hidden_widths_",
    "growable_layers",
    "hidden_layers",
    "input_moment",
    "neuron_cost",
    "refitted_consumer",
    "reinitialise_",
    "node_gradients",
    "splitting_matrices",
]
