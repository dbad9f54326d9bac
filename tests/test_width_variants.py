"""The measured-width study's variants that live in the benchmarks (benchmarks/width_variants.py): TINY's new neurons,
hard-concrete gates past a learned cut-off."""

import copy
import itertools
import math
import sys
from pathlib import Path

import pytest
import torch
from test_marginal_widths import batch_statistics, batches, fixed_model, per_graph

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from width_variants import (  # noqa: E402
    BROAD_GATE_SLOPE,
    GATE_SLOPE,
    GATE_STRETCH,
    GATE_TEMPERATURE,
    BroadGatedWidths,
    GatedWidths,
    RefitGatedWidths,
    RefitTinyWidths,
    TinyGrowthWidths,
    controller,
    deterministic_gates,
    gate_log_odds,
    kept_width,
    open_probability,
    sampled_gates,
)

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


# -- hard-concrete gates --------------------------------------------------------------------------


def test_the_gates_closed_forms():
    log_odds = torch.linspace(-6, 6, 25, dtype=torch.float64)
    low, high = GATE_STRETCH
    # P(z != 0) = P(stretched concrete > 0) = P(concrete > -low / (high - low)), the concrete being logistic in logit.
    threshold = math.log(-low / high)
    torch.testing.assert_close(open_probability(log_odds), torch.sigmoid(log_odds - GATE_TEMPERATURE * threshold))
    draws = torch.stack([sampled_gates(log_odds, torch.Generator().manual_seed(seed)) for seed in range(4000)])
    torch.testing.assert_close(draws.gt(0).double().mean(0), open_probability(log_odds), atol=0.03, rtol=0)
    assert draws.min() == 0 and draws.max() == 1
    # The deterministic gate is 0 from the kept width on, and open before it, whatever the slope.
    for slope, log_cutoff in itertools.product((GATE_SLOPE, BROAD_GATE_SLOPE), (1.1, 2.8, 5.5)):
        kept = kept_width(log_cutoff, slope)
        gates = deterministic_gates(gate_log_odds(torch.tensor(log_cutoff, dtype=torch.float64), kept + 5, slope))
        assert gates[:kept].gt(0).all() and gates[kept:].eq(0).all()


@pytest.mark.parametrize("variant", [GatedWidths, BroadGatedWidths])
def test_a_gated_layer_starts_with_every_neuron_kept_and_gated_in_evaluation_only_by_its_deterministic_gates(variant):
    model = fixed_model(width=8)
    widths = variant(model, 24)
    for layer in widths.layers:
        assert kept_width(layer.consumer.gate_log_cutoff.item(), variant.slope) == 8
    model.eval()
    batch = batches()[0]
    gated = per_graph(model, batch)
    widths.remove()
    for layer in widths.layers:  # the same gates folded into the consumers' columns
        log_odds = gate_log_odds(layer.consumer.gate_log_cutoff.detach(), layer.size, variant.slope)
        with torch.no_grad():
            layer.consumer.weight.mul_(deterministic_gates(log_odds))
    torch.testing.assert_close(per_graph(model, batch), gated)


def test_the_cutoffs_gradient_is_the_losses_plus_the_cost_of_the_expected_open_gates():
    model = fixed_model(width=8)
    widths = GatedWidths(model, 24, alpha=0.5)
    model.train()
    batch = batches()[0]
    generator_state = widths.generator.get_state()
    per_graph(model, batch).mean().backward()
    with_cost = [layer.consumer.gate_log_cutoff.grad.clone() for layer in widths.layers]
    # Brute force: the same draws, the loss plus c * sum P(z != 0) written out, differentiated by autograd.
    model.zero_grad()
    widths.generator.set_state(generator_state)
    for layer in widths.layers:
        layer.consumer._forward_pre_hooks.clear()
    draws = {}

    def gate(module, args, layer):
        log_odds = gate_log_odds(module.gate_log_cutoff, args[0].shape[-1])
        draws[layer.name] = log_odds
        return (args[0] * sampled_gates(log_odds, widths.generator),)

    for layer in widths.layers:
        layer.consumer.register_forward_pre_hook(lambda module, args, layer=layer: gate(module, args, layer))
    loss = per_graph(model, batch).mean()
    loss = loss + sum(widths.cost(layer) * open_probability(draws[layer.name]).sum() for layer in widths.layers)
    loss.backward()
    for layer, gradient in zip(widths.layers, with_cost):
        torch.testing.assert_close(gradient, layer.consumer.gate_log_cutoff.grad)
        assert gradient != 0


def test_an_update_resizes_to_the_kept_width_without_changing_the_evaluated_function():
    model = fixed_model(width=8)
    widths = GatedWidths(model, 24)
    data = batches()
    cutoffs = (math.log(4.2), math.log(8.6), math.log(13.0))  # shrink, keep, grow
    with torch.no_grad():
        for layer, log_cutoff in zip(widths.layers, cutoffs):
            layer.consumer.gate_log_cutoff.fill_(log_cutoff)
    batch_statistics(model)  # evaluation, the norms normalising by the batch: running statistics play no part
    before = torch.cat([per_graph(model, batch) for batch in data])
    decisions = widths.update_(data, per_graph)
    assert [d.new for d in decisions] == [kept_width(c) for c in cutoffs]
    assert [d.old for d in decisions] == [8, 8, 8] and decisions[0].new < 8 < decisions[2].new
    assert list(widths.widths().values()) == [d.new for d in decisions]
    # Neurons past the kept width had shut gates, and new ones have zero outgoing weights.
    batch_statistics(model)
    torch.testing.assert_close(torch.cat([per_graph(model, batch) for batch in data]), before)


def test_a_copy_of_a_gated_model_carries_its_own_cutoffs():
    model = fixed_model(width=8)
    GatedWidths(model, 24)
    clone = copy.deepcopy(model)
    with torch.no_grad():
        for parameter in (p for name, p in clone.named_parameters() if name.endswith("gate_log_cutoff")):
            parameter.fill_(math.log(1.5))  # every gate shut but the first
    model.eval(), clone.eval()
    batch = batches()[0]
    assert not torch.allclose(per_graph(model, batch), per_graph(clone, batch))


def test_gates_refit_drops_a_worthless_window_with_the_cutoff_following_unless_the_layer_just_grew():
    model = fixed_model(width=8)
    widths = RefitGatedWidths(model, 24, settle_steps=50)
    silent, grown = widths.layers[0], widths.layers[1]
    with torch.no_grad():
        silent.consumer.weight[:, -2:] = 0  # its last window sends nothing on: worth 0 < its cost
        grown.consumer.weight[:, -2:] = 0
    widths._judged_after[1] = widths.steps + 50  # as if it had just grown
    decisions = widths.update_(batches(), per_graph)
    assert (decisions[0].old, decisions[0].new) == (8, 6) and silent.size == 6
    assert kept_width(silent.consumer.gate_log_cutoff.item()) == 6
    assert grown.size == kept_width(grown.consumer.gate_log_cutoff.item()) == 8  # followed its gates only


def test_gates_count_training_steps_for_the_settling():
    model = fixed_model(width=8)
    widths = RefitGatedWidths(model, 24)
    model.train()
    for batch in batches()[:2]:
        per_graph(model, batch)
    model.eval()
    per_graph(model, batches()[0])
    assert widths.steps == 2
