"""The reproduction runner's bookkeeping: compact records, within-one-std verdicts, cost estimates."""

import argparse
import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import reproduction  # noqa: E402


def _record(epochs):
    return {
        "val_score": 0.7,
        "test_score": 0.6,
        "layer_widths": {"block0": 16},
        "seconds": 3.0,
        "history": [
            {"epoch": e, "train_loss": 1.0, "val_score": 0.5, "widths": {"block0": 16 + e}} for e in range(epochs)
        ],
    }


def test_compact_keeps_scores_and_only_the_final_runs_widths_and_growth_steps(tmp_path):
    selection = tmp_path / "gin" / "OUTER_FOLD_1" / "MODEL_SELECTION" / "config_1.json"
    final = tmp_path / "gin" / "OUTER_FOLD_1" / "final_run_1.json"
    for path in (selection, final):
        path.parent.mkdir(parents=True, exist_ok=True)
        record = _record(3)
        record["history"][1]["growth"] = {"added": 4, "split": 1, "seconds": 0.5}
        path.write_text(json.dumps(record))
    (tmp_path / "plots").mkdir()
    (tmp_path / "report.md").write_text("x")
    (tmp_path / "summary.json").write_text("{}")
    reproduction.compact(tmp_path)
    kept = json.loads(selection.read_text())
    assert kept["history"] == [] and kept["val_score"] == 0.7 and kept["seconds"] == 3.0
    widths = [{"epoch": e, "widths": {"block0": 16 + e}} for e in range(3)]
    widths[1]["growth"] = {"added": 4, "split": 1, "seconds": 0.5}
    assert json.loads(final.read_text())["history"] == widths
    assert not (tmp_path / "plots").exists() and not (tmp_path / "report.md").exists()
    assert (tmp_path / "summary.json").is_file()
    before = final.stat().st_mtime_ns
    reproduction.compact(tmp_path)  # idempotent: nothing left to strip, nothing rewritten
    assert final.stat().st_mtime_ns == before


def _cell(mean, std, seconds=7200.0):
    return {
        "mean": mean,
        "std": std,
        "num_parameters": 1000.0,
        "cpu_seconds": seconds,
        "selection_cpu_seconds": seconds / 2,
        "total_width": {"mean": 48.0, "std": 2.0},
        "per_fold": [],
    }


@pytest.mark.parametrize(
    "mean, verdict",
    [(0.733, "within 1 std"), (0.694, "within 1 std"), (0.690, "outside 1 std"), (0.780, "outside 1 std")],
)
def test_fixed_gin_against_the_published_row(mean, verdict):
    text = reproduction.fixed_text("PROTEINS", _cell(mean, 0.02), "pending")  # published 73.3 ± 4.0
    assert verdict in text and text.startswith(f"{100 * mean:.1f} ± 2.0") and "2.00 CPU-h" in text


def test_pending_cells_are_estimated_from_the_finished_ones_by_graphs_times_nodes():
    done = {"PROTEINS": _cell(0.7, 0.02, seconds=3600.0)}  # 1 CPU-h for 1113 graphs of 39.1 nodes
    estimate = reproduction.estimate_hours(done, "DD")
    assert estimate == pytest.approx(1178 * 284.3 / (1113 * 39.1))
    assert reproduction.estimate_hours({}, "DD") is None
    assert reproduction.pending_text(estimate).startswith("pending (est. 7.7 CPU-h")
    assert reproduction.pending_text(None) == "pending"


def test_a_started_cell_is_estimated_from_its_own_runs():
    # 6 of 60 runs stored, 1,800 CPU-seconds: 300 s a run, 5 CPU-h for the cell, whatever other cells suggest
    started = reproduction.Progress(folds_scored=1, runs_done=6, total_runs=60, seconds=1800.0)
    assert started.estimate_hours() == pytest.approx(5.0)
    assert (
        reproduction.pending_text(1.2, started)
        == "pending (1 of 10 folds scored; est. 5.0 CPU-h from its 6 of 60 runs)"
    )
    assert reproduction.pending_text(1.2, reproduction.Progress(runs_done=2, total_runs=60, seconds=600.0)) == (
        "pending (est. 5.0 CPU-h from its 2 of 60 runs)"
    )  # no fold scored yet
    assert reproduction.Progress().estimate_hours() is None


def test_progress_reads_the_committed_records(tmp_path):
    finished = reproduction.progress(reproduction.RECORDS, "gin", "MUTAG")
    assert finished.folds_scored == finished.num_folds == 10
    assert finished.runs_done == finished.total_runs == 10 * (4 + 2)
    cell = reproduction.cell_summary(reproduction.RECORDS, "gin", "MUTAG")
    assert finished.seconds == pytest.approx(cell["cpu_seconds"])
    assert reproduction.progress(tmp_path, "gin", "MUTAG") == reproduction.Progress()


