import importlib.util
import json

import pytest
import torch
from graph_helpers import random_graphs
from test_bench import TINY, bench, run_records, write_config
from torch_geometric.loader import DataLoader

from awgnn import ELBOLoss, freeze, update_widths
from awgnn.models import (
    AdaptiveFairGIN,
    AdaptiveGCNClassifier,
    AdaptiveGINClassifier,
    FairGIN,
    GCNClassifier,
    GINClassifier,
    StaticClassifier,
)

ADAPTIVE = {
    "gin": lambda: AdaptiveGINClassifier(5, 3, num_layers=3),
    "gin-embedding": lambda: AdaptiveGINClassifier(5, 3, num_layers=3, embedding_channels=None),
    "gcn": lambda: AdaptiveGCNClassifier(5, 3, num_layers=3),
    "fair-gin": lambda: AdaptiveFairGIN(5, 3, num_layers=3, pooling="sum", dropout=0.5),
    "fair-gin-embedding": lambda: AdaptiveFairGIN(5, 3, num_layers=3, embedding_channels=None),
}


def one_batch(count=12):
    return next(iter(DataLoader(random_graphs(count), batch_size=count)))


def run(model, batch):
    return model(batch.x, batch.edge_index, batch.batch, batch.num_graphs)


@pytest.mark.parametrize("name", ADAPTIVE)
def test_gradient_reaches_every_rate(name):
    torch.manual_seed(0)
    model = ADAPTIVE[name]()
    batch = one_batch()
    ELBOLoss(12)(model, run(model, batch), batch.y).total.backward()
    rates = [p for n, p in model.named_parameters() if n.endswith("raw_rate")]
    assert len(rates) == len(model.layer_widths())
    for param in rates:
        assert param.grad is not None and param.grad.abs().item() > 0


@pytest.mark.parametrize("name", ADAPTIVE)
def test_training_with_resizes_keeps_shapes_and_state(name):
    torch.manual_seed(0)
    model = ADAPTIVE[name]()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.2)
    loss = ELBOLoss(12)
    batch = one_batch()
    resized = 0
    for _ in range(6):
        optimizer.zero_grad()
        loss(model, run(model, batch), batch.y).total.backward()
        optimizer.step()
        resized += len(update_widths(model, optimizer))
        for param in model.parameters():
            for value in optimizer.state[param].values():
                if value.dim() > 0:
                    assert value.shape == param.shape
    assert resized > 0
    assert run(model, batch).shape == (12, 3)


@pytest.mark.parametrize("name", ADAPTIVE)
def test_resized_model_round_trips_and_freezes(name):
    torch.manual_seed(0)
    model = ADAPTIVE[name]()
    for offset, (_, width) in zip((5, -7, 3, -2, 4, 1), _widths(model)):
        width.resize_(width.width + offset)
    batch = one_batch()
    run(model.train(), batch)  # batch-norm statistics
    model.eval()
    fresh = ADAPTIVE[name]()
    fresh.load_state_dict(model.state_dict(), strict=True)
    fresh.eval()
    assert fresh.layer_widths() == model.layer_widths()
    assert torch.equal(run(fresh, batch), run(model, batch))

    frozen = freeze(model)
    assert isinstance(frozen, StaticClassifier) and frozen.layer_widths() == model.layer_widths()
    assert not any(n.endswith("raw_rate") for n, _ in frozen.named_parameters())
    torch.testing.assert_close(run(frozen, batch), run(model, batch), rtol=1e-5, atol=1e-5)
    scripted = torch.jit.script(frozen)
    torch.testing.assert_close(run(scripted, batch), run(model, batch), rtol=1e-5, atol=1e-5)


