"""Growth baselines under the harness (issue #10, item 2): epoch hooks, growth schedule, configs, restore, bench."""

import copy
import json
import re
import time

import pytest
import torch
from test_bench import TINY, bench, run_records, write_config

from awgnn.harness.batching import GraphStore, InMemoryLoader
from awgnn.harness.config import ConfigError, model_arguments, parse_config, training_settings
from awgnn.harness.data import load_dataset
from awgnn.harness.registry import MODEL_CLASSES
from awgnn.harness.splits import generate_splits
from awgnn.harness.train import EpochContext, EpochHook, GrowthSchedule, RunSettings, evaluate, fit
from awgnn.models import GrowingGINClassifier
from awgnn.width import ELBOLoss

GROWING = "GrowingGINClassifier"
METHODS = ("s2d", "s2d_fast", "firefly")


@pytest.fixture(scope="module")
def mutag(data_root):
    data = load_dataset("MUTAG", data_root)
    return data, generate_splits(data.labels, n_outer=3, holdout=0.1, seed=0)[0]


def run(mutag, model_class, point, epochs, hook=None, patience=None, seed=0):
    data, fold = mutag
    spec = MODEL_CLASSES[model_class]
    settings = RunSettings(max_epochs=epochs, patience=patience or epochs, device="cpu", loader="memory")
    return fit(
        data,
        fold.train,
        fold.validation,
        fold.test,
        spec,
        model_arguments(point),
        training_settings(point, spec.adaptive),
        settings,
        seed,
        hook,
    )


def config(grid, model_class=GROWING, protocol=None):
    return {
        **TINY,
        "protocol": {**TINY["protocol"], **(protocol or {})},
        "models": {"g": {"class": model_class, "grid": grid}},
    }


# -- configuration ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "grid, model_class, message",
    [
        (
            {"growth": "grow"},
            GROWING,
            "models.g.grid.growth: expected 's2d', 's2d_fast', 'firefly', 'tiny' or null (no growth), got 'grow'",
        ),
        ({"growth": "s2d", "growth_warmup": -1}, GROWING, "models.g.grid.growth_warmup: expected an integer >= 0"),
        (
            {"growth": "s2d", "growth_interval": [5, 0]},
            GROWING,
            "models.g.grid.growth_interval: expected an integer >= 1 (epochs between growth steps), got 0",
        ),
        ({"growth": "s2d", "growth_stop": 2.5}, GROWING, "models.g.grid.growth_stop: expected an integer >= 1"),
        ({"growth": "s2d", "growth_neurons": 0}, GROWING, "models.g.grid.growth_neurons: expected an integer >= 1"),
        (
            {"growth": "firefly", "growth_fraction": 1.5},
            GROWING,
            "models.g.grid.growth_fraction: expected a number in (0, 1]",
        ),
        ({"growth": "firefly", "growth_eps": 0}, GROWING, "models.g.grid.growth_eps: expected a number > 0"),
        (
            {"growth": "s2d", "growth_selection": "layerwise"},
            GROWING,
            "models.g.grid.growth_selection: expected 'global' (the most negative scores over all layers",
        ),
        (
            {
                "growth": "s2d",
                "growth_neurons": 4,
                "growth_fraction": [None, 0.3],
                "growth_warmup": 0,
                "growth_stop": 3,
            },
            GROWING,
            "models.g.grid.growth_neurons: expected null when growth_fraction is set",
        ),
        (
            {"growth": "s2d", "growth_warmup": 3, "growth_stop": 3},
            GROWING,
            "models.g.grid.growth_stop: expected an epoch after growth_warmup=3 (no growth step would run), got 3",
        ),
        (
            {"growth": "s2d", "growth_warmup": 2},
            GROWING,
            "models.g.grid.growth_stop: expected an epoch after growth_warmup=2 (null means max_epochs - patience = 2",
        ),
        (
            {"growth": "s2d", "growth_warmup": 0, "growth_stop": 3, "loss": "elbo"},
            GROWING,
            "models.g.grid.loss: expected 'cross_entropy'",
        ),
        (
            {"growth": "s2d"},
            "AdaptiveGINClassifier",
            "models.g.grid.growth: expected no growth: AdaptiveGINClassifier does not grow (growing classes: "
            "GrowingGINClassifier, GrowingFairGIN), got 's2d'",
        ),
        ({"growth_eps": 0.1}, "GINClassifier", "models.g.grid.growth_eps: expected no growth_eps: GINClassifier"),
    ],
)
def test_growth_keys_are_validated_with_named_errors(grid, model_class, message):
    with pytest.raises(ConfigError) as error:
        parse_config(config(grid, model_class), source="tiny.yaml")
    text = str(error.value)
    assert text.startswith("tiny.yaml: ") and message in text, text
    assert "\n" not in text