def test_pending_cells_are_estimated_relative_to_every_model_that_finished_the_dataset():
    pending = {"MUTAG": None, "PROTEINS": None, "NCI1": None, "DD": None}
    cells = {model: dict(pending) for model in reproduction.MODELS}
    cells["gin"].update(
        MUTAG=_cell(0.8, 0.1, seconds=360.0),
        PROTEINS=_cell(0.7, 0.02, seconds=1800.0),
        NCI1=_cell(0.76, 0.02, seconds=3600.0),
    )
    cells["growth_s2d"].update(MUTAG=_cell(0.8, 0.1, seconds=720.0), NCI1=_cell(0.76, 0.02, seconds=14400.0))
    cells["growth_tiny"].update(MUTAG=_cell(0.8, 0.1, seconds=1440.0), PROTEINS=_cell(0.7, 0.02, seconds=7200.0))
    # TINY costs 4x the fixed GIN (MUTAG, PROTEINS) and 2x S2D (MUTAG): NCI1 1.0 x 4 and 4.0 x 2, geometric mean
    assert reproduction.relative_estimate_hours("growth_tiny", cells, "NCI1") == pytest.approx((4.0 * 8.0) ** 0.5)
    assert reproduction.relative_estimate_hours("growth_tiny", cells, "DD") is None  # no model finished DD
    assert reproduction.relative_estimate_hours("growth_firefly", cells, "NCI1") is None  # nothing finished
    assert reproduction.estimates_for(cells, "NCI1")["growth_tiny"] == pytest.approx(32.0**0.5)


def test_the_estimates_are_checked_on_the_finished_cells_left_out_one_at_a_time():
    cells = {model: {"MUTAG": None, "PROTEINS": None, "NCI1": None} for model in reproduction.MODELS}
    for dataset, seconds in (("MUTAG", 360.0), ("PROTEINS", 1800.0), ("NCI1", 3600.0)):
        cells["gin"][dataset] = _cell(0.7, 0.02, seconds=seconds)
        cells["growth_tiny"][dataset] = _cell(0.7, 0.02, seconds=4 * seconds)
    assert reproduction.estimate_error(cells) == (pytest.approx(1.0), 6)  # costs in proportion: exact
    cells["growth_tiny"]["NCI1"] = _cell(0.7, 0.02, seconds=8 * 3600.0)  # twice what MUTAG and PROTEINS say
    factor, count = reproduction.estimate_error(cells)
    assert count == 6 and factor == pytest.approx(2**0.5)  # MUTAG, PROTEINS off by sqrt(2), NCI1 by 2
    assert reproduction.estimate_error({model: {"MUTAG": None} for model in reproduction.MODELS}) is None


def test_grid_points_of_a_committed_cell():
    points = reproduction.grid_points(reproduction.RECORDS, "gin", "MUTAG")
    assert [len(p.runs) for p in points] == [10] * 4, "one selection run per fold and grid point"
    assert sum(p.selected for p in points) == 10, "every fold has one winner"
    summary = reproduction.cell_summary(reproduction.RECORDS, "gin", "MUTAG")
    winners = [f["selected_config"] - 1 for f in summary["per_fold"]]
    assert [p.selected for p in points] == [winners.count(i) for i in range(4)]
    by_width = reproduction.fixed_grid_by_width(reproduction.RECORDS, "MUTAG")
    wide = [100 * run["val_score"] for p in points if p.point["hidden_units"] == [64, 64, 64, 64] for run in p.runs]
    assert by_width["[64, 64, 64, 64]"] == pytest.approx(sum(wide) / len(wide))
    table = reproduction.grid_point_table(reproduction.RECORDS, [("gin", "MUTAG")]).splitlines()
    assert len(table) == 2 + 4 and "| gin | MUTAG | hidden_units [32, 32], dropout 0.0 | 10 |" in "\n".join(table)


def test_a_cell_argument_names_a_model_and_a_dataset():
    assert reproduction.cell_argument("awn_gin/NCI1") == ("awn_gin", "NCI1")


@pytest.mark.parametrize("text", ["gin", "gin/MUTANT", "gcn/MUTAG"])
def test_a_wrong_cell_argument_is_named(text):
    with pytest.raises(argparse.ArgumentTypeError, match=f"expected MODEL/DATASET .* got '{text}'"):
        reproduction.cell_argument(text)


def test_single_configuration_table_sets_its_cost_against_the_fixed_grid():
    cells = {model: {"MUTAG": None, "NCI1": None} for model in reproduction.MODELS}
    cells["gin"]["MUTAG"] = _cell(0.87, 0.07, seconds=3600.0)
    cells["awn_gin"]["MUTAG"] = _cell(0.86, 0.08, seconds=3600.0)
    cells["awn_gin_single"]["MUTAG"] = _cell(0.85, 0.06, seconds=1200.0)
    progresses = {
        model: {"MUTAG": reproduction.Progress(), "NCI1": reproduction.Progress()} for model in reproduction.MODELS
    }
    table = reproduction.single_configuration_table(cells, progresses, ["MUTAG", "NCI1"]).splitlines()
    assert table[2] == (
        "| MUTAG | 87.0 ± 7.0; 1.00 CPU-h | 86.0 ± 8.0; 1.00 CPU-h "
        "| 85.0 ± 6.0; width 48 ± 2; 1,000 params; 0.33 CPU-h | 0.33x |"
    )
    assert table[3].startswith("| NCI1 | pending") and table[3].endswith("| - |")


def test_same_seed_runs_of_a_cell_with_itself_are_identical():
    text = reproduction.same_seed_runs(reproduction.RECORDS, ("gin", "MUTAG"), ("gin", "MUTAG"))
    assert text.startswith(
        "gin/MUTAG and gin/MUTAG: 20 final runs share a seed, 20 identical; "
        "mean |test accuracy difference| 0.0 points, mean change +0.0"
    )
    assert reproduction.same_seed_runs(reproduction.RECORDS, ("gin", "MUTAG"), ("awn_gin", "MUTAG")) == (
        "gin/MUTAG and awn_gin/MUTAG share no final run's seed."
    )
