"""Widths set by the measured value of neurons against their cost (awgnn.growth.MarginalWidths)."""

import copy
import math

import pytest
import torch
import torch.nn.functional as F
from graph_helpers import random_graphs
from test_bench import TINY, bench, run_records, write_config
from torch.nn.modules.batchnorm import _BatchNorm
from torch_geometric.loader import DataLoader

from awgnn.growth import (
    MarginalWidths,
    RefitMarginalWidths,
    fix_hidden_widths_,
    growable_layers,
    neuron_cost,
    refitted_consumer,
    reinitialise_,
)
from awgnn.growth.marginal import window_size
from awgnn.growth.width_control import MIN_WIDTH, parameters_per_neuron
from awgnn.harness.config import ConfigError, parse_config
from awgnn.models import AdaptiveFairGIN, AdaptiveGINClassifier

FEATURES, CLASSES = 5, 3


def fixed_model(cls=AdaptiveGINClassifier, width=8, **arguments):
    torch.manual_seed(0)
    model = cls(FEATURES, CLASSES, 3, 8, initial_width=width, max_width=64, **arguments)
    fix_hidden_widths_(model)
    reinitialise_(model)
    return model


def batches(count=24, size=8, seed=0):
    return list(DataLoader(random_graphs(count, seed, features=FEATURES, classes=CLASSES), batch_size=size))


def per_graph(model, batch):
    logits = model(batch.x, batch.edge_index, batch.batch, batch.num_graphs)
    return F.cross_entropy(logits, batch.y, reduction="none")


def batch_statistics(model):
    """Evaluation mode with batch norms normalising by the batch, running statistics frozen (as measured)."""
    model.eval()
    for module in model.modules():
        if isinstance(module, _BatchNorm):
            module.train()
            module.momentum = 0.0
    return model


# -- the cost --------------------------------------------------------------------------------------


def test_the_cost_of_a_neuron_is_alpha_times_its_parameters_over_n_and_halves_when_n_doubles():
    assert neuron_cost(130, 150, 0.01) == pytest.approx(0.01 * 130 / 150)
    assert neuron_cost(130, 300, 0.01) == pytest.approx(neuron_cost(130, 150, 0.01) / 2)
    model = fixed_model()
    small, large = MarginalWidths(model, 100), MarginalWidths(fixed_model(), 200)
    for a, b in zip(small.layers, large.layers):
        assert large.cost(b) == pytest.approx(small.cost(a) / 2)


def test_a_neuron_counts_its_row_bias_column_and_norm_entries():
    layers = growable_layers(fixed_model())
    assert parameters_per_neuron(layers[0]) == FEATURES + 1 + 8  # block 0: input -> D -> embedding 8
    assert parameters_per_neuron(layers[1]) == 8 + 1 + 8
    fair = growable_layers(fixed_model(AdaptiveFairGIN))
    assert parameters_per_neuron(fair[1]) == 8 + 1 + 8 + 2  # and the hidden batch norm's weight and bias


@pytest.mark.parametrize(
    "arguments, message",
    [
        ({"n_observations": 0}, "n_observations must be"),
        ({"alpha": 0.0}, "alpha must be"),
        ({"window": 1.5}, r"window must be a number in \(0, 1\]"),
        ({"settle_steps": -1}, "settle_steps must be"),
        ({"measured_examples": 0}, "measured_examples must be"),
    ],
)
def test_bad_arguments_are_named(arguments, message):
    with pytest.raises(ValueError, match=message):
        MarginalWidths(fixed_model(), **{"n_observations": 10, **arguments})


def test_learned_widths_are_refused():
    with pytest.raises(ValueError, match="'input_block.0' is learned; call AdaptiveWidth.fix_"):
        MarginalWidths(AdaptiveGINClassifier(FEATURES, CLASSES, 2, 8, initial_width=8), 10)
    learned_embeddings = AdaptiveGINClassifier(FEATURES, CLASSES, 2, None, initial_width=8)
    fix_hidden_widths_(learned_embeddings)
    with pytest.raises(ValueError, match="'input_block.4' is learned by its rate; MarginalWidths sets fixed"):
        MarginalWidths(learned_embeddings, 10)