def test_valid_growth_config_and_its_defaults():
    parsed = parse_config(
        config({"growth": list(METHODS), "growth_warmup": 1}, protocol={"max_epochs": 10, "patience": 4})
    )
    points = parsed.models[0].points()
    assert [p["growth"] for p in points] == list(METHODS)
    training = training_settings(points[0], adaptive=False)
    assert training["loss"] == "cross_entropy"
    assert {
        k: training[k] for k in ("growth_interval", "growth_stop", "growth_neurons", "growth_fraction", "growth_eps")
    } == {
        "growth_interval": 10,
        "growth_stop": None,
        "growth_neurons": None,
        "growth_fraction": None,
        "growth_eps": 0.01,
    }
    settings = RunSettings(max_epochs=10, patience=4, device="cpu", loader="memory")
    for point, fraction in zip(points, (0.3, 0.3, 0.35)):
        schedule = GrowthSchedule.from_training(training_settings(point, adaptive=False), settings, seed=0)
        assert (schedule.warmup, schedule.interval, schedule.stop) == (1, 10, 6)  # stop: max_epochs - patience
        assert schedule.step.budget.fraction == fraction and schedule.step.budget.num_neurons is None
        assert schedule.step.selection == "global"
        per_layer = training_settings({**point, "growth_selection": "per_layer"}, adaptive=False)
        assert GrowthSchedule.from_training(per_layer, settings, seed=0).step.selection == "per_layer"
    assert [
        e
        for e in range(30)
        if GrowthSchedule(
            "s2d", 5, 4, 18, num_neurons=2, fraction=None, eps=0.1, optimizer_state="carry", seed=0
        ).grows_at(e)
    ] == [5, 9, 13, 17]


def test_start_width_is_checked_before_training(tmp_path, data_root, capsys):
    path = write_config(tmp_path, config({"growth": "s2d", "growth_warmup": 0, "growth_stop": 3, "start_width": 1}))
    assert bench(path, data_root, tmp_path / "results") == 2
    error = capsys.readouterr().err.strip()
    assert "models.g.grid, configuration 1" in error and "start_width must be an integer >= 2, got 1" in error


def test_growing_model_has_fixed_start_widths():
    model = GrowingGINClassifier(7, 2, num_layers=4, start_width=6, max_width=40)
    assert model.layer_widths() == {f"block{index}": 6 for index in range(4)}
    widths = [
        linear.output_width
        for mlp in (model.input_block, *(b.mlp for b in model.blocks))
        for linear in mlp.linears[:-1]
    ]
    assert all(w.fixed and w.max_width == 40 for w in widths)
    with pytest.raises(ValueError, match="max_width must be an integer >= 6, got 4"):
        GrowingGINClassifier(7, 2, start_width=6, max_width=4)


# -- the epoch hook -------------------------------------------------------------------------------


class Recorder(EpochHook):
    """Records every call's context; adds marks to the history; sleeps to show in the run's seconds."""

    def __init__(self, pause=0.0):
        self.calls = []
        self.pause = pause

    def start_epoch(self, context):
        self.calls.append(("start", context))
        time.sleep(self.pause)
        return {"started": 10 * context.epoch}

    def end_epoch(self, context):
        self.calls.append(("end", context))
        return {"ended": context.model.total_width()} if context.epoch % 2 else None


