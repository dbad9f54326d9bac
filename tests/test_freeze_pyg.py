"""freeze(AdaptiveGIN / AdaptiveGCN): PyG's own GIN / GCN when it expresses the widths, else a StaticBasicGNN."""

from __future__ import annotations

import copy
import importlib.util
import inspect

import pytest
import torch
import torch.nn.functional as F
from torch_geometric.nn.models import GCN, GIN

import awgnn
from awgnn.nn.models import AdaptiveBasicGNN, AdaptiveGCN, AdaptiveGIN, StaticBasicGNN
from awgnn.width import AdaptiveWidth, adaptive_widths

MODELS = {"GIN": (AdaptiveGIN, GIN), "GCN": (AdaptiveGCN, GCN)}
# "trained": learned widths after a few training steps, different from layer to layer; "equal": learned widths
# resized so that PyG's model expresses them; 8: a fixed integer width.
WIDTHS = ["trained", "equal", 8]
TOLERANCE = {"rtol": 1e-5, "atol": 1e-5}  # folding the importances reorders the float32 products


def graph(num_nodes: int = 16, num_edges: int = 48, features: int = 5, seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(num_nodes, features, generator=generator)
    edge_index = torch.randint(0, num_nodes, (2, num_edges), generator=generator)
    return x, edge_index


def equalise_(model: AdaptiveBasicGNN, width: int = 9) -> None:
    """Resize every learned width to what PyG's model can express: one hidden width, GIN's MLPs ``[in, out, out]``."""
    for layer_width in model.widths:
        if isinstance(layer_width, AdaptiveWidth):
            layer_width.resize_(width)
    if isinstance(model, AdaptiveGIN):
        for conv in model.convs:
            conv.nn.width.resize_(conv.nn.lins[1].out_features)


def build(name: str, widths: str | int, jk: str | None = None, norm: str | None = None, **kwargs):
    """A model trained a few steps (so norms, weights and learned widths moved), then in eval mode."""
    torch.manual_seed(0)
    ours, _ = MODELS[name]
    learned = {"initial_width": 8} if widths != 8 else {}
    model = ours(5, None if widths != 8 else 8, 3, out_channels=3, jk=jk, norm=norm, **learned, **kwargs)
    x, edge_index = graph()
    y = (x[:, 0] > 0).long() + (x[:, 1] > 0).long()
    optimizer = torch.optim.Adam(awgnn.parameter_groups(model, rate_lr=0.2), lr=0.02)
    handle = awgnn.auto_update_widths(model, optimizer)
    for _ in range(5):
        optimizer.zero_grad()
        F.cross_entropy(model(x, edge_index), y).backward()
        optimizer.step()
    handle.remove()
    if widths == "trained" and model.fits_pyg_model():  # the steps left the widths equal: set them apart
        model.widths[0].resize_(model.widths[0].width + 2)
    if widths == "equal":
        equalise_(model)
        with torch.no_grad():
            model(x, edge_index)  # running statistics of the new channels
    return model.eval()


CONFIGS = [
    pytest.param(name, widths, jk, norm, id=f"{name}-{widths}-jk={jk}-norm={norm}")
    for name in MODELS
    for widths in WIDTHS
    for jk in (None, "cat")
    for norm in (None, "batch_norm")
]
# torch.compile and ONNX export take about a second each: the richest readout of each returned type.
EXPORT_CONFIGS = [
    pytest.param(name, widths, "cat", "batch_norm", id=f"{name}-{widths}")
    for name in MODELS
    for widths in ("trained", 8)
]


@pytest.mark.parametrize("name, widths, jk, norm", CONFIGS)
def test_freeze_returns_pyg_model_or_static_gnn_with_the_same_outputs(name, widths, jk, norm):
    model = build(name, widths, jk, norm)
    if widths == "trained":
        assert not model.fits_pyg_model()  # the training moved the widths apart
    frozen = awgnn.freeze(model)
    assert type(frozen) is (StaticBasicGNN if widths == "trained" else MODELS[name][1])
    assert not frozen.training and not any(module.training for module in frozen.modules())
    x, edge_index = graph(seed=1)
    with torch.no_grad():
        expected = model(x, edge_index)
        torch.testing.assert_close(frozen(x, edge_index), expected, **TOLERANCE)
        scripted = torch.jit.script(frozen)
        torch.testing.assert_close(scripted(x, edge_index), expected, **TOLERANCE)


@pytest.mark.parametrize("name, widths, jk, norm", EXPORT_CONFIGS)
def test_frozen_model_compiles(name, widths, jk, norm):
    model = build(name, widths, jk, norm)
    frozen = awgnn.freeze(model)
    torch.compiler.reset()
    compiled = torch.compile(frozen, backend="aot_eager")
    x, edge_index = graph(seed=1)
    with torch.no_grad():
        torch.testing.assert_close(compiled(x, edge_index), model(x, edge_index), **TOLERANCE)


@pytest.mark.skipif(importlib.util.find_spec("onnxruntime") is None, reason="needs the onnx extra")
@pytest.mark.parametrize("name, widths, jk, norm", EXPORT_CONFIGS)
def test_frozen_model_exports_to_onnx(tmp_path, name, widths, jk, norm):
    import onnxruntime

    model = build(name, widths, jk, norm)
    frozen = awgnn.freeze(model)
    x, edge_index = graph(seed=1)
    path = tmp_path / "model.onnx"
    torch.onnx.export(frozen, (x, edge_index), path, dynamo=True, verbose=False)
    session = onnxruntime.InferenceSession(str(path))
    names = [i.name for i in session.get_inputs()]
    out = session.run(None, dict(zip(names, (x.numpy(), edge_index.numpy()))))[0]
    with torch.no_grad():
        torch.testing.assert_close(torch.from_numpy(out), model(x, edge_index), rtol=1e-4, atol=1e-5)


def test_static_gnn_has_the_forward_signature_of_the_adaptive_model():
    adaptive = inspect.signature(AdaptiveBasicGNN.forward, eval_str=True)
    assert inspect.signature(StaticBasicGNN.forward, eval_str=True).parameters == adaptive.parameters


@pytest.mark.parametrize("name", MODELS)
def test_edge_weights_and_batch_reach_the_layers(name):
    """GCN's edge weights and GraphNorm's batch vector pass through the frozen model, scripted or not."""
    model = build(name, "trained", "last", "graph_norm")
    frozen = awgnn.freeze(model)
    assert type(frozen) is StaticBasicGNN and frozen.supports_norm_batch
    x, edge_index = graph(seed=1)
    weight = torch.rand(edge_index.size(1), generator=torch.Generator().manual_seed(2))
    batch = torch.arange(x.size(0)) // 8  # two graphs
    arguments = {"edge_weight": weight, "batch": batch, "batch_size": 2}
    with torch.no_grad():
        expected = model(x, edge_index, **arguments)
        assert not torch.allclose(expected, model(x, edge_index))  # the arguments matter
        torch.testing.assert_close(frozen(x, edge_index, **arguments), expected, **TOLERANCE)
        torch.testing.assert_close(torch.jit.script(frozen)(x, edge_index, **arguments), expected, **TOLERANCE)


CONV_OPTIONS = {"GIN": {"train_eps": True, "eps": 0.5}, "GCN": {"improved": True, "bias": False}}


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("widths", ["trained", "equal"])
def test_frozen_model_keeps_the_options(name, widths):
    options = {"dropout": 0.3, "act": "elu", "act_first": True, "norm": "layer_norm", "jk": "last"}
    model = build(name, widths, **options, **CONV_OPTIONS[name])
    frozen = awgnn.freeze(model)
    if widths == "equal":
        reference = MODELS[name][1](5, 9, 3, out_channels=3, **options, **CONV_OPTIONS[name])
        assert type(frozen) is type(reference) and frozen.state_dict().keys() == reference.state_dict().keys()
        assert (frozen.hidden_channels, frozen.out_channels, frozen.norm) == (9, 3, "layer_norm")
    assert (frozen.num_layers, frozen.jk_mode, frozen.dropout.p, frozen.act_first) == (3, "last", 0.3, True)
    assert type(frozen.act) is torch.nn.ELU and all(type(norm).__name__ == "LayerNorm" for norm in frozen.norms)
    for conv, adaptive in zip(frozen.convs, model.convs):
        if name == "GIN":
            assert isinstance(conv.eps, torch.nn.Parameter) and conv.eps.item() == adaptive.eps.item() != 0.5
            assert conv.nn.act is frozen.act and type(conv.nn.norms[0]).__name__ == "LayerNorm"
        else:
            assert conv.improved and conv.bias is None
    x, edge_index = graph(seed=1)
    with torch.no_grad():
        torch.testing.assert_close(frozen(x, edge_index), model(x, edge_index), **TOLERANCE)


def test_gin_with_one_learned_mlp_width_off_its_layer_is_static():
    model = build("GIN", "equal", None, None)
    model.convs[0].nn.width.resize_(11)  # the MLP [5, 11, 9]: not PyG's MLP [5, 9, 9]
    assert not model.fits_pyg_model()
    frozen = awgnn.freeze(model)
    assert type(frozen) is StaticBasicGNN and frozen.convs[0].nn.channel_list == [5, 11, 9]
    x, edge_index = graph(seed=1)
    with torch.no_grad():
        torch.testing.assert_close(frozen(x, edge_index), model(x, edge_index), **TOLERANCE)


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("widths", ["trained", 8])
def test_freezing_leaves_the_adaptive_model_untouched(name, widths):
    model = build(name, widths, "cat", "batch_norm")
    model.norms[0].train()  # a mixed mode survives freezing, in the copy
    state = copy.deepcopy(model.state_dict())  # the widths' extra state (rates' history) included
    layer_widths, modules = model.layer_widths(), [type(module) for module in model.modules()]
    frozen = awgnn.freeze(model)
    assert frozen.norms[0].training and not frozen.convs[0].training
    assert model.layer_widths() == layer_widths and [type(module) for module in model.modules()] == modules
    assert model._forward_pre_hooks or widths == 8  # the adaptive model still shares its importances
    # The copy shares no tensor with the model: changing it leaves the model's state as it was.
    with torch.no_grad():
        for parameter in frozen.parameters():
            parameter.add_(1.0)
    after = model.state_dict()
    assert after.keys() == state.keys()
    for key, value in state.items():
        assert torch.equal(after[key], value) if isinstance(value, torch.Tensor) else after[key] == value, key


def test_subclass_without_a_pyg_model_is_frozen_in_place():
    class CustomGCN(AdaptiveGCN):
        pyg_model = None

    model = CustomGCN(5, None, 2, out_channels=3, initial_width=8).eval()
    frozen = awgnn.freeze(model)
    assert type(frozen) is CustomGCN and not adaptive_widths(frozen)
    x, edge_index = graph()
    with torch.no_grad():
        torch.testing.assert_close(frozen(x, edge_index), model(x, edge_index), **TOLERANCE)


def test_training_mode_is_kept():
    model = build("GCN", "trained", None, "batch_norm").train()
    frozen = awgnn.freeze(model)
    assert all(module.training for module in frozen.modules())


def test_lazy_input_size_must_be_known_before_freezing():
    model = AdaptiveGCN(-1, None, 2, out_channels=3, initial_width=8)
    with pytest.raises(RuntimeError, match="run one forward first"):
        awgnn.freeze(model)
    x, edge_index = graph()
    with torch.no_grad():
        model(x, edge_index)
    assert awgnn.freeze(model).convs[0].lin.in_channels == 5


def test_static_gnn_checks_its_parts():
    convs = [torch.nn.Identity(), torch.nn.Identity()]
    norms = [torch.nn.Identity()] * 2
    lin = torch.nn.Linear(4, 2)
    with pytest.raises(ValueError, match="one norm per convolution"):
        StaticBasicGNN(convs, norms[:1], None)
    with pytest.raises(ValueError, match="lin must be given exactly when jk is set"):
        StaticBasicGNN(convs, norms, lin)
    with pytest.raises(ValueError, match="jk_module must be given exactly"):
        StaticBasicGNN(convs, norms, lin, jk="cat")
    with pytest.raises(ValueError, match="jk must be one of"):
        StaticBasicGNN(convs, norms, lin, jk="sum")
    with pytest.raises(ValueError, match="dropout"):
        StaticBasicGNN(convs, norms, None, dropout=1.0)
