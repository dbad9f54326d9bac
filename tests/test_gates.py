"""Widths set by hard-concrete gates past a learned cut-off (awgnn.growth.GatedWidths): the gates' closed forms, the
cut-off's gradient against a brute-force one, the cost's scaling, resizing and folding without changing the evaluated
function, and the harness's width_control: gates."""

import copy
import itertools
import math

import pytest
import torch
from test_marginal_widths import batch_statistics, batches, fixed_model, marginal_config, per_graph
from test_presets import _train_with_preset

import awgnn
from awgnn.growth import GatedWidths
from awgnn.growth.gates import (
    DEFAULT_GATE_SLOPE,
    GATE_STRETCH,
    GATE_TEMPERATURE,
    deterministic_gates,
    gate_log_odds,
    kept_width,
    open_probability,
    random_range,
    sampled_gates,
)
from awgnn.growth.width_control import MIN_WIDTH, parameters_per_neuron
from awgnn.harness.config import parse_config
from awgnn.harness.presets import PRESETS


def gated(model):
    """The GatedWidths whose hooks sit on ``model``'s consumers."""
    (controller,) = {
        hook.func.__self__
        for module in model.modules()
        for hook in module._forward_pre_hooks.values()
        if isinstance(getattr(getattr(hook, "func", None), "__self__", None), GatedWidths)
    }
    return controller


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
    for slope, log_cutoff in itertools.product((8.0, DEFAULT_GATE_SLOPE), (1.1, 2.8, 5.5)):
        kept = kept_width(log_cutoff, slope)
        gates = deterministic_gates(gate_log_odds(torch.tensor(log_cutoff, dtype=torch.float64), kept + 5, slope))
        assert gates[:kept].gt(0).all() and gates[kept:].eq(0).all()


@pytest.mark.parametrize("slope, probability", [(DEFAULT_GATE_SLOPE, 0.01), (8.0, 0.05)])
def test_the_random_range_is_where_a_gate_is_open_and_shut_with_the_probability_named(slope, probability):
    first, last = random_range(slope, probability)
    cutoff = 20.0
    log_cutoff = torch.tensor(math.log(cutoff), dtype=torch.float64)
    # At the range's ends (an index as a real number): P(shut) is the probability named at the first, P(fully open)
    # at the last; estimated from draws.
    log_odds = slope * (log_cutoff - torch.tensor([first * cutoff, last * cutoff], dtype=torch.float64).log())
    draws = torch.stack([sampled_gates(log_odds, torch.Generator().manual_seed(seed)) for seed in range(20000)])
    assert 0 < first < 1 < last
    assert draws[:, 0].eq(0).double().mean().item() == pytest.approx(probability, abs=0.004)
    assert draws[:, 1].eq(1).double().mean().item() == pytest.approx(probability, abs=0.004)
    with pytest.raises(ValueError, match="probability must be below"):
        random_range(slope, 0.3)


def test_a_gated_layer_starts_with_every_neuron_kept_and_remove_folds_its_gates_into_the_next_layer():
    model = fixed_model(width=8)
    hooks = sum(len(module._forward_pre_hooks) for module in model.modules())
    widths = GatedWidths(model, 24)
    for layer in widths.layers:
        assert kept_width(layer.consumer.gate_log_cutoff.item(), DEFAULT_GATE_SLOPE) == 8
    model.eval()
    batch = batches()[0]
    before = per_graph(model, batch)
    widths.remove()
    assert not any(name.endswith("gate_log_cutoff") for name, _ in model.named_parameters())
    assert sum(len(module._forward_pre_hooks) for module in model.modules()) == hooks
    torch.testing.assert_close(per_graph(model, batch), before)
    # A plain fixed-width network now: freeze gives the same outputs.
    frozen = awgnn.freeze(model).eval()
    torch.testing.assert_close(per_graph(frozen, batch), before)


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


def cost_gradients(n_observations):
    """The cut-offs' gradients from the cost alone: every neuron's outgoing weights zero, so the loss gives none."""
    model = fixed_model(width=8)
    widths = GatedWidths(model, n_observations)
    with torch.no_grad():
        for layer in widths.layers:
            layer.consumer.weight.zero_()
    model.train()
    per_graph(model, batches()[0]).mean().backward()
    return widths, torch.stack([p.grad for p in widths.decay_free_parameters()])


