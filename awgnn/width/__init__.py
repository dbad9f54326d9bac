"""Width machinery: learnable widths, resizing, optimizer state, loss, truncation."""

from awgnn.width.activations import ACTIVATION_NAMES
from awgnn.width.adaptive_width import AdaptiveWidth, Follower, NonFiniteRate, WidthChange, WidthEvent
from awgnn.width.checkpoint import AtomicLoad
from awgnn.width.distributions import DiscretisedExponential, WidthDistribution
from awgnn.width.export import freeze, truncate_
from awgnn.width.linear import AdaptiveLinear
from awgnn.width.loss import ELBOLoss, ELBOTerms
from awgnn.width.mlp import AdaptiveMLP
from awgnn.width.schedules import RatePriorAnnealing
from awgnn.width.training import (
    WidthUpdateHandle,
    adaptive_widths,
    auto_update_widths,
    parameter_groups,
    total_width,
    update_widths,
    width_report,
)

__all__ = [
    "ACTIVATION_NAMES",
    "AdaptiveLinear",
    "AdaptiveMLP",
    "AdaptiveWidth",
    "AtomicLoad",
    "DiscretisedExponential",
    "ELBOLoss",
    "ELBOTerms",
    "Follower",
    "NonFiniteRate",
    "RatePriorAnnealing",
    "WidthChange",
    "WidthDistribution",
    "WidthEvent",
    "WidthUpdateHandle",
    "adaptive_widths",
    "auto_update_widths",
    "parameter_groups",
    "freeze",
    "total_width",
    "truncate_",
    "update_widths",
    "width_report",
]