@pytest.mark.parametrize(
    "model_class, point, objective",
    [
        ("AdaptiveGINClassifier", {"num_layers": 2}, ELBOLoss),
        ("GINClassifier", {"num_layers": 2, "hidden_channels": 8}, type(None)),
    ],
)
def test_hook_runs_at_start_and_end_of_every_epoch(mutag, model_class, point, objective):
    data, fold = mutag
    hook = Recorder(pause=0.05)
    model, record = run(mutag, model_class, point, epochs=4, hook=hook)
    assert [(phase, c.epoch) for phase, c in hook.calls] == [(p, e) for e in range(4) for p in ("start", "end")]
    for _, context in hook.calls:
        assert isinstance(context, EpochContext)
        assert context.model is model  # one monitor: the trained model itself is restored and returned
        assert isinstance(context.objective, objective) and context.data is data
        assert {id(p) for g in context.optimizer.param_groups for p in g["params"]} == {
            id(p) for p in model.parameters()
        }
        assert sorted(context.train_loader.indices.tolist()) == sorted(fold.train)  # inner-train graphs only
    history = record["history"]
    assert [h["started"] for h in history] == [0, 10, 20, 30]
    assert ["ended" in h for h in history] == [False, True, False, True]
    assert history[1]["ended"] == sum(history[1]["widths"].values())
    assert record["seconds"] >= 4 * 0.05


def test_hook_without_changes_leaves_the_run_as_it_was(mutag):
    plain = run(mutag, "AdaptiveGINClassifier", {"num_layers": 2}, epochs=3)[1]
    hooked = run(mutag, "AdaptiveGINClassifier", {"num_layers": 2}, epochs=3, hook=Recorder())[1]
    strip = ("started", "ended")
    assert [{k: v for k, v in h.items() if k not in strip} for h in hooked["history"]] == plain["history"]
    assert (hooked["val_score"], hooked["test_score"], hooked["layer_widths"]) == (
        plain["val_score"],
        plain["test_score"],
        plain["layer_widths"],
    )


@pytest.mark.parametrize("returned, key", [({"val_score": 1.0}, "val_score"), ({"growth": 1}, "growth")])
def test_hook_keys_must_not_overwrite_the_history(mutag, returned, key):
    class Clash(EpochHook):
        def start_epoch(self, context):
            return returned

    point = {"num_layers": 2, "growth": "s2d", "growth_warmup": 0, "growth_stop": 1}
    with pytest.raises(ValueError, match=f"Clash.start_epoch returned the history key '{key}'"):
        run(mutag, GROWING, point, epochs=2, hook=Clash())


def test_growth_on_a_model_that_does_not_grow_is_refused(mutag):
    with pytest.raises(ValueError, match="training\\['growth'\\] is 's2d' but GINClassifier does not grow"):
        run(mutag, "GINClassifier", {"growth": "s2d", "growth_stop": 2}, epochs=2)


# -- growth under fit -----------------------------------------------------------------------------


@pytest.mark.parametrize("method", METHODS)
def test_growth_follows_its_schedule_in_the_history(mutag, method):
    point = {"num_layers": 3, "growth": method, "growth_warmup": 1, "growth_interval": 2, "growth_stop": 6}
    model, record = run(mutag, GROWING, point, epochs=8)
    history = record["history"]
    assert [h["epoch"] for h in history if "growth" in h] == [1, 3, 5]
    assert history[0]["widths"] == {"block0": 8, "block1": 8, "block2": 8}
    for previous, entry in zip(history, history[1:]):
        before, after = sum(previous["widths"].values()), sum(entry["widths"].values())
        if "growth" in entry:
            growth = entry["growth"]
            assert growth["before"] == previous["widths"]
            # The budget: the reference fraction of the current neurons, all of it taken here.
            expected = int((0.35 if method == "firefly" else 0.3) * before)
            assert growth["added"] == after - before == expected > 0
            assert growth["predicted_change"] < 0 and growth["seconds"] > 0
        else:
            assert entry["widths"] == previous["widths"]
    assert model.layer_widths() == record["layer_widths"] == history[record["best_epoch"]]["widths"]
    assert record["num_parameters"] == sum(p.numel() for p in model.parameters())


def test_growth_budget_in_neurons_and_no_growth(mutag):
    point = {
        "num_layers": 2,
        "growth": "s2d",
        "growth_warmup": 0,
        "growth_interval": 1,
        "growth_stop": 2,
        "growth_neurons": 3,
    }
    history = run(mutag, GROWING, point, epochs=3)[1]["history"]
    assert [sum(h["widths"].values()) for h in history] == [19, 22, 22]
    assert [h["growth"]["added"] for h in history[:2]] == [3, 3]
    plain = run(mutag, GROWING, {"num_layers": 2}, epochs=3)[1]["history"]
    assert all(h["widths"] == {"block0": 8, "block1": 8} and "growth" not in h for h in plain)