def test_the_cost_and_its_gradient_halve_when_the_data_doubles():
    small, gradients = cost_gradients(100)
    large, halved = cost_gradients(200)
    for layer, same in zip(small.layers, large.layers):
        assert small.cost(layer) == pytest.approx(0.003 * parameters_per_neuron(layer) / 100)
        assert large.cost(same) == pytest.approx(small.cost(layer) / 2)
    assert gradients.gt(0).all()  # the cost alone pushes every cut-off down
    torch.testing.assert_close(halved, gradients / 2)


def test_layers_whose_extra_neurons_cannot_lower_the_loss_shrink_to_the_minimum():
    model = fixed_model(width=8)
    widths = GatedWidths(model, 24, alpha=1.0)
    with torch.no_grad():
        for layer in widths.layers:
            layer.consumer.weight.zero_()  # nothing a neuron does reaches the loss
    optimizer = torch.optim.Adam(widths.decay_free_parameters(), lr=0.1)  # the weights stay as they are
    model.train()
    for _, batch in zip(range(60), itertools.cycle(batches())):
        optimizer.zero_grad()
        per_graph(model, batch).mean().backward()
        optimizer.step()
    decisions = widths.update_(batches(), per_graph)
    assert [d.new for d in decisions] == [MIN_WIDTH] * len(widths.layers)
    assert all(d.old == 8 for d in decisions)


def test_an_update_resizes_to_the_kept_width_without_changing_the_evaluated_function():
    model = fixed_model(width=8)
    widths = GatedWidths(model, 24)
    data = batches()
    cutoffs = (math.log(2.2), math.log(3.7), math.log(5.5))  # shrink, keep, grow
    with torch.no_grad():
        for layer, log_cutoff in zip(widths.layers, cutoffs):
            layer.consumer.gate_log_cutoff.fill_(log_cutoff)
    batch_statistics(model)  # evaluation, the norms normalising by the batch: running statistics play no part
    before = torch.cat([per_graph(model, batch) for batch in data])
    decisions = widths.update_(data, per_graph)
    assert [d.new for d in decisions] == [kept_width(c) for c in cutoffs]
    assert [d.old for d in decisions] == [8, 8, 8] and decisions[0].new < 8 < decisions[2].new
    assert list(widths.widths().values()) == [d.new for d in decisions]
    assert [d.value for d in decisions] == pytest.approx([math.exp(c) for c in cutoffs])
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


@pytest.mark.parametrize(
    "arguments, message",
    [({"slope": 0.0}, "slope"), ({"alpha": -1.0}, "alpha"), ({"measured_examples": 0}, "measured_examples")],
)
def test_bad_arguments_are_named(arguments, message):
    with pytest.raises(ValueError, match=message):
        GatedWidths(fixed_model(width=8), 24, **arguments)


def test_one_set_of_gates_a_model():
    model = fixed_model(width=8)
    GatedWidths(model, 24)
    with pytest.raises(ValueError, match="already has gates"):
        GatedWidths(model, 24)


# -- under the harness -----------------------------------------------------------------------------


def test_preset_gates_reaches_the_controller_and_an_optimizer_group_without_decay(data_root):
    hook, record, n = _train_with_preset("gates", data_root, epochs=3)
    widths = gated(hook.model)
    assert widths.slope == PRESETS["gates"]["gate_slope"] and widths.alpha == PRESETS["gates"]["neuron_cost"]
    assert hook.objective is None  # cross-entropy
    *_, cutoffs = hook.optimizer.param_groups
    assert cutoffs["weight_decay"] == 0.0
    assert [id(p) for p in cutoffs["params"]] == [id(p) for p in widths.decay_free_parameters()]
    assert all(
        id(p) not in {id(q) for q in cutoffs["params"]} for g in hook.optimizer.param_groups[:-1] for p in g["params"]
    )
    layers = {layer.name: layer for layer in widths.layers}
    for epoch in record["history"][1:]:
        for layer, decision in epoch["width_control"].items():
            assert decision["cost"] * n / parameters_per_neuron(layers[layer]) == pytest.approx(0.003)


def test_width_control_gates_parses_with_its_keys():
    config = parse_config(marginal_config({"width_control": "gates", "gate_slope": 5.0}), source="exp.yaml")
    (point,) = config.models[0].points()
    assert point["gate_slope"] == 5.0
