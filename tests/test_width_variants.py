"""The measured-width study's variants that live in the benchmarks (benchmarks/width_variants.py): TINY's new neurons,
the screened gates on the library's."""

import sys
from pathlib import Path

import pytest
import torch
from test_marginal_widths import batches, fixed_model, per_graph

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from width_variants import (  # noqa: E402
    SCREENED_GATE_SLOPE,
    BroadGatedWidths,
    RefitGatedWidths,
    RefitTinyWidths,
    StudyGatedWidths,
    TinyGrowthWidths,
    controller,
)

from awgnn.growth import GatedWidths, MarginalWidths, RefitMarginalWidths  # noqa: E402
from awgnn.growth.gates import kept_width  # noqa: E402
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


# -- the screened gates, on the library's --------------------------------------------------------


@pytest.mark.parametrize("variant, slope", [(StudyGatedWidths, SCREENED_GATE_SLOPE), (BroadGatedWidths, 3.0)])
def test_the_studys_gates_are_the_librarys_at_their_slope_under_the_measured_widths_keys(variant, slope):
    model = fixed_model(width=8)
    widths = variant(model, 24, window=0.25, settle_steps=50)
    assert isinstance(widths, GatedWidths) and widths.slope == slope
    library = GatedWidths(fixed_model(width=8), 24, slope=slope)
    assert widths.cost(widths.layers[0]) == library.cost(library.layers[0])
    assert widths.cutoffs() == library.cutoffs()


def test_gates_refit_drops_a_worthless_window_with_the_cutoff_following_unless_the_layer_just_grew():
    model = fixed_model(width=8)
    widths = RefitGatedWidths(model, 24, window=0.25, settle_steps=50)
    silent, grown = widths.layers[0], widths.layers[1]
    with torch.no_grad():
        silent.consumer.weight[:, -2:] = 0  # its last window sends nothing on: worth 0 < its cost
        grown.consumer.weight[:, -2:] = 0
    widths._judged_after[1] = widths.steps + 50  # as if it had just grown
    decisions = widths.update_(batches(), per_graph)
    assert (decisions[0].old, decisions[0].new) == (8, 6) and silent.size == 6
    assert kept_width(silent.consumer.gate_log_cutoff.item(), SCREENED_GATE_SLOPE) == 6
    assert (
        grown.size == kept_width(grown.consumer.gate_log_cutoff.item(), SCREENED_GATE_SLOPE) == 8
    )  # followed its gates only


def test_gates_count_training_steps_for_the_settling():
    model = fixed_model(width=8)
    widths = RefitGatedWidths(model, 24, window=0.25, settle_steps=50)
    model.train()
    for batch in batches()[:2]:
        per_graph(model, batch)
    model.eval()
    per_graph(model, batches()[0])
    assert widths.steps == 2


def test_the_librarys_gates_reproduce_a_committed_study_record(data_root):
    """The study's gates_broad runs were made by the benchmark's own gates, before they moved into the library."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import json

    import width_equilibrium

    records = Path(__file__).resolve().parents[1] / "benchmarks/output/width_equilibrium/width_equilibrium.jsonl"
    run = width_equilibrium.Run("starts", "gates_broad-0.003-50", "MUTAG", 8, 2, 1.0, 100, str(data_root))
    (recorded,) = [r for r in map(json.loads, records.read_text().splitlines()) if r["key"] == run.key]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the study ran: reductions in one thread
    try:
        result = width_equilibrium.train(run)
    finally:
        torch.set_num_threads(threads)
    assert result["width_per_epoch"] == recorded["width_per_epoch"]
    assert result["val_accuracy"] == recorded["val_accuracy"]
