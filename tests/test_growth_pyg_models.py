"""Growth baselines on PyG-style models: the AdaptiveGINMLP hidden layers of awgnn.nn.models.AdaptiveGIN."""

import copy

import pytest
import torch
import torch.nn.functional as F
from graph_helpers import random_graphs
from torch import nn
from torch_geometric.loader import DataLoader
from torch_geometric.nn import GINConv, global_mean_pool

from awgnn import AdaptiveLinear, AdaptiveWidth
from awgnn.growth import (
    FireflyGrowth,
    GrowableLayer,
    S2DGrowth,
    TinyGrowth,
    fix_hidden_widths_,
    growable_layers,
)
from awgnn.nn.models import AdaptiveGCN, AdaptiveGIN, AdaptiveGINMLP
from awgnn.width.adaptive_width import BATCH_NORM_FILLS

NORMS = [None, "batch_norm"]
NAMES = ["convs.0.nn.lins.0", "convs.1.nn.lins.0"]


# -- fixtures -------------------------------------------------------------------------------


def graphs(count=24):
    """``count`` float64 graphs with 7 features and 2 classes."""
    return random_graphs(count, features=7, classes=2, dtype=torch.float64, edges_per_node=2)


def new_model(norm=None, seed=0, **kwargs):
    """A float64 AdaptiveGIN 7 -> 2, two layers, every hidden width learned and starting at 8."""
    torch.manual_seed(seed)
    return AdaptiveGIN(7, None, 2, out_channels=2, norm=norm, initial_width=8, **kwargs).double()


def graph_logits(model, batch):
    return global_mean_pool(model(batch.x, batch.edge_index), batch.batch)


def summed_loss(model, batch):
    return F.cross_entropy(graph_logits(model, batch), batch.y, reduction="sum")


def train_epoch(model, loader, optimizer):
    model.train()
    for batch in loader:
        optimizer.zero_grad()
        summed_loss(model, batch).backward()
        optimizer.step()


def trained(norm=None, **kwargs):
    """:func:`new_model` with fixed MLP hidden widths after three Adam epochs, its loader and optimizer."""
    model = new_model(norm, **kwargs)
    fix_hidden_widths_(model)
    loader = DataLoader(graphs(), batch_size=8)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    for _ in range(3):
        train_epoch(model, loader, optimizer)
    return model, loader, optimizer


def outputs(model, loader, training):
    """Graph logits in eval mode, or in training mode (batch statistics) on a copy, whose running statistics move."""
    model = copy.deepcopy(model).train() if training else model.eval()
    with torch.no_grad():
        return torch.cat([graph_logits(model, batch) for batch in loader])


def assert_growth_keeps_outputs(step, model, loader, optimizer=None):
    """``step`` grows ``model`` and its logits stay, with running and with batch statistics; its result."""
    before = {training: outputs(model, loader, training) for training in (False, True)}
    result = step.grow_(model, loader, summed_loss, optimizer)
    assert result.added > 0
    for training in (False, True):
        assert torch.allclose(outputs(model, loader, training), before[training], rtol=0, atol=1e-6)
    return result


def total_loss(model, loader):
    model.eval()
    with torch.no_grad():
        return sum(float(summed_loss(model, batch)) for batch in loader)


def mlp_widths(model):
    return [conv.nn.hidden_channels for conv in model.convs]


def zero_scale_steps():
    return {
        "s2d": S2DGrowth(fraction=0.3, eps=0.0),
        "s2d_rayleigh": S2DGrowth(fraction=0.3, eps=0.0, method="rayleigh"),
        "firefly": FireflyGrowth(fraction=0.35, scale=0.0, generator=torch.Generator().manual_seed(0)),
    }


def real_steps():
    return {
        "s2d": S2DGrowth(num_neurons=4),
        "s2d_rayleigh": S2DGrowth(num_neurons=4, method="rayleigh"),
        "firefly": FireflyGrowth(num_neurons=4, generator=torch.Generator().manual_seed(0)),
    }


# -- which layers grow -----------------------------------------------------------------------


@pytest.mark.parametrize("norm", NORMS)
def test_growable_layers_are_the_hidden_layers_of_the_conv_mlps(norm):
    model = new_model(norm)
    with pytest.raises(ValueError, match=r"'convs.0.nn.lins.0' is learned; call AdaptiveWidth.fix_\(\)"):
        growable_layers(model)
    fix_hidden_widths_(model)
    layers = growable_layers(model)
    assert [layer.name for layer in layers] == NAMES
    for layer, conv in zip(layers, model.convs):
        mlp = conv.nn
        assert layer.mlp is mlp and layer.linear is mlp.lins[0] and layer.consumer is mlp.lins[1]
        assert layer.width is mlp.width and layer.width.fixed and layer.size == 8
        assert layer.norm is (None if norm is None else mlp.norms[0].module)
        assert layer.activation is model.act
    with pytest.raises(ValueError, match=r"index must be an integer in \[0, 0\] \(a hidden layer of AdaptiveGINMLP\)"):
        GrowableLayer(model.convs[0].nn, index=1)


