"""PyG conventions of the adaptive convolutions (modelled on PyG's own conv tests)."""

import copy

import pytest
import torch
import torch_geometric.typing
from torch import nn
from torch_geometric.nn import GCNConv, GINConv, summary
from torch_geometric.typing import SparseTensor
from torch_geometric.utils import to_torch_csc_tensor

from awgnn import AdaptiveWidth, freeze, update_widths
from awgnn.nn import ActivatedGCNConv, AdaptiveGCNConv, AdaptiveGINConv

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def graph(device="cpu", num_nodes=6, channels=8, seed=0):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(num_nodes, channels, generator=generator)
    edge_index = torch.tensor([[0, 1, 1, 2, 2, 3, 4, 5, 5], [1, 0, 2, 1, 3, 2, 5, 4, 0]])
    return x.to(device), edge_index.to(device)


def sparse_forms(edge_index, num_nodes):
    """The same adjacency as torch sparse CSC (transposed) and, if installed, SparseTensor."""
    forms = [to_torch_csc_tensor(edge_index, size=(num_nodes, num_nodes)).t()]
    if torch_geometric.typing.WITH_TORCH_SPARSE:
        forms.append(SparseTensor.from_edge_index(edge_index, sparse_sizes=(num_nodes, num_nodes)).t())
    return forms


# -- GIN ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("train_eps, eps", [(False, 0.0), (True, 0.3)])
def test_gin_with_fixed_width_equals_pyg(device, train_eps, eps):
    torch.manual_seed(0)
    conv = AdaptiveGINConv(8, 5, hidden_channels=16, eps=eps, train_eps=train_eps).to(device)
    mlp = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 5))
    reference = GINConv(mlp, eps=eps, train_eps=train_eps).to(device)
    reference.nn.load_state_dict(conv.mlp.state_dict())
    x, edge_index = graph(device)
    assert torch.equal(conv(x, edge_index), reference(x, edge_index))
    assert conv.hidden_width is None and conv.output_width is None


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("output_width", [False, True])
def test_gin_adjacency_forms_agree(device, output_width):
    torch.manual_seed(0)
    out = AdaptiveWidth(initial_width=10) if output_width else 5
    conv = AdaptiveGINConv(8, out, train_eps=True, norm="batch_norm", act="relu").to(device).eval()
    x, edge_index = graph(device)
    expected = conv(x, edge_index)
    assert expected.shape == (6, 10 if output_width else 5)
    for adjacency in sparse_forms(edge_index.cpu(), 6):
        torch.testing.assert_close(conv(x, adjacency.to(device)), expected)


def test_gin_bipartite_inputs():
    torch.manual_seed(0)
    conv = AdaptiveGINConv(8, 4, train_eps=True)
    with torch.no_grad():
        conv.eps.fill_(0.5)
    x_src, x_dst = torch.randn(5, 8), torch.randn(3, 8)
    edge_index = torch.tensor([[0, 1, 2, 3, 4], [0, 0, 1, 2, 2]])
    out = conv((x_src, x_dst), edge_index, size=(5, 3))
    aggregated = torch.zeros(3, 8).index_add_(0, edge_index[1], x_src[edge_index[0]])
    torch.testing.assert_close(out, conv.mlp(aggregated + 1.5 * x_dst))
    torch.testing.assert_close(conv((x_src, None), edge_index, size=(5, 3)), conv.mlp(aggregated))
    csc = to_torch_csc_tensor(edge_index, size=(5, 3)).t()
    torch.testing.assert_close(conv((x_src, x_dst), csc), out)


def test_gin_repr_before_and_after_resize():
    conv = AdaptiveGINConv(64, 64)
    assert repr(conv) == "AdaptiveGINConv(64, 64, width=117)"
    conv.hidden_width.resize_(130)
    assert repr(conv) == "AdaptiveGINConv(64, 64, width=130)"
    capped = AdaptiveGINConv(-1, 32, hidden_channels=AdaptiveWidth(max_width=500))
    assert repr(capped) == "AdaptiveGINConv(-1, 32, width=117, max_width=500)"
    capped(torch.randn(3, 5), torch.tensor([[0, 1], [1, 2]]))
    assert repr(capped) == "AdaptiveGINConv(5, 32, width=117, max_width=500)"
    assert repr(AdaptiveGINConv(8, 4, hidden_channels=16)) == "AdaptiveGINConv(8, 4, width=16)"


def test_gin_summary_counts_true_parameters():
    conv = AdaptiveGINConv(64, 64, train_eps=True)
    x, edge_index = torch.randn(10, 64), torch.randint(0, 10, (2, 30))

    def closed_form(width):
        return 64 * width + width + width * 64 + 64 + 1 + 1  # two linears, eps, raw rate

    assert f"{closed_form(117):,}" in summary(conv, x, edge_index)
    conv.hidden_width.resize_(80)
    assert f"{closed_form(80):,}" in summary(conv, x, edge_index)
    assert sum(p.numel() for p in conv.parameters()) == closed_form(80)