@pytest.mark.skipif(importlib.util.find_spec("onnxruntime") is None, reason="needs the onnx extra")
def test_frozen_model_exports_to_onnx(tmp_path):
    import onnxruntime

    torch.manual_seed(0)
    model = ADAPTIVE["gin-embedding"]().eval()
    frozen = freeze(model)
    batch = one_batch()
    path = tmp_path / "gin.onnx"
    torch.onnx.export(
        frozen, (batch.x, batch.edge_index, batch.batch, batch.num_graphs), path, dynamo=True, verbose=False
    )
    session = onnxruntime.InferenceSession(str(path))
    inputs = dict(
        zip([i.name for i in session.get_inputs()], (batch.x.numpy(), batch.edge_index.numpy(), batch.batch.numpy()))
    )
    out = session.run(None, inputs)[0]
    torch.testing.assert_close(torch.from_numpy(out), run(model, batch).detach(), rtol=1e-4, atol=1e-5)


def _widths(model):
    from awgnn import AdaptiveWidth

    return [(n, m) for n, m in model.named_modules() if isinstance(m, AdaptiveWidth)]


def test_width_reports():
    gin = AdaptiveGINClassifier(5, 3, num_layers=3)
    assert gin.layer_widths() == {"block0": 117, "block1": 117, "block2": 117}
    assert gin.total_width() == 351
    gin.blocks[0].hidden_width.resize_(100)
    assert gin.layer_widths()["block1"] == 100 and gin.total_width() == 334
    learned = AdaptiveGINClassifier(5, 3, num_layers=2, embedding_channels=None)
    assert set(learned.layer_widths()) == {"block0", "block1", "block0.embedding", "block1.embedding"}
    assert GINClassifier(5, 3, num_layers=3, hidden_channels=[10, 20, 30]).layer_widths() == {
        "block0": 10,
        "block1": 20,
        "block2": 30,
    }
    assert AdaptiveGCNClassifier(5, 3, num_layers=2).total_width() == 234
    assert GCNClassifier(5, 3, hidden_channels=[4, 5, 6]).total_width() == 15
    # The protocol's grid: total width 96 to 320.
    assert FairGIN(5, 2, [32, 32]).total_width() == 96
    assert FairGIN(5, 2, [64, 64, 64, 64]).total_width() == 320


def test_parameter_count_closed_forms():
    c, e, h = 5, 64, 117
    gin = AdaptiveGINClassifier(c, 3, num_layers=2)
    block0 = c * h + h + h * e + e + 1  # MLP and its rate
    block1 = e * h + h + h * e + e + 1 + 1 + 2 * e  # MLP, rate, eps, batch norm
    heads = 2 * (e * 3 + 3)
    assert gin.num_parameters() == block0 + block1 + heads
    gcn = GCNClassifier(c, 3, num_layers=2, hidden_channels=[8, 16])
    assert gcn.num_parameters() == (c * 8 + 8) + (8 * 16 + 16) + (8 * 3 + 3) + (16 * 3 + 3)


@pytest.mark.parametrize(
    "model",
    [
        GINClassifier(5, 3),
        GCNClassifier(5, 3),
        FairGIN(5, 3, [16, 16], dropout=0.5),
        AdaptiveGINClassifier(5, 3),
        AdaptiveGCNClassifier(5, 3),
    ],
)
def test_models_run_on_dataloader_batches(model):
    outputs = [run(model, batch) for batch in DataLoader(random_graphs(10), batch_size=4)]
    assert [o.shape for o in outputs] == [(4, 3), (4, 3), (2, 3)]
    single = random_graphs(1)[0]
    assert model.eval()(single.x, single.edge_index).shape == (1, 3)