def test_only_the_mlp_hidden_layers_grow():
    """The embedding (conv output) widths stay learned and are no growth target; GCN layers have none."""
    model = new_model()
    fix_hidden_widths_(model)
    assert [width.fixed for width in model.widths if isinstance(width, AdaptiveWidth)] == [False]
    assert {id(layer.width) for layer in growable_layers(model)} == {id(conv.nn.width) for conv in model.convs}
    gcn = AdaptiveGCN(7, None, 2, out_channels=2, initial_width=8)
    fix_hidden_widths_(gcn)
    assert growable_layers(gcn) == [] and not any(w.fixed for w in gcn.modules() if isinstance(w, AdaptiveWidth))
    fixed = AdaptiveGIN(7, 8, 2, out_channels=2)
    assert growable_layers(fixed) == []
    for model in (gcn, fixed):
        with pytest.raises(ValueError, match=f"{type(model).__name__} has no growable layer"):
            S2DGrowth(num_neurons=2).grow_(model, [], summed_loss)


@pytest.mark.parametrize("with_norm", [False, True])
def test_a_user_model_holding_an_adaptive_gin_mlp_grows(with_norm):
    """An AdaptiveGINMLP built by hand, with a plain torch BatchNorm1d, inside the user's own module."""

    class UserModel(nn.Module):
        def __init__(self):
            super().__init__()
            width = AdaptiveWidth(initial_width=6)
            first, second = AdaptiveLinear(7, width), AdaptiveLinear(width, 2)
            norm = nn.BatchNorm1d(6) if with_norm else nn.Identity()
            if with_norm:
                width.follow_batch_norm(norm)
            self.conv = GINConv(AdaptiveGINMLP(first, norm, nn.ReLU(), False, width, second))

        def forward(self, x, edge_index):
            return self.conv(x, edge_index)

    torch.manual_seed(0)
    model = UserModel().double()
    fix_hidden_widths_(model)
    (layer,) = growable_layers(model)
    assert layer.name == "conv.nn.lins.0" and layer.norm is (model.conv.nn.norms[0] if with_norm else None)
    loader = DataLoader(graphs(), batch_size=8)
    step = FireflyGrowth(num_neurons=3, scale=0.0, generator=torch.Generator().manual_seed(0))
    result = assert_growth_keeps_outputs(step, model, loader)
    assert result.added == 3 and layer.size == model.conv.nn.hidden_channels == 9


# -- function preservation at zero scale ---------------------------------------------------------


@pytest.mark.parametrize("norm", NORMS)
@pytest.mark.parametrize("step", list(zero_scale_steps()))
def test_zero_scale_growth_keeps_the_outputs(step, norm):
    """S2D at eps=0 and Firefly at scale=0 grow the widths, and the logits stay, with running and batch statistics."""
    model, loader, optimizer = trained(norm)
    widths = mlp_widths(model)
    result = assert_growth_keeps_outputs(zero_scale_steps()[step], model, loader, optimizer)
    assert [g.name for g in result.layers] == NAMES
    assert mlp_widths(model) == [width + g.new - g.old for width, g in zip(widths, result.layers)]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"act_first": True},
        {"act": "tanh", "norm": "batch_norm"},
        {"act": None},
        {"act": None, "act_first": True, "norm": "batch_norm"},
    ],
)
def test_other_supported_hidden_layers_grow_in_place(kwargs):
    """``act_first`` without a norm (or without an activation), a smooth activation, no activation."""
    model, loader, optimizer = trained(**kwargs)
    result = assert_growth_keeps_outputs(zero_scale_steps()["firefly"], model, loader, optimizer)
    assert mlp_widths(model) == [g.new for g in result.layers]


# -- real steps: widths, shapes, checkpoints, optimizer state --------------------------------------


@pytest.mark.parametrize("norm", NORMS)
@pytest.mark.parametrize("step", list(real_steps()))
def test_growth_grows_by_the_budget_and_its_checkpoint_loads(step, norm):
    model, loader, optimizer = trained(norm)
    layers = growable_layers(model)
    widths = model.layer_widths()
    before = outputs(model, loader, False)
    result = real_steps()[step].grow_(model, loader, summed_loss, optimizer)
    assert result.added == 4 and [g.name for g in result.layers] == NAMES
    for layer, conv, grown in zip(layers, model.convs, result.layers):
        mlp, size = conv.nn, grown.new
        assert layer.size == mlp.hidden_channels == size == grown.old + grown.split + grown.added
        assert mlp.lins[0].bias.shape == (size,) and mlp.lins[1].weight.shape[1] == size
        if norm is not None:
            norm_module = mlp.norms[0].module
            assert norm_module.num_features == size
            assert all(getattr(norm_module, key).shape == (size,) for key in BATCH_NORM_FILLS)
    assert model.layer_widths() == {**widths, "layer0.mlp": result.layers[0].new, "layer1.mlp": result.layers[1].new}
    assert not torch.allclose(outputs(model, loader, False), before)  # a real step moves the function
    # A freshly built model (learned widths of 8, other weights) loads the grown checkpoint.
    fresh = new_model(norm, seed=1)
    fresh.load_state_dict(model.state_dict())
    assert fresh.layer_widths() == model.layer_widths()
    assert all(layer.width.fixed for layer in growable_layers(fresh))
    for training in (False, True):
        assert torch.allclose(outputs(fresh, loader, training), outputs(model, loader, training), rtol=0, atol=1e-12)


