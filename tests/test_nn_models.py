"""AdaptiveGCN / AdaptiveGIN: PyG's BasicGNN models with learned widths."""

from __future__ import annotations

import copy
import math

import pytest
import torch
import torch.nn.functional as F
from torch_geometric.nn import global_add_pool
from torch_geometric.nn.models import GCN, GIN
from torch_geometric.nn.norm import BatchNorm, GraphNorm, LayerNorm

import awgnn
from awgnn.nn.models import AdaptiveGCN, AdaptiveGIN, ConcatLinear, StaticBasicGNN
from awgnn.width import AdaptiveWidth, adaptive_widths

MODELS = [(AdaptiveGCN, GCN), (AdaptiveGIN, GIN)]
SETTINGS = [
    {},
    {"norm": "batch_norm"},
    {"norm": "layer_norm", "act": "elu", "act_first": True},
    {"jk": "last", "norm": "graph_norm"},
    {"jk": "cat", "norm": "batch_norm"},
    {"jk": "max"},
    {"jk": "lstm", "norm": "instance_norm"},
]


def graph(num_nodes: int = 12, num_edges: int = 40, features: int = 5, seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(num_nodes, features, generator=generator)
    edge_index = torch.randint(0, num_nodes, (2, num_edges), generator=generator)
    return x, edge_index


def pyg_state_for(model: torch.nn.Module, pyg_model: torch.nn.Module, hidden: int) -> dict:
    """PyG's weights under our keys: identical, except jk='cat', whose Linear is split into blocks."""
    state = pyg_model.state_dict()
    if isinstance(getattr(model, "lin", None), ConcatLinear):
        weight, bias = state.pop("lin.weight"), state.pop("lin.bias")
        for index, block in enumerate(weight.split(hidden, dim=1)):
            state[f"lin.blocks.{index}.weight"] = block
        state["lin.blocks.0.bias"] = bias
    return state


def set_width(width: AdaptiveWidth, target: int) -> None:
    """Move the rate so that the width asks for ``target`` neurons at the next update."""
    rate = width.distribution.rate_for_width(target, width.k)
    with torch.no_grad():
        width.raw_rate.fill_(math.log(math.expm1(rate)))


def resize_all(model: torch.nn.Module, targets: list[int], optimizer=None) -> None:
    for (_, width), target in zip(adaptive_widths(model), targets):
        set_width(width, target)
    awgnn.update_widths(model, optimizer)


# -- fixed widths: exactly PyG's models ------------------------------------------------------


@pytest.mark.parametrize("ours, theirs", MODELS, ids=["GCN", "GIN"])
@pytest.mark.parametrize("settings", SETTINGS, ids=lambda s: ",".join(f"{k}={v}" for k, v in s.items()) or "plain")
@pytest.mark.parametrize("num_layers", [1, 2, 3])
def test_integer_width_computes_pyg_model(ours, theirs, settings, num_layers):
    torch.manual_seed(num_layers)
    reference = theirs(5, 8, num_layers, out_channels=3, **settings)
    model = ours(5, 8, num_layers, out_channels=3, **settings)
    model.load_state_dict(pyg_state_for(model, reference, 8), strict=True)
    x, edge_index = graph()
    for train in (True, False):  # batch statistics, then the running statistics both updated
        reference.train(train)
        model.train(train)
        torch.testing.assert_close(model(x, edge_index), reference(x, edge_index), rtol=1e-5, atol=1e-6)
    assert not adaptive_widths(model)


def test_integer_width_gcn_takes_edge_weights_and_no_out_channels():
    torch.manual_seed(0)
    reference, model = GCN(5, 8, 2), AdaptiveGCN(5, 8, 2)
    model.load_state_dict(reference.state_dict())
    x, edge_index = graph()
    weight = torch.rand(edge_index.size(1))
    torch.testing.assert_close(model(x, edge_index, weight), reference(x, edge_index, weight))
    assert model.out_channels == 8 and model(x, edge_index).shape == (12, 8)


# -- learned widths ----------------------------------------------------------------------------


def test_learned_gcn_applies_importances_after_norm_and_activation():
    torch.manual_seed(0)
    model = AdaptiveGCN(5, None, 2, out_channels=3, norm="batch_norm", initial_width=10).eval()
    x, edge_index = graph()
    with torch.no_grad():
        model.norms[0].module.running_mean.uniform_(-1, 1)
        hidden = model.convs[0](x, edge_index)
        hidden = F.relu(model.norms[0](hidden)) * model.widths[0].importances()
        expected = model.convs[1](hidden, edge_index)
        torch.testing.assert_close(model(x, edge_index), expected)
    assert model.layer_widths() == {"layer0": 10}
    assert repr(model) == "AdaptiveGCN(5, 3, num_layers=2, widths={'layer0': 10})"


def test_learned_gin_scales_mlp_hidden_and_embedding():
    torch.manual_seed(0)
    model = AdaptiveGIN(5, None, 2, out_channels=3, initial_width=6).eval()
    x, edge_index = graph()
    conv = model.convs[0]
    with torch.no_grad():
        aggregated = x + torch.zeros_like(x).index_add_(0, edge_index[1], x[edge_index[0]])
        hidden = F.relu(conv.nn.lins[0](aggregated)) * conv.nn.width.importances()
        embedding = F.relu(conv.nn.lins[1](hidden)) * model.widths[0].importances()
        torch.testing.assert_close(model.convs[0](x, edge_index), conv.nn.lins[1](hidden))
        out = model(x, edge_index)
        torch.testing.assert_close(out, model.convs[1](embedding, edge_index))
    assert model.layer_widths() == {"layer0": 6, "layer0.mlp": 6, "layer1.mlp": 6}


@pytest.mark.parametrize("ours", [AdaptiveGCN, AdaptiveGIN])
@pytest.mark.parametrize(
    "settings",
    [
        {"norm": "batch_norm"},
        {"norm": "layer_norm"},
        {"norm": "graph_norm"},
        {"norm": "instance_norm"},
        {"norm": "pair_norm", "jk": "last"},
        {"jk": "cat", "norm": "batch_norm", "dropout": 0.3},
    ],
    ids=lambda s: ",".join(f"{k}={v}" for k, v in s.items()),
)
def test_every_follower_resizes_with_the_widths(ours, settings):
    torch.manual_seed(0)
    model = ours(5, None, 3, out_channels=3, initial_width=8, **settings)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    x, edge_index = graph()
    model(x, edge_index).square().mean().backward()
    optimizer.step()
    widths = adaptive_widths(model)
    for targets in ([13, 5, 9, 4, 11, 7][: len(widths)], [3, 12, 2, 6, 4, 9][: len(widths)]):
        resize_all(model, targets, optimizer)
        assert [w.width for _, w in widths] == targets
        out = model(x, edge_index)
        assert out.shape == (12, 3)
        out.square().mean().backward()
        optimizer.step()
        for index, norm in enumerate(model.norms):
            for tensor in norm.parameters():
                assert tensor.shape[0] == model.widths[index].width
    for _, width in widths:
        assert width.raw_rate in {p for group in optimizer.param_groups for p in group["params"]}


def test_widths_learn_by_backpropagation_on_a_node_task():
    torch.manual_seed(0)
    x, edge_index = graph(num_nodes=60, num_edges=20, features=4)
    y = (x[:, 0] > 0).long()  # few edges: mostly the node's own features
    model = AdaptiveGCN(4, None, 2, out_channels=2, norm="batch_norm", initial_width=8)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    awgnn.auto_update_widths(model, optimizer)
    rate = model.widths[0].rate.item()
    for _ in range(100):
        optimizer.zero_grad()
        F.cross_entropy(model(x, edge_index), y).backward()
        optimizer.step()
    assert model.widths[0].rate.item() != rate and model.widths[0].width != 8
    assert (model.eval()(x, edge_index).argmax(-1) == y).float().mean() > 0.85
    assert model.layer_widths()["layer0"] == model.widths[0].width


def test_graph_level_gin_with_pooling_learns():
    torch.manual_seed(0)
    graphs = []
    for label in (0, 1):
        for _ in range(12):  # rings (label 0) and stars (label 1) of 6 nodes
            nodes = torch.arange(6)
            target = (nodes + 1) % 6 if label == 0 else torch.zeros(6, dtype=torch.long)
            edges = torch.stack([nodes[1:], target[1:]]) if label else torch.stack([nodes, target])
            graphs.append((torch.cat([edges, edges.flip(0)], 1), label))
    edge_index = torch.cat([e + 6 * i for i, (e, _) in enumerate(graphs)], 1)
    batch = torch.arange(len(graphs)).repeat_interleave(6)
    y = torch.tensor([label for _, label in graphs])
    x = torch.ones(6 * len(graphs), 1)
    model = AdaptiveGIN(1, None, 2, out_channels=2, jk="cat", initial_width=8)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.02)
    awgnn.auto_update_widths(model, optimizer)
    for _ in range(100):  # PyG's GIN(1, 8, 2, 2, jk="cat") classifies every graph by then on 10 of 10 seeds
        optimizer.zero_grad()
        logits = global_add_pool(model(x, edge_index), batch, len(graphs))
        F.cross_entropy(logits, y).backward()
        optimizer.step()
    assert (global_add_pool(model(x, edge_index), batch).argmax(-1) == y).all()