def test_fixed_gin_matches_frozen_adaptive_structure():
    """The fixed counterpart computes the same function as the adaptive one at equal widths."""
    torch.manual_seed(0)
    adaptive = AdaptiveGINClassifier(5, 3, num_layers=2).eval()
    frozen = freeze(adaptive)
    fixed = GINClassifier(5, 3, num_layers=2, hidden_channels=117).eval()
    # Same tensors in the same order; only the frozen model's Identity placeholders differ.
    fixed.load_state_dict(dict(zip(fixed.state_dict(), frozen.state_dict().values())), strict=True)
    batch = one_batch()
    torch.testing.assert_close(run(fixed, batch), run(adaptive, batch), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("pooling", ["mean", "sum"])
def test_adaptive_fair_gin_frozen_is_fair_gin(pooling):
    """Frozen at equal widths, the adaptive FairGIN is FairGIN: same layers, same function."""
    torch.manual_seed(0)
    adaptive = AdaptiveFairGIN(5, 3, num_layers=3, initial_width=64, pooling=pooling, dropout=0.5)
    batch = one_batch()
    run(adaptive.train(), batch)  # batch-norm statistics
    adaptive.eval()
    frozen = freeze(adaptive)
    assert frozen.head_before_pooling == [True, False, False]
    fixed = FairGIN(5, 3, [64, 64], pooling=pooling, dropout=0.5).eval()
    # Same tensors in the same order; only the frozen model's Identity placeholders differ.
    fixed.load_state_dict(dict(zip(fixed.state_dict(), frozen.state_dict().values())), strict=True)
    torch.testing.assert_close(run(fixed, batch), run(adaptive, batch), rtol=1e-5, atol=1e-5)


def test_adaptive_fair_gin_widths():
    model = AdaptiveFairGIN(5, 3, num_layers=3, initial_width=10, embedding_channels=None)
    assert model.layer_widths() == {
        "block0": 10,
        "block1": 10,
        "block2": 10,
        "block0.embedding": 10,
        "block1.embedding": 10,
        "block2.embedding": 10,
    }
    norms = [m for m in model.input_block if isinstance(m, torch.nn.BatchNorm1d)]
    assert [n.num_features for n in norms] == [10, 10]  # inside the MLP and after it, as in FairGIN


def test_fair_gin_layer0_head_before_sum_pooling():
    torch.manual_seed(0)
    model = FairGIN(5, 3, [8], pooling="sum").eval()
    batch = one_batch(4)
    states = model.node_states(batch.x, batch.edge_index)
    from torch_geometric.nn import global_add_pool

    expected = global_add_pool(model.heads[0](states[0]), batch.batch, 4) + model.heads[1](
        global_add_pool(states[1], batch.batch, 4)
    )
    torch.testing.assert_close(run(model, batch), expected)


def test_fair_gin_evaluation_dropout_quirk():
    torch.manual_seed(0)
    batch = one_batch()
    faithful = FairGIN(5, 3, [8], dropout=0.5, gc_eval_dropout=True).eval()
    assert not torch.equal(run(faithful, batch), run(faithful, batch))
    fixed = FairGIN(5, 3, [8], dropout=0.5).eval()
    assert torch.equal(run(fixed, batch), run(fixed, batch))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"num_layers": 0}, "num_layers must be an integer >= 1"),
        ({"embedding_channels": 0}, "embedding_channels must be an integer >= 1"),
        ({"pooling": "max"}, "pooling must be one of 'mean', 'sum'"),
        ({"lambda0": -1.0}, "lambda0 must be a finite number > 0"),
        ({"activation": "swish"}, "activation must be one of"),
    ],
)
def test_invalid_model_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        AdaptiveGINClassifier(5, 3, **kwargs)


def test_adaptive_fair_gin_runs_under_bench_with_a_preset(tmp_path, data_root, capsys):
    """The adaptive FairGIN is a registered, adaptive model class: presets, widths in the records."""
    grid = {"num_layers": 3, "batch_size": 64, "dropout": [0.0, 0.5], "pooling": "sum"}
    content = {**TINY, "models": {"fair": {"class": "AdaptiveFairGIN", "preset": "awgnn", "grid": grid}}}
    assert bench(write_config(tmp_path, content), data_root, tmp_path / "results") == 0
    records = run_records(tmp_path / "results")
    assert len(records) == 2 * (2 + 1)  # 2 folds, two grid points and one final run each
    for record in records.values():
        assert record["status"] == "ok"
        assert set(record["layer_widths"]) == {"block0", "block1", "block2"}
        assert record["config"]["width_prior_std"] == 0.3  # the preset filled the grid
    summary = json.loads((tmp_path / "results" / "summary.json").read_text())
    assert summary["models"]["fair"]["per_fold"][0]["total_width"] > 0
    capsys.readouterr()
