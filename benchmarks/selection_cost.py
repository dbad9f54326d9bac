"""What model selection costs: the AWN grid (no width axis) against the fixed-width GIN grid.

Runs the fair-comparison protocol with the harness, once with the AWN paper's
6-point grid (``configs/awn_gin``) and once with the protocol's 128-point
fixed-width GIN grid (``configs/gin_fixed``), on one dataset with a reduced
budget (fewer outer folds and epochs than the published protocol, the same
for both), and reports the CPU-seconds each spends (every run is
single-threaded, so its wall time is its CPU time) with the accuracy each
reaches. The goal: the adaptive model is several times cheaper at an accuracy
within one standard deviation of the fixed grid's (common.within_one_std).

The fixed grid's ``monitor`` axis doubles it without changing what is
trained, so the harness trains each pair of grid points once (128 points, 64
trainings per fold). A third row runs the fixed grid with one training per
grid point, as before sharing, to measure what sharing saves.

Results are kept in ``--out``: rerunning reuses finished runs (the harness is
resumable), so an interrupted study continues where it stopped.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from common import base_parser, header, markdown_table, positive_int, run_experiment, setup, within_one_std

from awgnn.harness.config import load_config
from awgnn.harness.data import resolve_data_root
from awgnn.harness.protocol import RunKey
from awgnn.harness.report import summary
from awgnn.harness.runner import Experiment

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
FIXED = "gin (fixed, protocol grid)"
# label: (configuration folder, whether grid points differing only in the monitor share a training)
STUDIES = {
    "awn-gin (adaptive)": ("awn_gin", True),
    FIXED: ("gin_fixed", True),
    "gin (fixed, one training per grid point)": ("gin_fixed", False),
}


def reduced_config(
    folder: str, dataset: str, folds: int, epochs: int, patience: int, final_runs: int, smoke: bool
) -> dict[str, Any]:
    """The shipped configuration of ``folder`` with the reduced budget (and a tiny grid in smoke mode)."""
    content = load_config(CONFIGS / folder / "PROTEINS.yaml").to_dict()
    content["name"] = f"selection_cost_{folder}_{dataset}"
    content["dataset"] = {"name": dataset, "features": None}
    content["splits"]["outer_folds"] = folds
    content["protocol"].update(max_epochs=epochs, patience=patience, final_runs=final_runs)
    if smoke:  # one value per axis, but both monitors, so that trainings are still shared
        for model in content["models"].values():
            model["grid"] = {key: values if key == "monitor" else values[:1] for key, values in model["grid"].items()}
    return content


def trainings(experiment: Experiment) -> list[list[RunKey]]:
    """The runs of each training: a shared group of grid points per fold, and every final run alone."""
    (model,) = experiment.config.models
    return [keys for fold in range(experiment.results.num_folds) for keys in experiment.trainings(model, fold)]


def run_study(
    content: dict[str, Any], data_root: Path, results: Path, workers: int, share_trainings: bool
) -> dict[str, Any]:
    experiment, wall_seconds = run_experiment(
        content, f"benchmarks/selection_cost.py ({content['name']})", data_root, results, workers, share_trainings
    )
    content = summary(experiment.results)
    records = [experiment.store.read(key) for key in experiment.results.stored_keys()]
    (model,) = content["models"].values()
    runs = trainings(experiment)
    # A shared training's time is split among its records, so their seconds add up to the CPU time spent;
    # it lasts as long as its longest run.
    epochs = sum(max(experiment.store.read(key)["epochs"] for key in keys) for keys in runs)
    return {
        "grid": model["grid_size"],
        "runs": len(records),
        "trainings": len(runs),
        "epochs": epochs,
        "cpu_seconds": sum(r["seconds"] for r in records),
        "wall_seconds": wall_seconds,
        "mean": model["mean"],
        "std": model["std"],
        "total_width": model["total_width"]["mean"],
        "folds": model["folds"],
    }


def main() -> None:
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="MUTAG", help="dataset (default MUTAG: the 128-point grid is costly)")
    parser.add_argument("--folds", type=positive_int, default=3, help="outer folds (the protocol: 10)")
    parser.add_argument("--epochs", type=positive_int, default=60, help="maximum epochs per run (the protocol: 1000)")
    parser.add_argument("--patience", type=positive_int, default=20, help="early-stopping patience (the protocol: 500)")
    parser.add_argument("--final-runs", type=positive_int, default=3, help="final runs per fold (the protocol: 3)")
    parser.add_argument("--workers", type=positive_int, default=2, help="parallel single-threaded runs")
    arguments = parser.parse_args()
    out = setup(arguments)
    if arguments.smoke:
        arguments.folds, arguments.epochs, arguments.patience, arguments.final_runs = 2, 2, 2, 1
    data_root = resolve_data_root(arguments.data_root)
    results = {}
    for label, (folder, share) in STUDIES.items():
        content = reduced_config(
            folder,
            arguments.dataset,
            arguments.folds,
            arguments.epochs,
            arguments.patience,
            arguments.final_runs,
            arguments.smoke,
        )
        if not share:
            content["name"] += "_one_training_per_point"
        results[label] = run_study(
            content, data_root, out / "selection_cost" / content["name"], arguments.workers, share
        )
    (out / "selection_cost.json").write_text(json.dumps(results, indent=1))

    fixed = results[FIXED]
    rows = [
        [
            label,
            r["grid"],
            r["runs"],
            r["trainings"],
            r["epochs"],
            f"{fixed['epochs'] / r['epochs']:.2g}x",
            f"{r['cpu_seconds']:.0f}",
            f"{fixed['cpu_seconds'] / r['cpu_seconds']:.2g}x",
            f"{100 * r['mean']:.1f} ± {100 * r['std']:.1f}",
            f"{r['total_width']:.0f}",
        ]
        for label, r in results.items()
    ]
    print(
        header(
            f"Model-selection cost on {arguments.dataset} ({arguments.folds} outer folds, at most "
            f"{arguments.epochs} epochs, patience {arguments.patience}, {arguments.final_runs} final runs)"
        )
    )
    print(
        markdown_table(
            [
                "model",
                "grid",
                "runs",
                "trainings",
                "epochs trained",
                "fixed grid's epochs / these",
                "CPU-seconds",
                "fixed grid's CPU-seconds / these",
                "accuracy (%)",
                "total width",
            ],
            rows,
        )
    )
    print(
        "\nA training shared by two grid points counts once, with the epochs of the run that stopped last; "
        "CPU-seconds are the runs' single-threaded times (each record of a shared training holds its share), "
        "so unlike epochs they depend on the machine's load."
    )
    adaptive = results["awn-gin (adaptive)"]
    within = within_one_std(adaptive["mean"], fixed["mean"], fixed["std"])
    print(f"\nAdaptive accuracy within one standard deviation of the fixed grid's: {'yes' if within else 'no'}.")


if __name__ == "__main__":
    main()
