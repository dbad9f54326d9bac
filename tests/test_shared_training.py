"""Grid points that differ only in the early-stopping monitor are trained once (issue #12, item 2)."""

import json
import time

import pytest
import torch
from test_bench import REPOSITORY, TINY, bench, run_records, write_config

import awgnn.harness.runner as runner
import awgnn.harness.train as train
from awgnn.harness.config import load_config, model_arguments, training_settings
from awgnn.harness.data import load_dataset
from awgnn.harness.protocol import SELECTION, RunKey, shared_trainings
from awgnn.harness.registry import MODEL_CLASSES
from awgnn.harness.runner import IMPORTED_SOURCE, SHARED_TRAININGS, Experiment, RunTask, execute_task
from awgnn.harness.splits import generate_splits
from awgnn.harness.train import NonFiniteLoss, RunSettings, fit, fit_monitors

MONITORS = ["val_accuracy", "val_loss"]
TIMING = {"seconds", "cpu_seconds"}  # the only fields in which a shared run's record differs from a separate run's

# FairGIN with dropout kept at evaluation: scoring draws random numbers, which must not reach the training.
FAIR_GIN = ("FairGIN", {"hidden_units": [16, 16], "dropout": 0.5, "gc_eval_dropout": True, "batch_size": 32})
ADAPTIVE_GIN = ("AdaptiveGINClassifier", {"num_layers": 2, "batch_size": 32})
SETTINGS = RunSettings(max_epochs=30, patience=4, device="cpu", loader="memory")
SEED = 1  # where the search for a seed at which the two monitors stop at different epochs starts

SHARED = {
    **TINY,
    "protocol": {**TINY["protocol"], "max_epochs": 8, "patience": 2},
    "models": {
        "gin": {
            "class": "FairGIN",
            "grid": {"hidden_units": [[8], [16]], "monitor": MONITORS, "dropout": 0.5, "batch_size": 64},
        }
    },
}


def without_timing(record: dict) -> dict:
    return {key: value for key, value in record.items() if key not in TIMING}


@pytest.fixture(scope="module")
def mutag(data_root):
    data = load_dataset("MUTAG", data_root)
    return data, generate_splits(data.labels, n_outer=3, holdout=0.1, seed=0)[0]


def train_both_ways(mutag, model_class, point, settings=SETTINGS, seed=SEED):
    """The shared training of both monitors, and a separate run per monitor."""
    data, fold = mutag
    spec = MODEL_CLASSES[model_class]
    training = training_settings(point, spec.adaptive)
    arguments = (data, fold.train, fold.validation, fold.test, spec, model_arguments(point))
    shared = fit_monitors(*arguments, training, settings, seed, MONITORS)
    alone = [fit(*arguments, {**training, "monitor": monitor}, settings, seed) for monitor in MONITORS]
    return shared, alone


def seed_with_different_stops(mutag, model_class, point):
    """The first seed from SEED on at which the two monitors stop at different epochs.

    Which seed that is depends on the CPU's floating-point kernels, so it is searched, not fixed.
    """
    data, fold = mutag
    spec = MODEL_CLASSES[model_class]
    arguments = (data, fold.train, fold.validation, fold.test, spec, model_arguments(point))
    for seed in range(SEED, SEED + 10):
        shared = fit_monitors(*arguments, training_settings(point, spec.adaptive), SETTINGS, seed, MONITORS)
        if shared[0][1]["epochs"] != shared[1][1]["epochs"]:
            return seed
    raise AssertionError("no seed in ten makes the monitors stop at different epochs")


@pytest.mark.parametrize("model_class, point", [FAIR_GIN, ADAPTIVE_GIN])
def test_shared_training_gives_the_records_and_models_of_separate_runs(mutag, model_class, point):
    seed = seed_with_different_stops(mutag, model_class, point)
    shared, alone = train_both_ways(mutag, model_class, point, seed=seed)
    for (model, record), (alone_model, alone_record) in zip(shared, alone):
        assert without_timing(record) == without_timing(alone_record)
        state, alone_state = model.state_dict(), alone_model.state_dict()
        assert state.keys() == alone_state.keys()
        assert all(torch.equal(state[k], alone_state[k]) for k in state if isinstance(state[k], torch.Tensor))
    stops = [record["epochs"] for _, record in shared]
    assert stops[0] != stops[1], "the monitors stop at different epochs, so one trains on after the other stopped"
    assert shared[0][0] is not shared[1][0]