def test_gin_lazy_input_and_deepcopy():
    torch.manual_seed(0)
    conv = AdaptiveGINConv(-1, 4)
    clone = copy.deepcopy(conv)
    x, edge_index = graph()
    out = conv(x, edge_index)
    assert conv.in_channels == 8 and out.shape == (6, 4)
    clone(x[:, :3], edge_index)
    assert clone.in_channels == 3
    copy.deepcopy(conv)(x, edge_index)


# -- GCN ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize(
    "options",
    [
        {},
        {"improved": True},
        {"add_self_loops": False},
        {"normalize": False},
        {"bias": False},
    ],
)
def test_gcn_with_fixed_width_equals_pyg(device, options):
    torch.manual_seed(0)
    conv = AdaptiveGCNConv(8, 5, act=None, **options).to(device)
    reference = GCNConv(8, 5, **options).to(device)
    with torch.no_grad():
        reference.lin.weight.copy_(conv.lin.weight)
        if reference.bias is not None:
            reference.bias.copy_(torch.randn(5))
            conv.bias.copy_(reference.bias)
    x, edge_index = graph(device)
    weight = torch.rand(edge_index.size(1), device=device)
    torch.testing.assert_close(conv(x, edge_index), reference(x, edge_index))
    torch.testing.assert_close(conv(x, edge_index, weight), reference(x, edge_index, weight))
    assert conv.width is None


@pytest.mark.parametrize("device", DEVICES)
def test_gcn_adjacency_forms_agree(device):
    torch.manual_seed(0)
    conv = AdaptiveGCNConv(8).to(device)
    x, edge_index = graph(device)
    expected = conv(x, edge_index)
    assert expected.shape == (6, 117)
    for adjacency in sparse_forms(edge_index.cpu(), 6):
        torch.testing.assert_close(conv(x, adjacency.to(device)), expected)


def test_gcn_output_is_scaled_after_activation():
    torch.manual_seed(0)
    conv = AdaptiveGCNConv(8, act="relu")
    x, edge_index = graph()
    pre_activation = GCNConv(8, conv.out_channels)
    with torch.no_grad():
        pre_activation.lin.weight.copy_(conv.lin.weight)
        pre_activation.bias.copy_(conv.bias)
    expected = pre_activation(x, edge_index).relu() * conv.width.importances()
    torch.testing.assert_close(conv(x, edge_index), expected)


def test_gcn_refuses_bipartite_input():
    with pytest.raises(ValueError, match="bipartite input is not supported"):
        AdaptiveGCNConv(8)((torch.randn(3, 8), torch.randn(2, 8)), torch.tensor([[0], [1]]))


def test_gcn_chain_follows_widths_and_repr():
    first = AdaptiveGCNConv(8)
    second = AdaptiveGCNConv(first.width, AdaptiveWidth(max_width=300))
    assert repr(first) == "AdaptiveGCNConv(8, 117)"
    assert repr(second) == "AdaptiveGCNConv(117, 117, max_width=300)"
    first.width.resize_(120)
    second.width.resize_(100)
    assert repr(first) == "AdaptiveGCNConv(8, 120)"
    assert repr(second) == "AdaptiveGCNConv(120, 100, max_width=300)"
    assert second.lin.weight.shape == (100, 120) and second.bias.shape == (100,)
    x, edge_index = graph()
    assert second(first(x, edge_index), edge_index).shape == (6, 100)
    assert repr(AdaptiveGCNConv(-1, 4)) == "AdaptiveGCNConv(-1, 4)"


def test_gcn_cache_survives_resize():
    conv = AdaptiveGCNConv(8, cached=True)
    x, edge_index = graph()
    conv(x, edge_index)
    cached = conv._cached_edge_index
    conv.width.resize_(conv.width.width + 3)
    assert conv(x, edge_index).shape == (6, conv.width.width)
    assert conv._cached_edge_index is cached


def test_gcn_lazy_input():
    conv = AdaptiveGCNConv(-1)
    x, edge_index = graph()
    assert conv(x, edge_index).shape == (6, 117) and conv.in_channels == 8


# -- both --------------------------------------------------------------------------------------


def make_convs():
    torch.manual_seed(0)
    return [AdaptiveGINConv(8, 6, train_eps=True), AdaptiveGCNConv(8)]


@pytest.mark.parametrize("index", [0, 1])
def test_reset_parameters_restores_width_and_values(index):
    conv = make_convs()[index]
    width = conv.hidden_width if isinstance(conv, AdaptiveGINConv) else conv.width
    initial = width.width
    torch.manual_seed(1)
    conv.reset_parameters()
    state = {k: v.clone() for k, v in conv.state_dict().items() if isinstance(v, torch.Tensor)}
    width.resize_(initial + 9)
    with torch.no_grad():
        width.raw_rate.add_(0.7)
    torch.manual_seed(1)
    conv.reset_parameters()
    assert width.width == initial and len(width.history) == 1
    for key, value in conv.state_dict().items():
        if isinstance(value, torch.Tensor):
            assert torch.equal(value, state[key]), key