@pytest.mark.parametrize("method", ["s2d", "firefly"])
def test_per_layer_selection_under_fit_grows_every_block_by_its_share(mutag, method):
    point = {
        "num_layers": 3,
        "growth": method,
        "growth_selection": "per_layer",
        "growth_warmup": 0,
        "growth_interval": 1,
        "growth_stop": 1,
    }
    history = run(mutag, GROWING, point, epochs=2)[1]["history"]
    budget = int((0.35 if method == "firefly" else 0.3) * 24)  # the reference fraction of 3 blocks of 8
    assert history[0]["widths"] == {f"block{b}": 8 + budget * 8 // 24 for b in range(3)}
    globally = run(mutag, GROWING, {**point, "growth_selection": "global"}, epochs=2)[1]["history"]
    assert globally[0]["widths"] != history[0]["widths"]  # the key reaches the step: the default splits otherwise


def test_growth_is_reproducible(mutag):
    point = {"num_layers": 2, "growth": "firefly", "growth_warmup": 1, "growth_interval": 1, "growth_stop": 3}
    first, second = (run(mutag, GROWING, point, epochs=4, seed=3)[1] for _ in range(2))
    assert untimed(first["history"]) == untimed(second["history"]) and first["test_score"] == second["test_score"]
    assert [h["growth"]["added"] for h in first["history"][1:3]] == [5, 7]  # 0.35 of 16, then of 21


def untimed(history):
    """The history without the growth steps' seconds."""
    return [{**h, "growth": {**h["growth"], "seconds": 0}} if "growth" in h else h for h in history]


class Sabotage(EpochHook):
    """From ``epoch`` on, wrecks the heads after the growth step; keeps a copy of the model after every epoch."""

    def __init__(self, epoch):
        self.epoch = epoch
        self.copies = []

    def start_epoch(self, context):
        if context.epoch >= self.epoch:
            generator = torch.Generator().manual_seed(context.epoch)
            with torch.no_grad():
                for head in context.model.heads:
                    head.weight.copy_(100 * torch.randn(head.weight.shape, generator=generator))

    def end_epoch(self, context):
        self.copies.append(copy.deepcopy(context.model))


@pytest.mark.parametrize("method", [*METHODS, "tiny"])
def test_best_epoch_before_a_growth_is_restored_with_its_widths(mutag, method):
    """The best epoch's snapshot has fewer neurons than the last model; the restore gives its widths and outputs."""
    if method == "tiny":
        pytest.importorskip("gromo")
    data, fold = mutag
    point = {
        "num_layers": 3,
        "growth": method,
        "growth_warmup": 2,
        "growth_interval": 1,
        "growth_stop": 4,
        "monitor": "val_loss",
    }
    hook = Sabotage(epoch=2)
    model, record = run(mutag, GROWING, point, epochs=5, hook=hook)
    history = record["history"]
    best = record["best_epoch"]
    assert best < 2 and len(history) == 5
    assert [h["epoch"] for h in history if "growth" in h] == [2, 3]
    assert sum(history[-1]["widths"].values()) > sum(history[best]["widths"].values()) == 24
    assert model.layer_widths() == record["layer_widths"] == history[best]["widths"]
    reference = hook.copies[best]
    assert model.state_dict().keys() == reference.state_dict().keys()
    for name, value in reference.state_dict().items():  # tensors, and each width's extra state
        assert (
            torch.equal(model.state_dict()[name], value)
            if isinstance(value, torch.Tensor)
            else model.state_dict()[name] == value
        ), name
    assert all(
        w.fixed
        for w in (
            linear.output_width
            for mlp in (model.input_block, *(b.mlp for b in model.blocks))
            for linear in mlp.linears[:-1]
        )
    )
    loader = list(InMemoryLoader(GraphStore.from_dataset(data.dataset), list(fold.validation), 64))
    model.eval()
    reference.eval()
    with torch.no_grad():
        for batch in loader:
            args = (batch.x, batch.edge_index, batch.batch, batch.num_graphs)
            assert torch.equal(model(*args), reference(*args))
    assert record["val_score"] == evaluate(reference, loader, data)[1]
    assert record["val_score"] == history[best]["val_score"]


# -- awgnn bench ----------------------------------------------------------------------------------


@pytest.mark.parametrize("model_class", [GROWING, "GrowingFairGIN"])
@pytest.mark.parametrize("method", METHODS)
def test_each_method_runs_under_bench_and_reports_grown_widths(tmp_path, data_root, capsys, method, model_class):
    grid = {
        "num_layers": 2,
        "batch_size": 64,
        "growth": method,
        "growth_warmup": 0,
        "growth_interval": 1,
        "growth_stop": 2,
    }
    path = write_config(tmp_path, config(grid, model_class, protocol={"max_epochs": 3, "patience": 3}))
    assert bench(path, data_root, tmp_path / "results") == 0
    records = run_records(tmp_path / "results")
    assert len(records) == 2  # 2 folds, one final run each (one grid point: no selection run)
    for record in records.values():
        assert record["status"] == "ok"
        history = record["history"]
        assert [h["epoch"] for h in history if "growth" in h] == [0, 1]
        assert sum(record["layer_widths"].values()) == sum(history[record["best_epoch"]]["widths"].values()) > 16
    summary = json.loads((tmp_path / "results" / "summary.json").read_text())
    report = (tmp_path / "results" / "report.md").read_text()
    for fold in summary["models"]["g"]["per_fold"]:
        (widths,) = fold["layer_widths"]
        assert fold["total_width"] == sum(widths.values()) > 16
        cell = f"{len(widths)} layers (1 run): {', '.join(str(v) for v in widths.values())}"
        assert f"| {cell} | {fold['total_width']:.0f} |" in report
    capsys.readouterr()


# -- TINY (needs the optional extra growth) -------------------------------------------------------


def test_tiny_grows_on_schedule_under_fit_and_bench(mutag, tmp_path, data_root, capsys):
    pytest.importorskip("gromo")
    point = {"num_layers": 3, "growth": "tiny", "growth_warmup": 1, "growth_interval": 2, "growth_stop": 6}
    _, record = run(mutag, GROWING, point, epochs=7)
    history = record["history"]
    assert [h["epoch"] for h in history if "growth" in h] == [1, 3, 5]
    for previous, entry in zip(history, history[1:]):
        added = sum(entry["widths"].values()) - sum(previous["widths"].values())
        if "growth" in entry:
            # At most 8 neurons a layer (the default budget); the line search may keep a layer as it is.
            assert entry["growth"]["added"] == added and 0 <= added <= 8 * 3
            assert entry["growth"]["predicted_change"] <= 0
        else:
            assert added == 0
    assert sum(h["growth"]["added"] for h in history if "growth" in h) > 0, "TINY never grew on MUTAG"

    grid = {
        "num_layers": 2,
        "batch_size": 64,
        "growth": "tiny",
        "growth_warmup": 0,
        "growth_interval": 1,
        "growth_stop": 2,
        "growth_neurons": 4,
    }
    for model_class in (GROWING, "GrowingFairGIN"):
        path = write_config(tmp_path, config(grid, model_class, protocol={"max_epochs": 3, "patience": 3}))
        results = tmp_path / model_class
        assert bench(path, data_root, results) == 0
        records = run_records(results)
        assert len(records) == 2 and all(r["status"] == "ok" for r in records.values())
        assert all([h["epoch"] for h in r["history"] if "growth" in h] == [0, 1] for r in records.values())
    capsys.readouterr()


@pytest.mark.parametrize(
    "grid, message",
    [
        ({"growth": "tiny", "growth_fraction": 0.3}, "models.g.grid.growth_fraction: expected null for tiny"),
        ({"growth": "tiny", "growth_threshold": 0}, "models.g.grid.growth_threshold: expected a number > 0"),
        (
            {"growth": "tiny", "growth_selection": "per_layer"},
            "models.g.grid.growth_selection: expected no growth_selection for tiny "
            "(it grows every layer by growth_neurons)",
        ),
    ],
)
def test_tiny_keys_are_checked(tmp_path, grid, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        parse_config(config(grid), source="exp.yaml")
