"""The measured-width study's two variants (benchmarks/width_variants.py): a refitted consumer, TINY's new neurons."""
import copy
import sys
from pathlib import Path

import pytest
import torch
from test_marginal_widths import batch_statistics, batches, fixed_model, per_graph

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from width_variants import RefitTinyWidths, RefitWidths, TinyGrowthWidths, refitted_consumer  # noqa: E402

from awgnn.growth import MarginalWidths  # noqa: E402
from awgnn.growth.marginal import window_size  # noqa: E402


def test_the_refit_reproduces_the_consumer_exactly_when_the_window_is_a_linear_map_of_the_others():
    torch.manual_seed(0)
    head = torch.randn(200, 5)
    tail = head @ torch.randn(5, 3) + torch.tensor([0.5, -1.0, 2.0])
    hidden = torch.cat([head, tail], 1)
    weight, bias = torch.randn(4, 8), torch.randn(4)
    new_weight, new_bias = refitted_consumer(hidden, weight, bias, 3)
    torch.testing.assert_close(head @ new_weight.T + new_bias, hidden @ weight.T + bias, atol=1e-4, rtol=1e-4)


def test_the_refit_is_least_squares_against_a_brute_force_solve():
    torch.manual_seed(1)
    hidden, weight, bias = torch.randn(50, 6).double(), torch.randn(2, 6).double(), torch.randn(2).double()
    new_weight, new_bias = refitted_consumer(hidden, weight, bias, 2)
    design = torch.cat([hidden[:, :4], torch.ones(50, 1, dtype=torch.float64)], 1)
    target = hidden @ weight.T + bias - hidden[:, :4] @ weight[:, :4].T - bias  # what the window sent on
    solution = torch.linalg.lstsq(design, target).solution
    torch.testing.assert_close(new_weight, weight[:, :4] + solution[:-1].T, atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(new_bias, bias + solution[-1], atol=1e-6, rtol=1e-6)


def duplicated_tail(model, widths):
    """Make every layer's last window copies of its first neurons (rows, biases, norm entries): the window then
    computes what other neurons compute."""
    with torch.no_grad():
        for layer in widths.layers:
            window = window_size(layer.size, widths.window)
            layer.linear.weight[-window:] = layer.linear.weight[:window]
            layer.linear.bias[-window:] = layer.linear.bias[:window]
            if layer.norm is not None:
                for key in ("weight", "bias", "running_mean", "running_var"):
                    getattr(layer.norm, key)[-window:] = getattr(layer.norm, key)[:window]


@pytest.mark.parametrize("variant", [RefitWidths, RefitTinyWidths])
def test_a_window_that_duplicates_other_neurons_is_worth_nothing_after_the_refit_and_its_removal_keeps_the_function(
        variant):
    model = fixed_model(width=12)
    widths = variant(model, 24, alpha=1e-3)
    duplicated_tail(model, widths)
    data = batches()
    plain, _ = MarginalWidths.measure(widths, data, per_graph)
    increases, _ = widths.measure(data, per_graph)
    # Each graph's loss moves by less than 1e-5 with the refit; without it the same windows move it by 1e-2 or more.
    assert all(float(values.abs().max()) < 1e-5 for values in increases)
    assert all(float(values.abs().mean()) > 1e-2 for values in plain)
    with torch.no_grad():
        before = [per_graph(batch_statistics(copy.deepcopy(model)), b) for b in data]
    decisions = widths.update_(data, per_graph)
    assert all(d.new == 12 - window_size(12, widths.window) for d in decisions)
    shrunk = batch_statistics(copy.deepcopy(model))
    shrunk._forward_pre_hooks.clear()
    with torch.no_grad():
        for b, old in zip(data, before):
            torch.testing.assert_close(per_graph(shrunk, b), old, atol=1e-4, rtol=1e-4)


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