def test_checkpoint_of_resized_model_loads_into_fresh_model():
    torch.manual_seed(0)
    model = AdaptiveGIN(5, None, 2, out_channels=3, norm="batch_norm", jk="cat", initial_width=8)
    resize_all(model, [11, 4, 6, 9])
    x, edge_index = graph()
    model.eval()
    fresh = AdaptiveGIN(5, None, 2, out_channels=3, norm="batch_norm", jk="cat", initial_width=8).eval()
    fresh.load_state_dict(model.state_dict(), strict=True)
    assert fresh.layer_widths() == model.layer_widths()
    torch.testing.assert_close(fresh(x, edge_index), model(x, edge_index))


@pytest.mark.parametrize("ours", [AdaptiveGCN, AdaptiveGIN])
def test_freeze_gives_the_same_outputs(ours):
    torch.manual_seed(0)
    model = ours(5, None, 3, out_channels=3, norm="batch_norm", jk="last", initial_width=8)
    resize_all(model, [10, 5, 7, 12, 6, 9])
    model.eval()
    frozen = awgnn.freeze(model)
    x, edge_index = graph()
    assert not adaptive_widths(frozen)
    torch.testing.assert_close(frozen(x, edge_index), model(x, edge_index))
    # Widths differ from layer to layer: upstream layers at the learned widths (tests/test_freeze_pyg.py).
    assert isinstance(frozen, StaticBasicGNN)
    assert [norm.module.num_features for norm in frozen.norms] == model.embedding_widths()


