"""Any model class under the protocol: dotted paths, PyG's node-level models pooled per graph, the contract's errors."""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import pytest
import torch
import yaml
from test_bench import bench, run_records, write_config

from awgnn.harness.config import ConfigError, load_config, model_arguments, parse_config, training_settings
from awgnn.harness.data import load_dataset
from awgnn.harness.registry import MODEL_CLASSES, PooledNodeModel, model_spec
from awgnn.harness.splits import generate_splits
from awgnn.harness.train import EpochHook, RunSettings, fit
from awgnn.nn.models import AdaptiveGIN
from awgnn.width import ELBOLoss

REPOSITORY = Path(__file__).resolve().parents[1]
PYG_CONFIG = REPOSITORY / "configs" / "pyg_gin" / "MUTAG.yaml"
# A user's package: graph classifiers that follow the contract, and classes that break it.
USER_MODULE = "awgnn_test_user_models"
USER_SOURCE = textwrap.dedent(
    """
    import torch
    from torch import nn
    from torch_geometric.nn import GINConv, global_add_pool

    from awgnn.nn import AdaptiveGINConv


    class TinyGIN(nn.Module):
        def __init__(self, in_channels, num_classes, hidden_channels=8, *, train_eps=False):
            super().__init__()
            mlp = nn.Sequential(nn.Linear(in_channels, hidden_channels), nn.ReLU())
            self.conv = GINConv(mlp, train_eps=train_eps)
            self.head = nn.Linear(hidden_channels, num_classes)

        def forward(self, x, edge_index, batch, num_graphs):
            return self.head(global_add_pool(self.conv(x, edge_index), batch, num_graphs))


    class LearnedTinyGIN(TinyGIN):
        '''The same readout around a GIN layer whose MLP learns its width.'''

        def __init__(self, in_channels, num_classes, hidden_channels=8):
            super().__init__(in_channels, num_classes, hidden_channels)
            self.conv = AdaptiveGINConv(in_channels, hidden_channels)


    class NodeOutputs(TinyGIN):
        '''Forgets to pool: one row a node.'''

        def forward(self, x, edge_index, batch, num_graphs):
            return self.head(self.conv(x, edge_index))


    class NoBatch(nn.Module):
        def __init__(self, in_channels, num_classes):
            super().__init__()

        def forward(self, x, edge_index):
            return x


    class OneSize(nn.Module):
        def __init__(self, in_channels):
            super().__init__()


    class NeedsLearningRate(TinyGIN):
        def __init__(self, in_channels, num_classes, lr):
            super().__init__(in_channels, num_classes)


    class NotAModel:
        pass
    """
)

TINY = {
    "name": "tiny",
    "dataset": "MUTAG",
    "splits": {"outer_folds": 2, "holdout": 0.1, "seed": 1},
    "protocol": {"final_runs": 1, "max_epochs": 2, "patience": 2, "seed": 3},
}


@pytest.fixture(scope="module")
def user_models(tmp_path_factory):
    """The user's package on ``sys.path`` (spawned workers inherit it), as ``PYTHONPATH=.`` would put it."""
    folder = tmp_path_factory.mktemp("user")
    (folder / f"{USER_MODULE}.py").write_text(USER_SOURCE)
    sys.path.insert(0, str(folder))
    yield USER_MODULE
    sys.path.remove(str(folder))
    sys.modules.pop(USER_MODULE, None)


def config(model_class: str, grid: dict, **section) -> dict:
    return {**TINY, "models": {"m": {"class": model_class, "grid": grid, **section}}}


# -- validation before any training --------------------------------------------------------------


