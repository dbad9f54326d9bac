"""Named settings of how an adaptive model learns its widths (the width-convergence study chose them).

A model section of a configuration may name one with ``preset:``; the
preset's values fill every grid key the section does not set itself, so a
grid can still override any of them. See ``benchmarks/RESULTS.md`` ("Width
convergence") for the evidence behind ``awgnn``, its section 12 for
``marginal``, ``marginal_refit`` and ``gates`` (widths set from the data
against a cost per neuron, not recommended yet: it reports which of its
targets each meets), and ``docs/widths.rst`` for what each key does.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from awgnn.growth.gates import DEFAULT_GATE_SLOPE
from awgnn.growth.marginal import DEFAULT_SETTLE_STEPS
from awgnn.growth.width_control import DEFAULT_NEURON_COST
from awgnn.width.loss import DEFAULT_WIDTH_PRIOR_CENTRE

# The recommended preset's values (benchmarks/width_convergence.py measured them against the others).
AWGNN_INITIAL_WIDTH = 16
AWGNN_WIDTH_PRIOR_CENTRE = DEFAULT_WIDTH_PRIOR_CENTRE
AWGNN_WIDTH_PRIOR_STD = 0.3
AWGNN_RATE_LR = 0.05

PRESETS: Mapping[str, Mapping[str, Any]] = MappingProxyType(
    {
        # The AWN paper's graph setting (Errica et al. 2025): start at 117 neurons (lambda0 = 0.02),
        # sigma_theta = 10, no prior on the widths, the rates train at the weights' learning rate.
        "paper": MappingProxyType(
            {
                "lambda0": 0.02,
                "weight_prior_std": 10.0,
                "rate_prior_mean": None,
                "rate_prior_std": None,
                "width_prior_std": None,
                "rate_lr": None,
            }
        ),
        # awgnn's recommendation: a log-normal width prior (scaled by 1/N like the weight prior) gives the
        # width an equilibrium, and the rates' own, larger learning rate lets narrow and wide starts reach
        # it within a reduced budget.
        "awgnn": MappingProxyType(
            {
                "initial_width": AWGNN_INITIAL_WIDTH,
                "weight_prior_std": 10.0,
                "rate_prior_mean": None,
                "rate_prior_std": None,
                "width_prior_centre": AWGNN_WIDTH_PRIOR_CENTRE,
                "width_prior_std": AWGNN_WIDTH_PRIOR_STD,
                "rate_lr": AWGNN_RATE_LR,
            }
        ),
        # Hidden widths set by the measured value of their last neurons against a cost of alpha nats a parameter
        # divided by N (awgnn.growth.MarginalWidths); the rates do not learn, and training minimises cross-entropy.
        "marginal": MappingProxyType(
            {
                "initial_width": AWGNN_INITIAL_WIDTH,
                "width_control": "marginal",
                "neuron_cost": DEFAULT_NEURON_COST,
                "width_settle_steps": DEFAULT_SETTLE_STEPS,
            }
        ),
        # The same with the next layer refitted before a window is measured and when it is removed
        # (awgnn.growth.RefitMarginalWidths): neurons that only duplicate others are worth nothing, whatever their age.
        "marginal_refit": MappingProxyType(
            {
                "initial_width": AWGNN_INITIAL_WIDTH,
                "width_control": "marginal_refit",
                "neuron_cost": DEFAULT_NEURON_COST,
                "width_settle_steps": DEFAULT_SETTLE_STEPS,
            }
        ),
        # Hidden widths set by hard-concrete gates past a learned cut-off per layer, the expected open gates paying
        # the same cost (awgnn.growth.GatedWidths); the slope makes the gates random over a range of widths a factor of
        # 7 wide.
        "gates": MappingProxyType(
            {
                "initial_width": AWGNN_INITIAL_WIDTH,
                "width_control": "gates",
                "neuron_cost": DEFAULT_NEURON_COST,
                "gate_slope": DEFAULT_GATE_SLOPE,
            }
        ),
    }
)