@pytest.mark.parametrize("norm", NORMS)
@pytest.mark.parametrize("step", list(real_steps()))
def test_adam_state_of_surviving_neurons_is_carried(step, norm):
    """Rows, bias, norm entries and next-linear columns of old neurons keep exp_avg(_sq); new ones start at 0."""
    model, loader, optimizer = trained(norm)
    layers = growable_layers(model)
    tracked = [
        [
            (layer.linear.weight, 0),
            (layer.linear.bias, 0),
            (layer.consumer.weight, 1),
            *((getattr(layer.norm, key), 0) for key in ("weight", "bias") if layer.norm is not None),
        ]
        for layer in layers
    ]
    states = [
        [{key: optimizer.state[param][key].clone() for key in ("exp_avg", "exp_avg_sq")} for param, _ in params]
        for params in tracked
    ]
    result = real_steps()[step].grow_(model, loader, summed_loss, optimizer)
    assert result.added == 4
    for params, saved, grown in zip(tracked, states, result.layers):
        for (param, dim), before in zip(params, saved):
            for key, value in before.items():
                state = optimizer.state[param][key]
                assert state.shape == param.shape and param.shape[dim] == grown.new
                assert torch.equal(state.narrow(dim, 0, grown.old), value)
                assert not state.narrow(dim, grown.old, grown.new - grown.old).any()
    widths = mlp_widths(model)
    train_epoch(model, loader, optimizer)  # the same optimizer steps the grown shapes
    assert mlp_widths(model) == widths


@pytest.mark.parametrize("norm", NORMS)
def test_tiny_grows_an_adaptive_gin(norm):
    pytest.importorskip("gromo")
    model, loader, optimizer = trained(norm)
    before = total_loss(model, loader)
    result = TinyGrowth(4).grow_(model, loader, summed_loss, optimizer)
    assert [g.name for g in result.layers] == NAMES and result.added > 0 and result.predicted_change < 0
    assert total_loss(model, loader) - before == pytest.approx(result.predicted_change, rel=1e-9)
    assert [layer.size for layer in growable_layers(model)] == mlp_widths(model) == [g.new for g in result.layers]
    train_epoch(model, loader, optimizer)


# -- refused layers ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (
            {"norm": "batch_norm", "act_first": True},
            r"'convs.0.nn.lins.0' applies its activation before its batch norm \(act_first=True\); growth supports",
        ),
        ({"norm": "layer_norm"}, r"hidden norm of 'convs.0.nn.lins.0' is LayerNorm; growth supports no norm"),
        ({"norm": "graph_norm"}, r"hidden norm of 'convs.0.nn.lins.0' is GraphNorm; growth supports no norm"),
        (
            {"act": "hardtanh"},
            r"activation of 'convs.0.nn.lins.0' is Hardtanh.*; growth supports relu, relu6, "
            r"leaky_relu, elu, gelu, silu, tanh, sigmoid or none",
        ),
        ({"act": "prelu"}, r"activation of 'convs.0.nn.lins.0' is PReLU"),
    ],
)
def test_unsupported_hidden_layers_are_refused_before_any_width_is_fixed(kwargs, match):
    model = new_model(**kwargs)
    with pytest.raises(ValueError, match=match):
        fix_hidden_widths_(model)
    assert not any(width.fixed for width in model.modules() if isinstance(width, AdaptiveWidth))
    for conv in model.convs:
        conv.nn.width.fix_()
    with pytest.raises(ValueError, match=match):
        growable_layers(model)
    with pytest.raises(ValueError, match=match):
        S2DGrowth(2).grow_(model, DataLoader(graphs(8), batch_size=4), summed_loss)


def test_learned_widths_get_the_clear_error_at_growth_time():
    model, loader = new_model("batch_norm"), DataLoader(graphs(8), batch_size=4)
    for step in (S2DGrowth(2), FireflyGrowth(2)):
        with pytest.raises(
            ValueError,
            match=r"hidden width of 'convs.0.nn.lins.0' is learned; call "
            r"AdaptiveWidth.fix_\(\)",
        ):
            step.grow_(model, loader, summed_loss)
    assert mlp_widths(model) == [8, 8]