# -- the measurement against brute force ---------------------------------------------------------


def test_measured_increases_equal_the_losses_of_physically_truncated_copies():
    model = fixed_model(width=9)
    reference = copy.deepcopy(model)
    widths = MarginalWidths(model, 24, measured_examples=1000)
    data = batches()
    increases, used = widths.measure(data, per_graph)
    assert len(used) == len(data)
    for index, layer in enumerate(widths.layers):
        window = window_size(layer.size, widths.window)
        truncated = copy.deepcopy(reference)
        growable_layers(truncated)[index].width.resize_(layer.size - window)
        base, cut = batch_statistics(copy.deepcopy(reference)), batch_statistics(truncated)
        with torch.no_grad():
            expected = torch.cat([per_graph(cut, b) - per_graph(base, b) for b in data])
        torch.testing.assert_close(increases[index], expected)


def test_measurement_leaves_the_model_its_mode_and_running_statistics():
    model = fixed_model(AdaptiveFairGIN)
    widths = MarginalWidths(model, 24)
    model.train()
    before = copy.deepcopy(model.state_dict())
    widths.measure(batches(), per_graph)
    assert model.training
    for key, value in model.state_dict().items():
        if isinstance(value, torch.Tensor):
            torch.testing.assert_close(value, before[key], msg=key)
    assert all(layer.width.cutoff is None for layer in widths.layers)


def test_a_measurement_stops_after_the_examples_it_needs():
    widths = MarginalWidths(fixed_model(), 24, measured_examples=10)
    increases, used = widths.measure(batches(size=8), per_graph)
    assert len(used) == 2 and all(len(values) == 16 for values in increases)


def test_a_recalibration_averages_the_norms_over_the_examples_a_measurement_uses():
    model = fixed_model(cls=AdaptiveFairGIN)
    widths = MarginalWidths(model, 24, measured_examples=10)
    seen = []

    def counting(model, batch):
        seen.append(batch.num_graphs)
        return per_graph(model, batch)

    widths.recalibrate_norms(batches(size=8), counting)
    assert seen == [8, 8]  # the first two of the three batches: 10 examples are reached in the second
    statistics = [(m.running_mean.clone(), m.running_var.clone()) for m in model.modules() if isinstance(m, _BatchNorm)]
    assert statistics
    widths.recalibrate_norms(batches(size=8)[:2], per_graph)
    for (mean, variance), norm in zip(statistics, (m for m in model.modules() if isinstance(m, _BatchNorm))):
        torch.testing.assert_close(norm.running_mean, mean)
        torch.testing.assert_close(norm.running_var, variance)


# -- the rule --------------------------------------------------------------------------------------


def test_the_rule_grows_only_beyond_the_cost_and_the_error_and_shrinks_below_the_cost():
    widths = MarginalWidths(fixed_model(width=8), 50, alpha=0.01)
    layer = widths.layers[1]
    window = window_size(8, widths.window)
    cost = window * widths.cost(layer)
    zero = torch.zeros(10)

    def decision(values):
        return widths.decide([zero, values, zero])[1]

    spread = torch.tensor([-1.0, 1.0] * 5)  # mean 0, standard error 1/3 * sqrt(10/9)
    error = spread.std().item() / math.sqrt(10)
    assert decision(2 * cost + spread * cost / error / 2).new == 8 + window  # mean - error = 1.5 cost
    assert decision(1.2 * cost + spread * cost / error / 2).new == 8  # mean - error < cost <= mean
    assert decision(torch.full((10,), 0.5 * cost)).new == 8 - window
    record = decision(torch.full((10,), 0.5 * cost))
    assert record.value == pytest.approx(0.5 * cost) and record.cost == pytest.approx(cost)


