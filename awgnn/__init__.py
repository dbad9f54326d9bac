"""awgnn: adaptive-width graph neural networks for PyTorch Geometric."""

from importlib.metadata import PackageNotFoundError, version

from awgnn.width import (
    AdaptiveLinear,
    AdaptiveMLP,
    AdaptiveWidth,
    DiscretisedExponential,
    ELBOLoss,
    RatePriorAnnealing,
    auto_update_widths,
    freeze,
    parameter_groups,
    total_width,
    truncate_,
    update_widths,
    width_report,
)

try:  # the version is written once, in pyproject.toml
    __version__ = version("awgnn")
except PackageNotFoundError:  # imported from a source tree that was never installed
    __version__ = "0+unknown"

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
