"""Model selection and aggregation of the protocol, on fake scores."""

import json
import math

import numpy as np
import pytest

from awgnn.harness.config import parse_config
from awgnn.harness.protocol import (
    FINAL,
    SELECTION,
    FoldResult,
    RunKey,
    Selection,
    final_keys,
    select_best,
    selection_keys,
    summarise,
)
from awgnn.harness.report import cpu_seconds, summary
from awgnn.harness.runner import ExperimentResults
from awgnn.harness.store import ResultStore


def test_highest_validation_score_wins():
    assert select_best([0.7, 0.9, 0.8]).config_id == 1


@pytest.mark.parametrize("tie_break, winner", [("first", 1), ("last", 3)])
def test_ties_are_broken_in_grid_order(tie_break, winner):
    selection = select_best([0.5, 0.9, 0.2, 0.9], tie_break)
    assert selection.config_id == winner and selection.tied == (1, 3) and selection.val_score == 0.9


def test_failed_runs_never_win():
    assert select_best([None, float("nan"), 0.1]).config_id == 2
    with pytest.raises(ValueError, match="every configuration of this fold failed"):
        select_best([None, float("nan")])
    with pytest.raises(ValueError, match="tie_break"):
        select_best([0.1], "random")


def test_fold_score_is_mean_of_final_runs():
    fold = FoldResult(0, select_best([0.5]), (0.8, 0.9, 1.0))
    assert fold.score == pytest.approx(0.9)
    assert FoldResult(0, select_best([0.5]), (0.8, None)).score is None


def test_summary_uses_population_std():
    folds = [FoldResult(k, select_best([0.5]), (score,)) for k, score in enumerate([0.7, 0.8, 0.9, 1.0])]
    result = summarise(folds)
    assert result["mean"] == pytest.approx(0.85)
    assert result["std"] == pytest.approx(np.std([0.7, 0.8, 0.9, 1.0], ddof=0))
    assert result["std"] == pytest.approx(math.sqrt(0.0125))
    assert result["folds_scored"] == 4


def test_run_keys_paths_and_seeds():
    selection = selection_keys("gin", 2, 3)
    finals = final_keys("gin", 2, 1, 2)
    assert [k.relative_path for k in selection] == [
        f"gin/OUTER_FOLD_3/MODEL_SELECTION/config_{i}.json" for i in (1, 2, 3)
    ]
    assert [k.relative_path for k in finals] == [
        "gin/OUTER_FOLD_3/final_run_1.json",
        "gin/OUTER_FOLD_3/final_run_2.json",
    ]
    seeds = [k.seed(0) for k in selection + finals]
    assert len(set(seeds)) == len(seeds), "every run has its own seed"
    assert seeds == [k.seed(0) for k in selection + finals], "seeds are reproducible"
    assert selection[0].seed(0) != selection[0].seed(1)


def record(val, test, seconds):
    """A run record with the given scores, as the harness writes it."""
    return {
        "status": "ok",
        "val_score": val,
        "test_score": test,
        "train_score": 1.0,
        "seed": 0,
        "layer_widths": {"block0": 8},
        "total_width": 8,
        "num_parameters": 100,
        "seconds": seconds,
        "history": [],
    }


def fake_store(tmp_path, hidden_channels, num_folds, tie_break="first"):
    """An empty results folder claimed by a GIN grid over ``hidden_channels``, and its configuration."""
    config = parse_config(
        {
            "dataset": "MUTAG",
            "protocol": {"final_runs": 2, "tie_break": tie_break},
            "models": {"m": {"class": "GINClassifier", "grid": {"hidden_channels": hidden_channels}}},
        },
        source="fake.yaml",
    )
    store = ResultStore(tmp_path)
    store.claim(
        config,
        {
            "num_folds": num_folds,
            "splits_source": "fake",
            "metric": "accuracy",
            "chance_level": 0.66,
            "versions": {},
            "machine": "test",
        },
    )
    return config, store