def test_a_layer_whose_neurons_cannot_lower_the_loss_shrinks_to_its_minimum():
    model = fixed_model(width=24)
    widths = MarginalWidths(model, 24, alpha=1e-6)
    useless = widths.layers[1]
    with torch.no_grad():
        useless.consumer.weight.zero_()  # its neurons reach nothing
    for _ in range(20):
        widths.update_(batches(), per_graph)
    assert useless.size == MIN_WIDTH


def test_a_growth_appends_neurons_that_change_nothing_then_settles():
    model = fixed_model(width=8)
    widths = MarginalWidths(model, 24, alpha=1e-9, settle_steps=3)
    data = batches()
    measured = batch_statistics(copy.deepcopy(model))
    with torch.no_grad():
        before = [per_graph(measured, b) for b in data]
    decisions = widths.update_(data, per_graph)
    assert any(d.new > d.old for d in decisions)  # the function check below has something to check
    assert all(d.new == 8 + window_size(8, widths.window) for d in decisions if d.new > d.old)
    grown = batch_statistics(copy.deepcopy(model))
    grown._forward_pre_hooks.clear()
    with torch.no_grad():
        for b, old in zip(data, before):
            torch.testing.assert_close(per_graph(grown, b), old)
    assert all(d.settling for d in widths.decide(widths.measure(data, per_graph)[0]) if d.old > 8)
    model.train()
    for b in data[:3]:
        model(b.x, b.edge_index, b.batch, b.num_graphs)
    assert not any(d.settling for d in widths.decide(widths.measure(data, per_graph)[0]))


def test_a_shrink_keeps_the_first_neurons_and_the_optimizer_follows():
    model = fixed_model(width=12)
    widths = MarginalWidths(model, 24, alpha=10.0)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    model.train()
    b = batches()[0]
    per_graph(model, b).mean().backward()
    optimizer.step()
    rows = [layer.linear.weight.detach().clone() for layer in widths.layers]
    widths.update_(batches(), per_graph, optimizer)
    for layer, old in zip(widths.layers, rows):
        assert layer.size == 12 - window_size(12, widths.window)
        torch.testing.assert_close(layer.linear.weight.detach(), old[: layer.size])
        assert optimizer.state[layer.linear.weight]["exp_avg"].shape == layer.linear.weight.shape
    per_graph(model, b).mean().backward()
    optimizer.step()  # the optimizer's state matches the new shapes


# -- refitted windows ------------------------------------------------------------------------------


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


def test_the_refit_names_a_window_it_cannot_take():
    with pytest.raises(ValueError, match=r"hidden must have shape \(rows, 4\) and window be below its width"):
        refitted_consumer(torch.randn(10, 4), torch.randn(2, 4), torch.randn(2), 4)
    with pytest.raises(ValueError, match="window"):
        refitted_consumer(torch.randn(10, 4), torch.randn(2, 4), torch.randn(2), 0)


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


def test_a_window_that_duplicates_other_neurons_is_worth_nothing_after_the_refit_and_its_removal_keeps_the_function():
    model = fixed_model(width=12)
    widths = RefitMarginalWidths(model, 24, alpha=1e-3)
    duplicated_tail(model, widths)
    data = batches()
    plain, _ = MarginalWidths.measure(widths, data, per_graph)
    increases, _ = widths.measure(data, per_graph)
    # Each graph's loss moves by less than 1e-5 with the refit; without it, by more than 1e-2 on average.
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


# -- training-time nested dropout ------------------------------------------------------------------


