"""The measured-width study's variants that live in the benchmarks (benchmarks/width_variants.py): TINY's new neurons."""
import sys
from pathlib import Path

import pytest
import torch
from test_marginal_widths import batches, fixed_model, per_graph

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from width_variants import RefitTinyWidths, TinyGrowthWidths, controller  # noqa: E402

from awgnn.growth import MarginalWidths, RefitMarginalWidths  # noqa: E402
from awgnn.harness import train as harness_train  # noqa: E402


@pytest.mark.parametrize("variant", [TinyGrowthWidths, RefitTinyWidths])
def test_a_tiny_growth_adds_neurons_with_outgoing_weights_and_keeps_the_old_ones(variant):
    model = fixed_model(width=8)
    widths = variant(model, 24)
    widths.measure(batches(), per_graph)  # the graphs a growth fits its neurons on
    for layer in widths.layers:
        rows, columns = layer.linear.weight.detach().clone(), layer.consumer.weight.detach().clone()
        widths._grow(layer, 3, None, "carry")
        assert layer.size == 11
        torch.testing.assert_close(layer.linear.weight[:8], rows)
        torch.testing.assert_close(layer.consumer.weight[:, :8], columns)
        assert layer.consumer.weight[:, 8:].abs().sum(0).gt(0).any()  # TINY's fan-outs, not silent zeros


def test_a_setting_hands_the_harness_its_variant_for_width_control_marginal_and_only_inside():
    with controller("refit_tiny-0.003-50"):
        assert harness_train.WIDTH_CONTROLLERS["marginal"] is RefitTinyWidths
        assert harness_train.WIDTH_CONTROLLERS["marginal_refit"] is RefitMarginalWidths
    with controller("refit-0.003-50"):
        assert harness_train.WIDTH_CONTROLLERS["marginal"] is RefitMarginalWidths
    with controller("marginal-0.003-50"):
        assert harness_train.WIDTH_CONTROLLERS["marginal"] is MarginalWidths
    assert harness_train.WIDTH_CONTROLLERS["marginal"] is MarginalWidths