def fake_experiment(tmp_path, val_scores, test_scores, tie_break="first"):
    """A results folder whose runs have the given scores, written as the harness writes them."""
    config, store = fake_store(tmp_path, [8, 16, 32], len(val_scores), tie_break)
    for fold, scores in enumerate(val_scores):
        for config_id, val in enumerate(scores):
            store.write(RunKey("m", fold, SELECTION, config_id), record(val, None, 1.0))
        winner = select_best(scores, tie_break).config_id
        for repeat, test in enumerate(test_scores[fold]):
            store.write(RunKey("m", fold, FINAL, winner, repeat), record(None, test, 2.0))
    return ExperimentResults(config, store, len(val_scores))


def test_results_are_aggregated_from_run_records(tmp_path):
    results = fake_experiment(tmp_path, [[0.6, 0.8, 0.8], [0.9, 0.1, 0.2]], [[0.7, 0.9], [0.6, 0.6]])
    assert results.selection("m", 0).config_id == 1 and results.selection("m", 0).tied == (1, 2)
    assert results.selection("m", 1).config_id == 0
    model = summary(results)["models"]["m"]
    assert model["mean"] == pytest.approx(0.7) and model["std"] == pytest.approx(0.1)
    assert [f["selected_config"] for f in model["per_fold"]] == [2, 1]
    assert [f["config"] for f in model["per_fold"]] == [{"hidden_channels": 16}, {"hidden_channels": 8}]
    assert model["per_fold"][0]["seconds"] == pytest.approx(3 * 1.0 + 2 * 2.0)
    assert model["folds_at_chance"] == [2], "0.6 is below the majority-class rate 0.66"


def test_a_single_configuration_wins_without_selection_runs(tmp_path):
    assert selection_keys("m", 0, 1) == []
    config, store = fake_store(tmp_path, 16, num_folds=2)
    results = ExperimentResults(config, store, 2)
    assert results.total_runs() == 2 * 2, "final runs only"
    assert results.selection("m", 0) == Selection(0, None, (0,))
    assert results.final_keys("m", 0) == final_keys("m", 0, 0, 2)
    for fold, tests in enumerate([(0.7, 0.9), (0.6, 0.8)]):
        for repeat, test in enumerate(tests):
            store.write(RunKey("m", fold, FINAL, 0, repeat), record(None, test, 2.0))
    model = summary(results)["models"]["m"]
    assert model["mean"] == pytest.approx(0.75) and model["std"] == pytest.approx(0.05)
    assert [f["val_score"] for f in model["per_fold"]] == [None, None]
    assert model["selection_seconds"] == 0 and model["seconds"] == pytest.approx(4 * 2.0)
    assert sorted(str(k.relative_path) for k in results.stored_keys()) == [
        f"m/OUTER_FOLD_{fold}/final_run_{repeat}.json" for fold in (1, 2) for repeat in (1, 2)
    ]


def test_last_tie_break_changes_the_winner(tmp_path):
    results = fake_experiment(tmp_path, [[0.6, 0.8, 0.8]], [[0.5, 0.5]], tie_break="last")
    assert results.selection("m", 0).config_id == 2


def test_incomplete_fold_has_no_result(tmp_path):
    results = fake_experiment(tmp_path, [[0.6, 0.8, 0.8]], [[0.5, 0.5]])
    results.store.path(final_keys("m", 0, 1, 2)[1]).unlink()
    assert results.fold_result("m", 0) is None
    assert json.loads(results.store.path(final_keys("m", 0, 1, 2)[0]).read_text())["test_score"] == 0.5


def test_config_round_trips_through_its_dictionary():
    config = parse_config(
        {
            "dataset": {"name": "IMDB-BINARY", "features": "constant"},
            "models": {"m": {"class": "FairGIN", "grid": {"hidden_units": [[8, 8], [4]]}}},
        }
    )
    assert parse_config(config.to_dict()) == config
    assert parse_config(config.to_dict()).fingerprint() == config.fingerprint()


def test_cpu_seconds_fall_back_to_wall_time_for_older_records():
    assert cpu_seconds({"seconds": 2.0, "cpu_seconds": 1.5}) == 1.5
    assert cpu_seconds({"seconds": 2.0}) == 2.0  # written before runs measured their CPU time
