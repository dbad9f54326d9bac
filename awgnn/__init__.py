"""awgnn: adaptive-width graph neural networks for PyTorch Geometric."""
from awgnn.width import (
    AdaptiveLinear,
    AdaptiveMLP,
    AdaptiveWidth,
    DiscretisedExponential,
    ELBOLoss,
    RatePriorAnnealing,
    auto_update_widths,
    parameter_groups,
    freeze,
    total_width,
    truncate_,
    update_widths,
    width_report,
)

__version__ = "0.2.0"

__all__ = [
    "AdaptiveLinear",
    "AdaptiveMLP",
    "AdaptiveWidth",
    "DiscretisedExponential",
    "ELBOLoss",
    "RatePriorAnnealing",
    "auto_update_widths",
    "parameter_groups",
    "freeze",
    "total_width",
    "truncate_",
    "update_widths",
    "width_report",
]