@pytest.mark.parametrize(
    "model_class, grid, section, message",
    [
        ("GINClasifier", {}, {}, "models.m.class: expected one of 'AdaptiveGINClassifier'"),
        ("nopackage.models.MyGNN", {}, {}, "models.m.class: cannot import module 'nopackage.models' of"),
        ("torch_geometric.nn.models.GNI", {}, {}, "module 'torch_geometric.nn.models' has no attribute 'GNI'"),
        ("torch_geometric.nn.global_add_pool", {}, {}, "torch_geometric.nn.global_add_pool is not a torch.nn.Module"),
        ("{user}.NotAModel", {}, {}, "{user}.NotAModel is not a torch.nn.Module subclass"),
        ("{user}.OneSize", {}, {}, "constructor must take the input and output sizes as two positional arguments"),
        ("{user}.NoBatch", {}, {}, "{user}.NoBatch.forward must take (x, edge_index, batch, num_graphs)"),
        ("{user}.NeedsLearningRate", {}, {}, "NeedsLearningRate requires 'lr', which the harness keeps for training"),
        ("{user}.TinyGIN", {"hidden": 8}, {}, "models.m.grid.hidden: unknown key; expected one of"),
        ("torch_geometric.nn.models.GIN", {"num_layers": 2}, {}, "models.m.grid.hidden_channels: missing required"),
        (
            "torch_geometric.nn.models.GIN",
            {"hidden_channels": 8, "num_layers": 2, "pooling": ["sum", "add"]},
            {},
            "models.m.grid.pooling: expected one of 'sum', 'mean', 'max', got 'add'",
        ),
        (
            "AdaptiveGIN",
            {"hidden_channels": [None, 64], "num_layers": 2},
            {},
            "models.m.grid.hidden_channels: expected null (AdaptiveGIN learns these widths; for fixed widths name "
            "torch_geometric.nn.models.basic_gnn.GIN), got 64",
        ),
        (
            "{user}.TinyGIN",
            {},
            {"preset": "awgnn"},
            "models.m.preset: expected a preset whose keys TinyGIN takes (this one sets initial_width)",
        ),
        ("{user}.TinyGIN", {"width_control": "marginal"}, {}, "models.m.grid.width_control: expected null: TinyGIN"),
        ("{user}.TinyGIN", {"growth": "s2d"}, {}, "models.m.grid.growth: expected no growth: TinyGIN does not grow"),
    ],
)
def test_a_class_that_breaks_the_contract_is_refused_in_one_line(user_models, model_class, grid, section, message):
    content = config(model_class.format(user=user_models), grid, **section)
    with pytest.raises(ConfigError) as error:
        parse_config(content, source="tiny.yaml")
    text = str(error.value)
    assert text.startswith("tiny.yaml: ") and message.format(user=user_models) in text, text
    assert len(text.splitlines()) == 1


def test_keys_a_constructor_with_kwargs_rejects_stop_the_bench_before_training(tmp_path, data_root, capsys):
    # PyG's GIN passes unknown keys on to GINConv: the build of every grid point before training names them.
    path = write_config(
        tmp_path, config("torch_geometric.nn.models.GIN", {"hidden_channels": 8, "num_layers": 2, "hiden": 3})
    )
    assert bench(path, data_root, tmp_path / "results") == 2
    error = capsys.readouterr().err.strip()
    assert "models.m.grid, configuration 1" in error and "hiden" in error, error
    assert len(error.splitlines()) == 1
    assert not (tmp_path / "results" / "experiment.json").exists()


def test_a_path_to_a_registered_class_is_that_class():
    assert model_spec("awgnn.models.AdaptiveGINClassifier") is MODEL_CLASSES["AdaptiveGINClassifier"]
    assert model_spec("awgnn.nn.models.AdaptiveGIN") is MODEL_CLASSES["AdaptiveGIN"]
    pyg = model_spec("torch_geometric.nn.models.GIN")
    assert pyg.adaptive is None and pyg.node_level and pyg.size_arguments == ("in_channels", "out_channels")
    assert pyg.required == ("hidden_channels", "num_layers") and "pooling" in pyg.arguments


def test_node_level_models_are_pooled_as_the_grid_says():
    spec = MODEL_CLASSES["AdaptiveGIN"]
    model = spec.build(7, 2, {"hidden_channels": None, "num_layers": 2, "pooling": "max"})
    assert isinstance(model, PooledNodeModel) and isinstance(model.node_model, AdaptiveGIN)
    assert model.node_model.out_channels == 2 and model.pooling == "max"
    x, edge_index = torch.randn(5, 7), torch.tensor([[0, 1, 2, 3], [1, 2, 3, 4]])
    batch = torch.tensor([0, 0, 0, 1, 1])
    nodes = model.node_model(x, edge_index)
    expected = torch.stack([nodes[:3].max(0).values, nodes[3:].max(0).values])
    assert torch.allclose(model(x, edge_index, batch, 2), expected)
    assert set(model.layer_widths()) == {"layer0", "layer0.mlp", "layer1.mlp"}
    pyg = model_spec("torch_geometric.nn.models.GIN").build(7, 2, {"hidden_channels": 16, "num_layers": 3})
    assert pyg.pooling == "mean" and pyg.layer_widths() == {"layer0": 16, "layer1": 16}


# -- training ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mutag(data_root):
    data = load_dataset("MUTAG", data_root)
    return data, generate_splits(data.labels, n_outer=3, holdout=0.1, seed=0)[0]