def test_half_the_training_steps_drop_the_last_window_of_one_layer_without_moving_running_statistics():
    model = fixed_model(width=12)
    widths = MarginalWidths(model, 24)
    seen = []

    def look(module, args):
        cut = [(i, layer.width.cutoff) for i, layer in enumerate(widths.layers) if layer.width.cutoff is not None]
        seen.append(cut)
        seen_momenta.append({norm.momentum for norm in widths.norms})

    seen_momenta = []
    model.register_forward_pre_hook(look)
    model.train()
    b = batches()[0]
    for _ in range(400):
        model(b.x, b.edge_index, b.batch, b.num_graphs)
    dropped = [cut for cut in seen if cut]
    assert 0.4 < len(dropped) / len(seen) < 0.6
    assert all(len(cut) == 1 and cut[0][1] == 12 - window_size(12, widths.window) for cut in dropped)
    assert {i for cut in dropped for i, _ in cut} == {0, 1, 2}
    assert all(m == {0.0} for cut, m in zip(seen, seen_momenta) if cut)
    assert all(m == {0.1} for cut, m in zip(seen, seen_momenta) if not cut)
    assert widths.steps == 400
    model.eval()
    model(b.x, b.edge_index, b.batch, b.num_graphs)
    assert not seen[-1] and widths.steps == 400  # evaluation runs every layer at its width


def test_importances_of_a_cut_fixed_width_are_ones_then_zeros():
    (layer, *_) = growable_layers(fixed_model(width=6))
    layer.width.cutoff = 4
    assert layer.width.importances().tolist() == [1, 1, 1, 1, 0, 0]
    layer.width.cutoff = None
    assert layer.width.importances().tolist() == [1] * 6


# -- under the harness -----------------------------------------------------------------------------


def marginal_config(grid):
    return {**TINY, "models": {"m": {"class": "AdaptiveGINClassifier", "grid": grid}}}


@pytest.mark.parametrize(
    "grid, message",
    [
        ({"width_control": "measured"}, r"width_control: expected 'marginal' .*'marginal_refit'"),
        ({"width_control": "marginal", "loss": "elbo"}, r"loss: expected 'cross_entropy' with width_control"),
        ({"width_control": "marginal", "embedding_channels": None}, r"embedding_channels: expected an integer"),
        (
            {"neuron_cost": 0.01},
            r"neuron_cost: expected no neuron_cost without width_control 'marginal' or 'marginal_refit' or 'gates' "
            r"\(width_control is None\)",
        ),
        (
            {"width_control": "gates", "width_window": 0.5},
            r"width_window: expected no width_window without width_control 'marginal' or 'marginal_refit' "
            r"\(width_control is 'gates'\)",
        ),
        (
            {"width_control": "marginal", "gate_slope": 3},
            r"gate_slope: expected no gate_slope without width_control 'gates' \(width_control is 'marginal'\)",
        ),
        ({"width_control": "gates", "gate_slope": 0}, r"gate_slope: expected a number > 0"),
        ({"width_control": "marginal", "neuron_cost": -1}, r"neuron_cost: expected a number > 0"),
        ({"width_control": "marginal", "width_window": 0}, r"width_window: expected a number in \(0, 1\]"),
    ],
)
def test_width_control_keys_are_checked(grid, message):
    with pytest.raises(ConfigError, match=message):
        parse_config(marginal_config(grid), source="exp.yaml")


def test_width_control_needs_a_class_with_hidden_mlps():
    content = {**TINY, "models": {"m": {"class": "AdaptiveGCNClassifier", "grid": {"width_control": "marginal"}}}}
    with pytest.raises(ConfigError, match="AdaptiveGCNClassifier has no hidden MLP widths to set"):
        parse_config(content)


def test_a_bench_run_with_width_control_records_its_decisions(tmp_path, data_root, capsys):
    path = write_config(tmp_path, marginal_config({"width_control": "marginal", "initial_width": 8, "num_layers": 2}))
    assert bench(path, data_root, tmp_path / "results") == 0
    records = run_records(tmp_path / "results")
    assert records
    for record in records.values():
        history = record["history"]
        assert "width_control" not in history[0]
        for entry in history[1:]:
            assert set(entry["width_control"]) == {"input_block.0", "blocks.0.mlp.0"}
            for name, decision in entry["width_control"].items():
                assert entry["widths"][{"input_block.0": "block0", "blocks.0.mlp.0": "block1"}[name]] == decision["new"]