def test_shared_seconds_add_up_to_the_training_time(mutag):
    """Wall and process CPU time alike: the monitors' shares add up to the training's."""
    data, fold = mutag
    model_class, point = FAIR_GIN
    spec = MODEL_CLASSES[model_class]
    started, started_cpu = time.perf_counter(), time.process_time()
    shared = fit_monitors(
        data,
        fold.train,
        fold.validation,
        fold.test,
        spec,
        model_arguments(point),
        training_settings(point, spec.adaptive),
        SETTINGS,
        SEED,
        MONITORS,
    )
    wall, cpu = time.perf_counter() - started, time.process_time() - started_cpu
    for key, total in (("seconds", wall), ("cpu_seconds", cpu)):
        shares = [record[key] for _, record in shared]
        assert all(s > 0 for s in shares)
        assert 0.9 * total <= sum(shares) <= total


def test_a_nan_loss_ends_only_the_monitors_still_training(mutag, monkeypatch):
    """The loss turns NaN in the epoch after val_loss stopped: that monitor's run is complete and "ok"."""
    shared, _ = train_both_ways(mutag, *FAIR_GIN)
    stopped_first = min(record["epochs"] for _, record in shared)
    real_train_epoch = train.train_epoch
    calls = []

    def nan_after_the_first_stop(*args, **kwargs):
        calls.append(1)
        if len(calls) > stopped_first:
            calls.clear()  # the next training starts counting afresh
            raise NonFiniteLoss("loss nan")
        return real_train_epoch(*args, **kwargs)

    monkeypatch.setattr(train, "train_epoch", nan_after_the_first_stop)
    shared, alone = train_both_ways(mutag, *FAIR_GIN)
    assert sorted(record["status"] for _, record in shared) == ["nan", "ok"]
    for (_, record), (_, alone_record) in zip(shared, alone):
        assert without_timing(record) == without_timing(alone_record)
    nan = next(record for _, record in shared if record["status"] == "nan")
    assert nan["val_score"] is None and nan["test_score"] is None and nan["epochs"] == stopped_first


def test_monitors_are_validated(mutag):
    data, fold = mutag
    model_class, point = FAIR_GIN
    spec = MODEL_CLASSES[model_class]
    arguments = (
        data,
        fold.train,
        fold.validation,
        None,
        spec,
        model_arguments(point),
        training_settings(point, spec.adaptive),
        SETTINGS,
        SEED,
    )
    with pytest.raises(ValueError, match="monitors must name at least one early-stopping monitor, got none"):
        fit_monitors(*arguments, [])
    with pytest.raises(ValueError, match="monitors must be one of 'val_accuracy', 'val_loss', got 'val_acc'"):
        fit_monitors(*arguments, ["val_accuracy", "val_acc"])


def test_grid_points_are_grouped_by_what_they_train():
    grid = [{"batch": b, "monitor": m, "dropout": d} for b in (32, 128) for m in MONITORS for d in (0.5, 0.0)]
    assert shared_trainings(grid) == [(0, 2), (1, 3), (4, 6), (5, 7)]
    assert shared_trainings([{"hidden": 8}, {"hidden": 16}]) == [(0,), (1,)]
    assert shared_trainings([{"hidden": 8}, {"hidden": 8}]) == [(0, 1)], "a repeated point is trained once"
    fixed_gin = load_config(REPOSITORY / "configs" / "gin_fixed" / "NCI1.yaml").models[0].points()
    groups = shared_trainings(fixed_gin)
    assert len(fixed_gin) == 128 and len(groups) == 64
    assert all(len({fixed_gin[i]["monitor"] for i in group}) == 2 for group in groups)


# -- through the harness ---------------------------------------------------------------------------------


@pytest.fixture
def count_trainings(monkeypatch):
    """The monitors of every training the harness starts in this process (``--workers 1``)."""
    trainings = []
    real = runner.fit_monitors

    def counted(*args):
        trainings.append(list(args[-1]))
        return real(*args)

    monkeypatch.setattr(runner, "fit_monitors", counted)
    return trainings