class Objective(EpochHook):
    """Records the objective each epoch trains on."""

    def __init__(self) -> None:
        self.seen = []

    def start_epoch(self, context):
        self.seen.append(context.objective)


def train(mutag, model_class: str, point: dict, epochs: int = 3):
    data, fold = mutag
    spec = model_spec(model_class)
    hook = Objective()
    settings = RunSettings(max_epochs=epochs, patience=epochs, device="cpu", loader="memory")
    training = training_settings(point, spec.adaptive)
    model, record = fit(
        data, fold.train, fold.validation, fold.test, spec, model_arguments(point), training, settings, 0, hook
    )
    return model, record, hook.seen


@pytest.mark.parametrize(
    "model_class, point, learns",
    [
        ("{user}.TinyGIN", {"hidden_channels": 8, "batch_size": 64}, False),
        ("{user}.LearnedTinyGIN", {"batch_size": 64}, True),
        ("torch_geometric.nn.models.GCN", {"hidden_channels": 8, "num_layers": 2, "pooling": "sum"}, False),
        ("AdaptiveGCN", {"hidden_channels": None, "num_layers": 2, "initial_width": 8}, True),
    ],
)
def test_a_model_learns_its_widths_with_the_elbo_when_it_holds_any(user_models, mutag, model_class, point, learns):
    model, record, objectives = train(mutag, model_class.format(user=user_models), point)
    assert record["status"] == "ok" and record["test_score"] is not None
    assert all(isinstance(o, ELBOLoss) if learns else o is None for o in objectives), objectives
    widths = [entry["widths"] for entry in record["history"]]
    assert record["total_width"] == sum(record["layer_widths"].values())
    # A class without layer_widths() reports its learned widths by module name: none for plain PyG layers.
    assert bool(record["layer_widths"]) == (learns or model_spec(model_class.format(user=user_models)).node_level)
    assert record["num_parameters"] == sum(p.numel() for p in model.parameters())
    assert (len({json.dumps(w, sort_keys=True) for w in widths}) > 1) == learns, widths


def test_a_loss_the_grid_sets_wins_over_the_built_model(user_models, mutag):
    _, _, objectives = train(mutag, f"{user_models}.LearnedTinyGIN", {"loss": "cross_entropy"}, epochs=1)
    assert objectives == [None]


def test_a_model_that_breaks_the_output_contract_fails_its_run_with_a_clear_error(user_models, mutag):
    with pytest.raises(ValueError, match=r"NodeOutputs returned logits of shape \(\d+, 2\) for a batch of 32 graphs"):
        train(mutag, f"{user_models}.NodeOutputs", {}, epochs=1)


# -- the shipped configuration ---------------------------------------------------------------------


def test_the_pyg_configuration_runs_under_bench(tmp_path, data_root, capsys):
    content = yaml.safe_load(PYG_CONFIG.read_text())
    content["splits"]["outer_folds"] = 2
    content["protocol"].update(final_runs=1, max_epochs=2, patience=2)
    content["models"]["pyg-gin"]["grid"]["hidden_channels"] = 16  # one grid point a model: no selection runs
    results = tmp_path / "results"
    assert bench(write_config(tmp_path, content), data_root, results) == 0
    records = run_records(results)
    assert len(records) == 2 * 2
    pyg = [r for r in records.values() if r["model"] == "pyg-gin"]
    adaptive = [r for r in records.values() if r["model"] == "awgnn-gin"]
    assert all(r["status"] == "ok" and r["layer_widths"] == {"layer0": 16, "layer1": 16, "layer2": 16} for r in pyg)
    # AdaptiveGIN starts at the preset's 16 neurons a layer, and its rates move the widths from the first epoch.
    assert all(r["status"] == "ok" and set(r["layer_widths"]) >= {"layer0", "layer0.mlp"} for r in adaptive)
    assert any(r["layer_widths"] != {k: 16 for k in r["layer_widths"]} for r in adaptive)
    summary = json.loads((results / "summary.json").read_text())["models"]
    assert summary["awgnn-gin"]["adaptive"] is True and summary["pyg-gin"]["adaptive"] is None
    assert summary["pyg-gin"]["folds_scored"] == summary["awgnn-gin"]["folds_scored"] == 2
    assert "pyg-gin" in capsys.readouterr().out


def test_the_pyg_configuration_is_the_one_documented():
    config = load_config(PYG_CONFIG)
    assert [m.model_class for m in config.models] == ["torch_geometric.nn.models.GIN", "AdaptiveGIN"]
    for model in config.models:
        for point in model.points():
            model.spec.build(7, 2, model_arguments(point))
