"""The PyG drop-ins start like the PyG models they replace: the same initialisations as PyG's layers (equal draws for
fixed inputs, the same variance over the effective fan-in for importance-scaled ones), and logits of the same scale."""

import math
import statistics

import pytest
import torch
from torch import nn
from torch_geometric.nn import GCN, GIN, global_add_pool
from torch_geometric.nn.inits import glorot

from awgnn import AdaptiveLinear, AdaptiveWidth
from awgnn.nn.models import AdaptiveGCN, AdaptiveGIN
from awgnn.nn.models.basic_gnn import ConcatLinear


def test_pytorch_init_of_a_fixed_input_draws_what_torch_linear_draws():
    torch.manual_seed(3)
    reference = nn.Linear(7, 5)
    torch.manual_seed(3)
    ours = AdaptiveLinear(7, 5, weight_init="pytorch")
    torch.testing.assert_close(ours.weight, reference.weight)
    torch.testing.assert_close(ours.bias, reference.bias)


def test_glorot_init_of_a_fixed_input_draws_what_pyg_glorot_draws():
    torch.manual_seed(3)
    reference = torch.empty(5, 7)
    glorot(reference)
    torch.manual_seed(3)
    ours = AdaptiveLinear(7, 5, bias=False, weight_init="glorot")
    torch.testing.assert_close(ours.weight, reference)


@pytest.mark.parametrize("weight_init", ["pytorch", "glorot"])
def test_an_importance_scaled_input_passes_on_the_variance_a_pyg_layer_of_its_width_does(weight_init):
    width = AdaptiveWidth(initial_width=40)
    importances = width.importances().detach()
    fan = float(importances.square().sum())
    assert fan < 40  # importances below 1: fewer effective inputs than columns
    layer = AdaptiveLinear(width, 300, weight_init=weight_init)
    assert layer.effective_fan_in() == pytest.approx(fan)
    pyg = 1 / (3 * 40) if weight_init == "pytorch" else 2 / (40 + 300)  # PyG's weight variance (U(+-a): a^2 / 3)
    assert layer.weight.var().item() == pytest.approx(pyg * 40 / fan, rel=0.05)
    # Unit inputs scaled by the importances give the pre-activation variance of unit inputs into PyG's layer.
    inputs = torch.randn(4000, 40)
    assert (inputs * importances @ layer.weight.T).var().item() == pytest.approx(40 * pyg, rel=0.1)


def test_a_concatenated_readout_draws_like_one_linear_over_the_concatenation():
    widths = [AdaptiveWidth(initial_width=30), AdaptiveWidth(initial_width=50)]
    readout = ConcatLinear(widths, 200)
    fan = sum(float(w.importances().square().sum()) for w in widths)
    weights = torch.cat([block.weight for block in readout.blocks], 1)
    assert weights.abs().max().item() <= 1 / math.sqrt(fan)
    assert weights.var().item() == pytest.approx(1 / (3 * fan), rel=0.05)
    assert readout.blocks[0].bias.abs().max().item() <= 1 / math.sqrt(80)


def _logit_scale(make, seeds=10):
    """Median over seeds of the standard deviation of the summed-pooled logits of untrained models on one batch."""
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(400, 6, generator=generator)
    edge_index = torch.randint(0, 400, (2, 1600), generator=generator)
    batch = torch.arange(400) // 20
    scales = []
    for seed in range(seeds):
        torch.manual_seed(seed)
        with torch.no_grad():
            scales.append(global_add_pool(make().eval()(x, edge_index), batch).std().item())
    return statistics.median(scales)


# GIN with jk="cat": without a readout PyG's last GIN MLP is [D, 2, 2], ours learns its hidden width, and the
# logits' scale is then the last bias's; with it both end in the same readout of the same layers.
@pytest.mark.parametrize(
    "pyg, ours, options",
    [(GIN, AdaptiveGIN, {"num_layers": 5, "jk": "cat"}), (GCN, AdaptiveGCN, {"num_layers": 2})],
    ids=["GIN", "GCN"],
)
@pytest.mark.parametrize("start", [8, 256])
def test_untrained_logits_have_the_scale_of_the_pyg_model_of_the_starting_width(pyg, ours, options, start):
    reference = _logit_scale(lambda: pyg(6, start, out_channels=2, **options))
    learned = _logit_scale(lambda: ours(6, None, out_channels=2, initial_width=start, **options))
    assert reference / 2 < learned < reference * 2