@pytest.mark.parametrize("index", [0, 1])
def test_state_dict_after_grow_and_shrink_loads_strictly(index):
    for delta in (+11, -13):
        conv = make_convs()[index]
        width = conv.hidden_width if isinstance(conv, AdaptiveGINConv) else conv.width
        width.resize_(width.width + delta)
        fresh = make_convs()[index]
        fresh.load_state_dict(conv.state_dict(), strict=True)
        x, edge_index = graph()
        assert torch.equal(fresh(x, edge_index), conv(x, edge_index))


@pytest.mark.parametrize("index", [0, 1])
def test_no_graph_breaks_and_compiled_equals_eager(index):
    conv = make_convs()[index]
    if isinstance(conv, AdaptiveGCNConv):
        conv.add_self_loops = False  # as upstream's compile tests
    x, edge_index = graph()
    explanation = torch._dynamo.explain(conv)(x, edge_index)
    assert explanation.graph_break_count == 0, explanation.break_reasons
    compiled = torch.compile(conv, fullgraph=True, backend="aot_eager")
    torch.testing.assert_close(compiled(x, edge_index), conv(x, edge_index))


def test_frozen_gin_is_upstream_gin_with_folded_weights():
    torch.manual_seed(0)
    embedding = AdaptiveWidth(initial_width=10)
    conv = AdaptiveGINConv(8, 6, train_eps=True)
    nxt = AdaptiveGINConv(6, embedding, norm="batch_norm", act="relu")
    head = nn.Linear(10, 3)
    embedding.follow_linear_input(head)
    model = nn.ModuleList([conv, nxt, head]).eval()
    frozen = freeze(model)
    assert isinstance(frozen[0], GINConv) and isinstance(frozen[1], GINConv)
    x, edge_index = graph()
    expected = head(nxt(conv(x, edge_index), edge_index))
    torch.testing.assert_close(frozen[2](frozen[1](frozen[0](x, edge_index), edge_index)), expected)
    # The hidden importances fold into the second linear layer's columns.
    f = conv.hidden_width.importances().detach()
    torch.testing.assert_close(frozen[0].nn[3].weight, conv.mlp[3].weight.detach() * f)
    scripted = torch.jit.script(frozen[0])
    torch.testing.assert_close(scripted(x, edge_index), frozen[0](x, edge_index))


def test_frozen_gcn_is_upstream_gcn():
    torch.manual_seed(0)
    first = AdaptiveGCNConv(8)
    second = AdaptiveGCNConv(first.width, 4, act=None)
    model = nn.ModuleList([first, second])
    frozen = freeze(model)
    assert isinstance(frozen[0], ActivatedGCNConv) and isinstance(frozen[0].conv, GCNConv)
    assert type(frozen[1]) is GCNConv
    x, edge_index = graph()
    torch.testing.assert_close(
        frozen[1](frozen[0](x, edge_index), edge_index), second(first(x, edge_index), edge_index)
    )
    scripted = torch.jit.script(frozen[0])
    torch.testing.assert_close(scripted(x, edge_index), frozen[0](x, edge_index))


def test_update_widths_in_a_gcn_stack_keeps_optimizer_state():
    torch.manual_seed(0)
    first = AdaptiveGCNConv(8)
    second = AdaptiveGCNConv(first.width, 3, act=None)
    model = nn.ModuleList([first, second])
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    x, edge_index = graph()
    second(first(x, edge_index), edge_index).square().mean().backward()
    optimizer.step()
    moments = optimizer.state[second.lin.weight]["exp_avg"].clone()
    with torch.no_grad():
        first.width.raw_rate.sub_(0.3)  # wider
    old = first.width.width
    changes = update_widths(model, optimizer)
    new = first.width.width
    assert changes and new > old
    assert first.lin.weight.shape == (new, 8) and first.bias.shape == (new,)
    assert second.lin.weight.shape == (3, new)
    state = optimizer.state[second.lin.weight]["exp_avg"]
    assert torch.equal(state[:, :old], moments) and torch.count_nonzero(state[:, old:]) == 0
    assert torch.count_nonzero(optimizer.state[first.bias]["exp_avg"][old:]) == 0


def test_symbolic_widths_avoid_a_recompile_per_resize():
    """The second torch.compile option of docs/layers.rst: resizes do not each trigger a compilation."""
    import torch._dynamo

    compilations = []

    def counting_backend(graph_module, example_inputs):
        compilations.append(graph_module)
        return graph_module.forward

    torch._dynamo.reset()
    conv = AdaptiveGINConv(8, 6)
    x, edge_index = graph()
    with torch._dynamo.config.patch(force_parameter_static_shapes=False, allow_unspec_int_on_nn_module=True):
        compiled = torch.compile(conv, backend=counting_backend, dynamic=True)
        for width in (117, 120, 125, 131, 140):
            conv.hidden_width.resize_(width)
            torch.testing.assert_close(compiled(x, edge_index), conv(x, edge_index))
    assert len(compilations) <= 2, f"{len(compilations)} compilations for 5 widths"
    torch._dynamo.reset()