def test_parameter_count_follows_the_closed_form():
    model = AdaptiveGCN(5, None, 3, out_channels=3, initial_width=8)
    resize_all(model, [10, 4])
    # conv weights and biases, plus one raw rate per learned width
    assert model.num_parameters() == (5 * 10 + 10) + (10 * 4 + 4) + (4 * 3 + 3) + 2


def test_lazy_input_size():
    model = AdaptiveGCN(-1, None, 2, out_channels=3, initial_width=8)
    x, edge_index = graph()
    with torch.no_grad():
        assert model(x, edge_index).shape == (12, 3)
    assert model.convs[0].lin.in_features == 5


def test_deepcopy_and_reset_restore_the_initial_widths():
    torch.manual_seed(0)
    model = AdaptiveGIN(5, None, 2, out_channels=3, initial_width=8)
    resize_all(model, [11, 4, 6])
    copied = copy.deepcopy(model)
    assert copied.layer_widths() == model.layer_widths()
    model.reset_parameters()
    assert set(model.layer_widths().values()) == {8}


# -- errors at the argument the user wrote ------------------------------------------------------


@pytest.mark.parametrize("ours", [AdaptiveGCN, AdaptiveGIN])
def test_wrong_feature_size_names_expected_and_received(ours):
    model = ours(5, None, 2, out_channels=3)
    x, edge_index = graph(features=7)
    with pytest.raises(ValueError, match=r"x has 7 features per node, but the model was built with in_channels=5"):
        model(x, edge_index)
    with pytest.raises(ValueError, match=r"x must be a 2-D tensor .* got shape \(12,\)"):
        model(x[:, 0], edge_index)


@pytest.mark.parametrize(
    "arguments, message",
    [
        ({"hidden_channels": None, "out_channels": None}, "give out_channels"),
        ({"hidden_channels": None, "jk": "max"}, "jk='max' combines the layers' outputs elementwise"),
        ({"hidden_channels": None, "jk": "lstm"}, "jk='lstm' combines"),
        ({"jk": "sum"}, "jk must be one of None, 'last', 'cat', 'max', 'lstm', got 'sum'"),
        ({"in_channels": 0}, "in_channels must be an integer >= 1 or -1"),
        ({"hidden_channels": 0}, "hidden_channels must be an integer >= 1, got 0"),
        ({"num_layers": 0}, "num_layers must be an integer >= 1, got 0"),
        ({"dropout": 1.0}, r"dropout must be a number in \[0, 1\), got 1.0"),
        ({"norm": "bogus_norm"}, "norm='bogus_norm': Could not resolve"),
        ({"act": "bogus"}, "act='bogus': Could not resolve"),
        (
            {"hidden_channels": None, "norm": "diff_group_norm", "norm_kwargs": {"groups": 2}},
            "cannot follow a learned width",
        ),
        (
            {"hidden_channels": None, "norm": "layer_norm", "norm_kwargs": {"mode": "node"}},
            "cannot follow a learned width",
        ),
        ({"hidden_channels": None, "norm": BatchNorm(8)}, "norm must be a name"),
        ({"hidden_channels": None, "lambda0": -1.0}, "lambda0 must be a finite number > 0"),
    ],
)
@pytest.mark.parametrize("ours", [AdaptiveGCN, AdaptiveGIN])
def test_invalid_arguments_are_named(ours, arguments, message):
    settings = {"in_channels": 5, "hidden_channels": 8, "num_layers": 2, "out_channels": 3, **arguments}
    with pytest.raises(ValueError, match=message):
        ours(**settings)


def test_supported_norms_follow_their_width():
    width = AdaptiveWidth(initial_width=8)
    for norm in (GraphNorm(8), LayerNorm(8)):
        awgnn.nn.models.follow_norm(width, norm)
    width.resize_(11)
    assert norm.weight.shape == (11,)
    torch.testing.assert_close(norm.weight[8:], torch.ones(3))