def separate_run(config_file, data_root, results, key: RunKey, seed: int) -> dict:
    """The record of ``key`` trained alone from ``seed``, as a task of its own."""
    config = load_config(config_file)
    experiment = Experiment(config, data_root, results)
    experiment.prepare()
    (model,) = config.models
    fold = experiment.splits[key.fold]
    protocol = config.protocol
    task = RunTask(
        keys=(key,),
        model_class=model.model_class,
        points=(model.points()[key.config_id],),
        dataset=config.dataset.name,
        features=None,
        data_root=str(data_root),
        train=fold.train,
        validation=fold.validation,
        test=None,
        settings=RunSettings(protocol.max_epochs, protocol.patience, protocol.device, protocol.loader),
        seed=seed,
        code_version=experiment.code_version,
        source_digest=IMPORTED_SOURCE,
    )
    (record,) = execute_task(task)["records"]
    return record


def test_the_harness_trains_each_monitor_pair_once_with_the_records_of_separate_runs(
    tmp_path, data_root, count_trainings
):
    results = tmp_path / "results"
    config = write_config(tmp_path, SHARED)
    assert bench(config, data_root, results) == 0
    records = run_records(results)
    assert len(records) == 2 * (4 + 1)
    assert sorted(map(len, count_trainings)) == [1, 1, 2, 2, 2, 2], "2 folds x 2 trainings + 2 final runs"
    assert json.loads((results / "experiment.json").read_text())[SHARED_TRAININGS] is True
    assert "share one training, counted once" in (results / "report.md").read_text()
    for fold in range(2):
        for first, second in [(0, 1), (2, 3)]:
            pair = [records[f"gin/OUTER_FOLD_{fold + 1}/MODEL_SELECTION/config_{i + 1}.json"] for i in (first, second)]
            seed = RunKey("gin", fold, SELECTION, first).seed(SHARED["protocol"]["seed"])
            assert [r["seed"] for r in pair] == [seed, seed]
            assert [r["config"]["monitor"] for r in pair] == MONITORS
            for config_id, record in zip((first, second), pair):
                alone = separate_run(config, data_root, results, RunKey("gin", fold, SELECTION, config_id), seed)
                assert without_timing(alone) == without_timing(record)


def test_a_training_interrupted_between_its_records_resumes_only_the_missing_one(tmp_path, data_root, count_trainings):
    results = tmp_path / "results"
    config = write_config(tmp_path, SHARED)
    assert bench(config, data_root, results) == 0
    missing = results / "gin" / "OUTER_FOLD_2" / "MODEL_SELECTION" / "config_2.json"
    deleted = json.loads(missing.read_text())
    missing.unlink()  # as if killed after writing the first record of the pair
    kept = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in results.glob("gin/**/*.json")}
    count_trainings.clear()

    assert bench(config, data_root, results) == 0
    assert count_trainings == [["val_loss"]], "only the missing monitor is trained again"
    assert without_timing(json.loads(missing.read_text())) == without_timing(deleted)
    for path, (content, mtime) in kept.items():
        assert path.read_bytes() == content and path.stat().st_mtime_ns == mtime, path


def test_a_folder_written_before_shared_trainings_keeps_one_training_and_seed_per_point(
    tmp_path, data_root, count_trainings
):
    results = tmp_path / "results"
    config = write_config(tmp_path, SHARED)
    assert bench(config, data_root, results) == 0
    experiment_file = results / "experiment.json"
    experiment = json.loads(experiment_file.read_text())
    del experiment[SHARED_TRAININGS]  # the folder as an earlier awgnn wrote it
    experiment_file.write_text(json.dumps(experiment))
    for path in (results / "gin" / "OUTER_FOLD_2").rglob("*.json"):
        path.unlink()
    kept = {p: p.read_bytes() for p in results.glob("gin/**/*.json")}
    count_trainings.clear()

    assert bench(config, data_root, results) == 0
    assert sorted(map(len, count_trainings)) == [1] * 5, "4 selection runs and a final run, one training each"
    records = run_records(results)
    base_seed = SHARED["protocol"]["seed"]
    for config_id in range(4):
        record = records[f"gin/OUTER_FOLD_2/MODEL_SELECTION/config_{config_id + 1}.json"]
        assert record["seed"] == RunKey("gin", 1, SELECTION, config_id).seed(base_seed)
    assert all(path.read_bytes() == content for path, content in kept.items())
    assert json.loads((results / "summary.json").read_text())["models"]["gin"]["folds_scored"] == 2
    assert "every grid point has its own training" in (results / "report.md").read_text()
