"""The reproduction table: the fair protocol on the TU datasets, fixed GIN against the published rows.

Every cell is one ``awgnn bench`` experiment of ``configs/reproduction/<model>/<DATASET>.yaml`` (the same
reduced budget for every model: 10 outer folds with the official splits, 4 grid points, at most 150 epochs
with patience 40, 2 final runs), run dataset by dataset in :data:`DATASETS` order (small first). Its run
records live in the repository under ``benchmarks/reproduction/<model>/<DATASET>/`` (the harness's results
folder), compacted after each cell and on interruption: a selection run keeps its scores, widths and time but
no per-epoch history, a final run keeps only its widths per epoch (the width plots need them). A rerun skips
every finished run, so the table can be filled over several sittings, and ``--report-only`` rebuilds the
table and the figure from the records alone.

Reported: the fixed GIN (:class:`~awgnn.models.FairGIN`) against the published row of Errica et al.
(2020), within one standard deviation or not; the AWN paper's adaptive GIN with the recommended preset
(``awn_gin``) and the paper's (``awn_gin_paper``), and FairGIN's own architecture and recipe with learned
widths (``awn_fair_gin``: :class:`~awgnn.models.AdaptiveFairGIN`, preset awgnn), with learned total widths
and parameters; in a second table the adaptive GIN with one configuration, the library's defaults
(``awn_gin_single``: no grid, hence no model selection), against both grids; CPU-hours per cell (the sum
of its runs' process CPU time, each run on one thread; runs recorded before 2026-12-02 give their wall
time, on a core of their own unless the machine was oversubscribed). Cells not finished are marked
pending with the folds already scored (runs start fold by fold) and an estimate of their cost: a started
cell's from its own runs (mean CPU-seconds a run times the cell's runs); otherwise the costs of the other
models' finished cells on that dataset, each times the model's cost relative to that model elsewhere, or, where no model
finished that dataset, the model's finished cells scaled by graphs x mean nodes. The figure
``reproduction_widths.png`` puts the learned width per dataset (spread over folds) beside the fixed
GIN's accuracy and the accuracy its grid gains from the wide configuration over the narrow one: the
real-data version of "width follows difficulty". ``--grid-points MODEL/DATASET ...`` adds each grid point's
training and validation accuracy in those cells' selection runs, and the folds whose selection it won;
``--same-seed MODEL/DATASET MODEL/DATASET`` compares the final runs two cells share a seed with (how many are
identical, how far the others' test accuracy moved).

Example::

    python benchmarks/reproduction.py --data-root ../shared/data --datasets MUTAG PROTEINS --workers 2
    python benchmarks/reproduction.py --report-only
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import statistics
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Any, NamedTuple

from common import base_parser, header, markdown_table, plt, positive_int, save_figure, setup, within_one_std

from awgnn.harness import cli
from awgnn.harness.atomic import write_json_atomically
from awgnn.harness.protocol import selection_keys
from awgnn.harness.report import cpu_seconds, load_results, summary
from awgnn.harness.store import EXPERIMENT_FILE

ROOT = Path(__file__).resolve().parents[1]
RECORDS = Path(__file__).resolve().parent / "reproduction"
GROWTH_METHODS = ("s2d", "s2d_fast", "firefly", "tiny")
# The ablation of S2D's and Firefly's global selection over all layers: each layer its share of a step's budget.
SELECTION_ABLATIONS = ("s2d_per_layer", "firefly_per_layer")
# Each model's configuration folder; the growth baselines (issue #10, benchmarks/growth.py) share the table's
# budget and its records, on the AWN paper's GIN classifier (growth_<method>) and FairGIN's architecture.
CONFIG_FOLDERS: Mapping[str, Path] = MappingProxyType(
    {
        "gin": ROOT / "configs" / "reproduction" / "gin",
        "awn_gin": ROOT / "configs" / "reproduction" / "awn_gin",
        "awn_gin_paper": ROOT / "configs" / "reproduction" / "awn_gin_paper",
        "awn_fair_gin": ROOT / "configs" / "reproduction" / "awn_fair_gin",
        "awn_gin_single": ROOT / "configs" / "reproduction" / "awn_gin_single",
        "awn_gin_marginal": ROOT / "configs" / "reproduction" / "awn_gin_marginal",
        "awn_fair_gin_marginal": ROOT / "configs" / "reproduction" / "awn_fair_gin_marginal",
        "awn_gin_marginal_refit": ROOT / "configs" / "reproduction" / "awn_gin_marginal_refit",
        "awn_fair_gin_marginal_refit": ROOT / "configs" / "reproduction" / "awn_fair_gin_marginal_refit",
        "awn_gin_gates": ROOT / "configs" / "reproduction" / "awn_gin_gates",
        "awn_fair_gin_gates": ROOT / "configs" / "reproduction" / "awn_fair_gin_gates",
        **{
            f"{family}_{method}": ROOT / "configs" / family / method
            for family in ("growth", "growth_fair_gin")
            for method in GROWTH_METHODS
        },
        **{f"growth_{ablation}": ROOT / "configs" / "growth" / ablation for ablation in SELECTION_ABLATIONS},
    }
)
MODELS = tuple(CONFIG_FOLDERS)
TABLE_MODELS = ("gin", "awn_gin", "awn_gin_paper", "awn_fair_gin")
# The cells with widths set by measurement, and their columns in measured_widths_table.
MEASURED_WIDTH_MODELS: Mapping[str, str] = MappingProxyType(
    {
        "awn_gin_marginal": "adaptive GIN, preset marginal",
        "awn_gin_marginal_refit": "adaptive GIN, preset marginal_refit",
        "awn_fair_gin_marginal": "adaptive FairGIN, preset marginal",
        "awn_fair_gin_marginal_refit": "adaptive FairGIN, preset marginal_refit",
        "awn_gin_gates": "adaptive GIN, preset gates",
        "awn_fair_gin_gates": "adaptive FairGIN, preset gates",
    }
)
DATASETS = ("MUTAG", "PROTEINS", "IMDB-BINARY", "IMDB-MULTI", "ENZYMES", "NCI1", "DD", "REDDIT-BINARY")
# Errica et al. (2020), "A fair comparison of graph neural networks for graph classification", GIN rows
# (mean ± std over the 10 outer folds, %); MUTAG is not in their table.
PUBLISHED: Mapping[str, tuple[float, float]] = MappingProxyType(
    {
        "NCI1": (80.0, 1.4),
        "PROTEINS": (73.3, 4.0),
        "DD": (75.3, 2.9),
        "ENZYMES": (59.6, 4.5),
        "IMDB-BINARY": (71.2, 3.9),
        "IMDB-MULTI": (48.5, 3.3),
        "REDDIT-BINARY": (89.9, 1.9),
    }
)
# Graphs and mean nodes per graph (the TU collection's statistics), to estimate the cost of pending cells.
SIZES: Mapping[str, tuple[int, float]] = MappingProxyType(
    {
        "MUTAG": (188, 17.9),
        "PROTEINS": (1113, 39.1),
        "IMDB-BINARY": (1000, 19.8),
        "IMDB-MULTI": (1500, 13.0),
        "ENZYMES": (600, 32.6),
        "NCI1": (4110, 29.9),
        "DD": (1178, 284.3),
        "REDDIT-BINARY": (2000, 429.6),
    }
)


def records_folder(records: Path, model: str, dataset: str) -> Path:
    return records / model / dataset


# -- running and compacting -----------------------------------------------------------------------


def run_cell(model: str, dataset: str, records: Path, data_root: str | None, workers: int) -> int:
    """``awgnn bench`` on one cell, its records compacted afterwards (also when interrupted)."""
    folder = records_folder(records, model, dataset)
    command = [
        "bench",
        str(CONFIG_FOLDERS[model] / f"{dataset}.yaml"),
        "--results",
        str(folder),
        "--workers",
        str(workers),
        "--no-progress",
    ]
    if data_root is not None:
        command += ["--data-root", data_root]
    try:
        return cli.main(command)
    finally:
        compact(folder)


# What a final run's history keeps once its cell is compacted.
COMPACT_HISTORY_KEYS = ("epoch", "widths", "growth")


def compact(folder: Path) -> None:
    """Strip the per-epoch history the report does not need from every run record under ``folder``.

    Selection runs keep no history; final runs keep their widths per epoch
    and what each growth step did (neurons added, split, its time).
    The harness's ``report.md`` and plots are dropped (``awgnn report`` of
    the folder rebuilds them); records are rewritten atomically.
    """
    if not folder.is_dir():
        return
    for path in folder.glob("*/OUTER_FOLD_*/**/*.json"):
        record = json.loads(path.read_text())
        history = record.get("history")
        if not history:
            continue
        selection = path.parent.name == "MODEL_SELECTION"
        compacted = [] if selection else [{key: h[key] for key in COMPACT_HISTORY_KEYS if key in h} for h in history]
        if compacted != history:
            write_json_atomically(path, {**record, "history": compacted})
    shutil.rmtree(folder / "plots", ignore_errors=True)
    (folder / "report.md").unlink(missing_ok=True)


# -- reading the records --------------------------------------------------------------------------


def cell_summary(records: Path, model: str, dataset: str) -> dict[str, Any] | None:
    """The harness's summary of a finished cell (all folds scored), else ``None``."""
    folder = records_folder(records, model, dataset)
    if not (folder / EXPERIMENT_FILE).is_file():
        return None
    results = load_results(folder)
    (only,) = summary(results)["models"].values()
    return only if len(only["per_fold"]) == results.num_folds else None


class GridPoint(NamedTuple):
    """One grid point of a cell: its configuration, its stored selection runs, the folds whose selection it won."""

    point: dict[str, Any]
    runs: list[dict[str, Any]]
    selected: int


def grid_points(records: Path, model: str, dataset: str) -> list[GridPoint]:
    """Every grid point of a cell with its selection runs so far (a single-point grid has none)."""
    results = load_results(records_folder(records, model, dataset))
    (config,) = results.config.models
    points = config.points()
    runs: list[list[dict[str, Any]]] = [[] for _ in points]
    selected = [0] * len(points)
    for fold in range(results.num_folds):
        for key in selection_keys(config.name, fold, len(points)):
            if results.store.has(key):
                runs[key.config_id].append(results.store.read(key))
        winner = results.selection(config.name, fold)
        if winner is not None:
            selected[winner.config_id] += 1
    return [GridPoint(point, point_runs, wins) for point, point_runs, wins in zip(points, runs, selected)]


def fixed_grid_by_width(records: Path, dataset: str) -> dict[str, float]:
    """Mean validation accuracy (%) of the fixed GIN's grid points by ``hidden_units``, over folds and dropout."""
    scores: dict[str, list[float]] = {}
    for grid_point in grid_points(records, "gin", dataset):
        scores.setdefault(str(grid_point.point["hidden_units"]), []).extend(
            100 * run["val_score"] for run in grid_point.runs if run["val_score"] is not None
        )
    return {units: statistics.fmean(values) for units, values in scores.items() if values}


def grid_point_table(records: Path, cells: Sequence[tuple[str, str]]) -> str:
    """Training and validation accuracy of each grid point's selection runs, for ``(model, dataset)`` cells.

    Only the keys that vary within a cell's grid name its points; accuracies are means over the runs that
    ended without a NaN, in % (training accuracy on the inner-train split, at the early-stopping epoch), and
    the median of their early-stopping (best) epochs.
    """
    rows = []
    for model, dataset in cells:
        points = grid_points(records, model, dataset)
        varying = [
            key for key in points[0].point if len({json.dumps(p.point[key], sort_keys=True) for p in points}) > 1
        ]
        for grid_point in points:
            runs = [run for run in grid_point.runs if run["status"] == "ok"]
            rows.append(
                [
                    model,
                    dataset,
                    ", ".join(f"{key} {grid_point.point[key]}" for key in varying) or "-",
                    len(runs),
                    mean_percent([run["train_score"] for run in runs]),
                    mean_percent([run["val_score"] for run in runs]),
                    f"{statistics.median(run['best_epoch'] for run in runs):.0f}" if runs else "-",
                    grid_point.selected,
                ]
            )
    return markdown_table(
        [
            "model",
            "dataset",
            "grid point",
            "selection runs",
            "training accuracy (%)",
            "validation accuracy (%)",
            "median best epoch",
            "folds won",
        ],
        rows,
    )


def print_grid_points(
    records: Path, cells: Sequence[tuple[str, str]], progresses: Mapping[str, Mapping[str, Progress]]
) -> None:
    started = [cell for cell in cells if progresses[cell[0]][cell[1]].runs_done]
    if started:
        print("\nSelection runs by grid point:\n")
        print(grid_point_table(records, started))
    if len(started) < len(cells):
        print(f"\nNo runs yet: {', '.join(f'{m}/{d}' for m, d in cells if (m, d) not in started)}.")


def same_seed_runs(records: Path, first: tuple[str, str], second: tuple[str, str]) -> str:
    """Final runs of two cells that share a seed (the same grid point of the same fold): how many match.

    A run matches when its test and validation scores, best epoch and widths are equal; the differences of
    the others' test accuracy say how far a change of code (or of anything else between the cells) moves a run.
    """

    def finals(cell: tuple[str, str]) -> dict[int, dict[str, Any]]:
        results = load_results(records_folder(records, *cell))
        (config,) = results.config.models
        return {
            run["seed"]: run
            for run in map(
                results.store.read,
                [
                    key
                    for fold in range(results.num_folds)
                    for key in results.final_keys(config.name, fold)
                    if results.store.has(key)
                ],
            )
        }

    def outcome(run: dict[str, Any]) -> tuple[Any, ...]:
        return run["test_score"], run["val_score"], run["best_epoch"], run["layer_widths"]

    def versions(cell: tuple[str, str], runs: dict[int, dict[str, Any]]) -> str:
        names = sorted({run.get("code_version") or "not recorded" for run in runs.values()})
        return f"{'/'.join(cell)} {', '.join(names)}"

    ours, theirs = finals(first), finals(second)
    pairs = [(ours[seed], theirs[seed]) for seed in ours.keys() & theirs.keys()]
    if not pairs:
        return f"{'/'.join(first)} and {'/'.join(second)} share no final run's seed."
    changes = [100 * (b["test_score"] - a["test_score"]) for a, b in pairs]
    return (
        f"{'/'.join(first)} and {'/'.join(second)}: {len(pairs)} final runs share a seed, "
        f"{sum(outcome(a) == outcome(b) for a, b in pairs)} identical; mean |test accuracy difference| "
        f"{statistics.fmean(map(abs, changes)):.1f} points, mean change {statistics.fmean(changes):+.1f} "
        f"(code versions: {versions(first, ours)}; {versions(second, theirs)})."
    )


def mean_percent(values: Sequence[float]) -> str:
    return f"{100 * statistics.fmean(values):.1f}" if values else "-"


def cpu_hours(cell: Mapping[str, Any]) -> float:
    return cell["cpu_seconds"] / 3600


def estimate_hours(done: Mapping[str, Mapping[str, Any]], dataset: str) -> float | None:
    """CPU-hours of a pending cell, scaled from the finished ones by graphs x mean nodes."""
    rates = [cpu_hours(cell) / (SIZES[name][0] * SIZES[name][1]) for name, cell in done.items()]
    if not rates:
        return None
    graphs, nodes = SIZES[dataset]
    return statistics.fmean(rates) * graphs * nodes


# -- the table and the figure ---------------------------------------------------------------------


def accuracy_text(cell: Mapping[str, Any]) -> str:
    return f"{100 * cell['mean']:.1f} ± {100 * cell['std']:.1f}"


def fixed_text(dataset: str, cell: Mapping[str, Any] | None, pending: str) -> str:
    if cell is None:
        return pending
    text = accuracy_text(cell)
    if dataset in PUBLISHED:
        mean, std = PUBLISHED[dataset]
        text += " (within 1 std)" if within_one_std(100 * cell["mean"], mean, std) else " (outside 1 std)"
    return f"{text}; {cell['num_parameters']:,.0f} params; {cpu_hours(cell):.2f} CPU-h"


def width_text(cell: Mapping[str, Any]) -> str:
    width = cell["total_width"]
    return (
        f"{accuracy_text(cell)}; width {width['mean']:.0f} ± {width['std']:.0f}; {cell['num_parameters']:,.0f} params"
    )


def adaptive_text(cell: Mapping[str, Any] | None, pending: str) -> str:
    if cell is None:
        return pending
    return f"{width_text(cell)}; {cpu_hours(cell):.2f} CPU-h"


class Progress(NamedTuple):
    """How far a cell has got: outer folds scored, runs stored of all its runs, and their CPU-seconds."""

    folds_scored: int = 0
    runs_done: int = 0
    total_runs: int = 0
    seconds: float = 0.0
    num_folds: int = 10

    def estimate_hours(self) -> float | None:
        """The cell's CPU-hours extrapolated from its own runs, ``None`` before its first run."""
        return self.seconds / self.runs_done * self.total_runs / 3600 if self.runs_done else None


def pending_text(estimate: float | None, progress: Progress = Progress()) -> str:  # noqa: B008 (immutable)
    """ "pending", with the folds already scored and the cell's estimated cost.

    A started cell is estimated from its own runs (mean CPU-seconds a run times the runs of the cell);
    ``estimate``, scaled from other cells, serves the cells not started.
    """
    own = progress.estimate_hours()
    parts = [f"{progress.folds_scored} of {progress.num_folds} folds scored"] if progress.folds_scored else []
    if own is not None:
        parts.append(f"est. {own:.1f} CPU-h from its {progress.runs_done} of {progress.total_runs} runs")
    elif estimate is not None:
        parts.append(f"est. {estimate:.1f} CPU-h")
    return "pending" + (f" ({'; '.join(parts)})" if parts else "")


def progress(records: Path, model: str, dataset: str) -> Progress:
    """A cell's :class:`Progress`; all zeros for a cell never started."""
    folder = records_folder(records, model, dataset)
    if not (folder / EXPERIMENT_FILE).is_file():
        return Progress()
    results = load_results(folder)
    stored = list(results.stored_keys())
    seconds = sum(cpu_seconds(results.store.read(key)) for key in stored)
    return Progress(results.folds_complete(), len(stored), results.total_runs(), seconds, results.num_folds)


def every_progress(records: Path) -> dict[str, dict[str, Progress]]:
    """:func:`progress` of every cell, by model and dataset."""
    return {model: {dataset: progress(records, model, dataset) for dataset in DATASETS} for model in MODELS}


def relative_estimate_hours(
    model: str, cells: Mapping[str, Mapping[str, Mapping[str, Any] | None]], dataset: str
) -> float | None:
    """CPU-hours of ``model``'s pending cell on ``dataset``, scaled from the models that finished ``dataset``.

    Each such model gives its own cost there times ``model``'s cost relative to it (the geometric mean of
    the ratio over the other datasets both finished); the estimate is the geometric mean of these. ``None``
    when no model sharing a finished dataset with ``model`` finished ``dataset``.

    Preferred over :func:`estimate_hours`: a model's fixed overheads (a growth step's statistics pass, say)
    dominate on small datasets, so scaling by size from them alone overshoots on large ones. Taking every
    finished model as a reference instead of the fixed GIN alone cut the median error of the finished
    cells' leave-one-out estimates (:func:`estimate_error`) from 1.84x to 1.39x: a growth method's cost
    follows its siblings' more closely than the fixed grid's, whose early stopping differs."""
    own = {d: cell for d, cell in cells[model].items() if cell is not None and d != dataset}
    logs = []
    for other, other_cells in cells.items():
        reference = other_cells.get(dataset)
        shared = [d for d in own if other_cells.get(d) is not None]
        if other == model or reference is None or not shared:
            continue
        ratio = statistics.fmean(math.log(cpu_hours(own[d]) / cpu_hours(other_cells[d])) for d in shared)
        logs.append(ratio + math.log(cpu_hours(reference)))
    return math.exp(statistics.fmean(logs)) if logs else None


def estimates_for(cells: Mapping[str, Mapping[str, Mapping[str, Any] | None]], dataset: str) -> dict[str, float | None]:
    estimates = {}
    for model in MODELS:
        relative = relative_estimate_hours(model, cells, dataset)
        done = {d: c for d, c in cells[model].items() if c is not None}
        estimates[model] = relative if relative is not None else estimate_hours(done, dataset)
    return estimates


def estimate_error(cells: Mapping[str, Mapping[str, Mapping[str, Any] | None]]) -> tuple[float, int] | None:
    """Median factor by which :func:`relative_estimate_hours` misses a finished cell's CPU-hours, and over how
    many cells: it never reads the cell it estimates, so every finished cell is a leave-one-out check."""
    errors = []
    for model, by_dataset in cells.items():
        for dataset, cell in by_dataset.items():
            estimate = None if cell is None else relative_estimate_hours(model, cells, dataset)
            if estimate is not None:
                errors.append(abs(math.log(estimate / cpu_hours(cell))))
    return (math.exp(statistics.median(errors)), len(errors)) if errors else None


def pending_texts(
    cells: Mapping[str, Mapping[str, Mapping[str, Any] | None]],
    progresses: Mapping[str, Mapping[str, Progress]],
    dataset: str,
) -> dict[str, str]:
    """Every model's :func:`pending_text` on ``dataset``, from the finished ``cells`` and every cell's progress."""
    estimates = estimates_for(cells, dataset)
    return {model: pending_text(estimates[model], progresses[model][dataset]) for model in MODELS}


def table(
    cells: Mapping[str, Mapping[str, Mapping[str, Any] | None]],
    progresses: Mapping[str, Mapping[str, Progress]],
    datasets: Sequence[str],
) -> str:
    rows = []
    for dataset in datasets:
        pending = pending_texts(cells, progresses, dataset)
        published = "-" if dataset not in PUBLISHED else "{} ± {}".format(*PUBLISHED[dataset])
        rows.append(
            (
                dataset,
                published,
                fixed_text(dataset, cells["gin"][dataset], pending["gin"]),
                *(adaptive_text(cells[m][dataset], pending[m]) for m in TABLE_MODELS[1:]),
            )
        )
    return markdown_table(
        (
            "dataset",
            "published GIN (%)",
            "fixed GIN under awgnn (%)",
            "adaptive GIN, preset awgnn (%)",
            "adaptive GIN, preset paper (%)",
            "adaptive FairGIN, preset awgnn (%)",
        ),
        rows,
    )


def single_configuration_table(
    cells: Mapping[str, Mapping[str, Mapping[str, Any] | None]],
    progresses: Mapping[str, Mapping[str, Progress]],
    datasets: Sequence[str],
) -> str:
    """The adaptive GIN with one configuration (no model selection) against both grids of 4: accuracy and cost."""
    rows = []
    for dataset in datasets:
        pending = pending_texts(cells, progresses, dataset)
        fixed, grid, single = (cells[model][dataset] for model in ("gin", "awn_gin", "awn_gin_single"))
        ratio = "-" if fixed is None or single is None else f"{cpu_hours(single) / cpu_hours(fixed):.2f}x"
        rows.append(
            (
                dataset,
                cost_text(fixed, pending["gin"]),
                cost_text(grid, pending["awn_gin"]),
                adaptive_text(single, pending["awn_gin_single"]),
                ratio,
            )
        )
    return markdown_table(
        (
            "dataset",
            "fixed GIN, grid of 4 (%)",
            "adaptive GIN, preset awgnn, grid of 4 (%)",
            "adaptive GIN, preset awgnn, one configuration (%)",
            "one configuration's CPU-h / fixed grid's",
        ),
        rows,
    )


def measured_widths_table(
    cells: Mapping[str, Mapping[str, Mapping[str, Any] | None]],
    progresses: Mapping[str, Mapping[str, Progress]],
    datasets: Sequence[str],
) -> str:
    """One configuration with widths set by measurement (:data:`MEASURED_WIDTH_MODELS`), on the AWN classifier and
    FairGIN's architecture, against the fixed grid: within one of its standard deviations, and parameters relative
    to it."""
    rows = []
    for dataset in datasets:
        pending = pending_texts(cells, progresses, dataset)
        fixed = cells["gin"][dataset]
        row = [
            dataset,
            cost_text(fixed, pending["gin"]),
            cost_text(cells["awn_gin_single"][dataset], pending["awn_gin_single"]),
        ]
        for model in MEASURED_WIDTH_MODELS:
            cell = cells[model][dataset]
            if cell is None or fixed is None:
                row.append(adaptive_text(cell, pending[model]))
                continue
            verdict = "within" if within_one_std(cell["mean"], fixed["mean"], fixed["std"]) else "outside"
            row.append(
                f"{adaptive_text(cell, pending[model])} ({verdict} the grid's std; "
                f"{cell['num_parameters'] / fixed['num_parameters']:.2f}x its params)"
            )
        rows.append(row)
    return markdown_table(
        (
            "dataset",
            "fixed GIN, grid of 4 (%)",
            "adaptive GIN, preset awgnn, one configuration (%)",
            *(f"{name}, one configuration (%)" for name in MEASURED_WIDTH_MODELS.values()),
        ),
        rows,
    )


def cost_text(cell: Mapping[str, Any] | None, pending: str) -> str:
    return pending if cell is None else f"{accuracy_text(cell)}; {cpu_hours(cell):.2f} CPU-h"


def plot(
    cells: Mapping[str, Mapping[str, Mapping[str, Any] | None]], records: Path, datasets: Sequence[str], out: Path
) -> Path | None:
    done = [d for d in datasets if cells["gin"][d] is not None]
    if not done:
        return None
    done.sort(key=lambda d: -cells["gin"][d]["mean"])  # easiest (most accurate) first
    figure, (widths, accuracy) = plt.subplots(1, 2, figsize=(10, 3.8))
    for index, model in enumerate(TABLE_MODELS[1:]):
        for position, dataset in enumerate(done):
            cell = cells[model][dataset]
            if cell is None:
                continue
            per_fold = [fold["total_width"] for fold in cell["per_fold"]]
            offset = position + 0.25 * (index - (len(TABLE_MODELS) - 2) / 2)  # centred on the dataset
            widths.scatter([offset] * len(per_fold), per_fold, color=f"C{index}", alpha=0.4, s=12)
            widths.errorbar(
                [offset],
                [statistics.fmean(per_fold)],
                yerr=[statistics.pstdev(per_fold)],
                color=f"C{index}",
                marker="o",
                capsize=3,
                label=model if position == 0 else None,
            )
    for axes in (widths, accuracy):
        axes.set_xlim(-0.5, len(done) - 0.5)
    widths.set(
        xticks=range(len(done)),
        ylabel="learned total width (per fold)",
        yscale="log",
        title="Learned width per dataset (harder to the right)",
    )
    widths.set_xticklabels(done, rotation=30, fontsize="small")
    widths.legend(fontsize="small")
    accuracy.plot(
        range(len(done)), [100 * cells["gin"][d]["mean"] for d in done], "ks-", label="fixed GIN test accuracy"
    )
    by_width = [fixed_grid_by_width(records, d) for d in done]
    for index, units in enumerate(sorted({u for grid in by_width for u in grid})):
        accuracy.plot(
            range(len(done)),
            [grid.get(units, float("nan")) for grid in by_width],
            "o--",
            color=f"C{index + 2}",
            label=f"fixed grid, hidden {units} (validation)",
        )
    accuracy.set(xticks=range(len(done)), ylabel="accuracy (%)", title="Difficulty as the fixed GIN sees it")
    accuracy.set_xticklabels(done, rotation=30, fontsize="small")
    accuracy.legend(fontsize="x-small")
    return save_figure(figure, out / "reproduction_widths.png")


# -- command line ---------------------------------------------------------------------------------


def parse_arguments() -> argparse.Namespace:
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument(
        "--datasets",
        nargs="+",
        choices=DATASETS,
        default=list(DATASETS),
        help="datasets to run, in this order (default: all, small first)",
    )
    parser.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS))
    parser.add_argument(
        "--records",
        type=Path,
        default=RECORDS,
        help="folder of the run records (default: benchmarks/reproduction, in the repository)",
    )
    parser.add_argument("--workers", type=positive_int, default=2, help="runs in parallel (default 2)")
    parser.add_argument(
        "--hours",
        type=float,
        default=None,
        help="start no new cell after this many hours (finished runs are always kept)",
    )
    parser.add_argument("--report-only", action="store_true", help="rebuild the table from the records only")
    parser.add_argument(
        "--same-seed",
        nargs=2,
        type=cell_argument,
        default=None,
        metavar="MODEL/DATASET",
        help="also compare the final runs two cells share a seed with, e.g. awn_gin/MUTAG awn_gin_single/MUTAG",
    )
    parser.add_argument(
        "--grid-points",
        nargs="+",
        type=cell_argument,
        default=[],
        metavar="MODEL/DATASET",
        help="also print each grid point's training and validation accuracy in these cells' "
        "selection runs, e.g. awn_gin/NCI1",
    )
    return parser.parse_args()


def cell_argument(text: str) -> tuple[str, str]:
    """``MODEL/DATASET`` of ``--grid-points``, both checked against the table's names."""
    model, _, dataset = text.partition("/")
    if model not in MODELS or dataset not in DATASETS:
        raise argparse.ArgumentTypeError(
            f"expected MODEL/DATASET with MODEL one of {', '.join(MODELS)} and "
            f"DATASET one of {', '.join(DATASETS)}, got {text!r}"
        )
    return model, dataset


def main() -> None:
    arguments = parse_arguments()
    out = setup(arguments)
    started = time.perf_counter()
    if not arguments.report_only:
        for dataset, model in [(d, m) for d in arguments.datasets for m in arguments.models]:
            if arguments.hours is not None and time.perf_counter() - started > 3600 * arguments.hours:
                print(f"--hours {arguments.hours} reached: {model} on {dataset} and later cells not started")
                break
            code = run_cell(model, dataset, arguments.records, arguments.data_root, arguments.workers)
            if code != 0:
                raise SystemExit(
                    f"awgnn bench on {model}/{dataset} stopped (exit code {code}); finished runs "
                    f"are kept in {records_folder(arguments.records, model, dataset)}"
                )
    cells = {model: {d: cell_summary(arguments.records, model, d) for d in DATASETS} for model in MODELS}
    progresses = every_progress(arguments.records)
    figure = plot(cells, arguments.records, DATASETS, out)
    print(header("Reproduction table: the fair protocol on a reduced budget"))
    print(
        "Budget of every cell: 10 outer folds (official splits; MUTAG: stratified from seed 42), a grid of 4 "
        "points, at most 150 epochs with patience 40 on the inner validation split, 2 final runs; accuracy is "
        "the mean ± population std over the outer folds.\n"
    )
    print(table(cells, progresses, DATASETS))
    print(
        "\nOne configuration, no model selection: the adaptive GIN at the library's defaults (3 blocks, batch 32, "
        "preset awgnn) trains only its 2 final runs per fold, a third of a grid of 4's runs.\n"
    )
    print(single_configuration_table(cells, progresses, DATASETS))
    print(
        "\nWidths set from the data (presets marginal, marginal_refit and gates), one configuration: the AWN "
        "classifier at the library's defaults (3 blocks, batch 32) and FairGIN's architecture at the first point of "
        "its grid (5 blocks, dropout 0.5); a verdict compares with the fixed grid's mean and standard deviation.\n"
    )
    print(measured_widths_table(cells, progresses, DATASETS))
    error = estimate_error(cells)
    if error is not None:
        print(
            f"\nPending cells not yet started are estimated from the models that finished their dataset; left "
            f"out one at a time, the {error[1]} finished cells are estimated within a factor of {error[0]:.2f} "
            "(median)."
        )
    if arguments.grid_points:
        print_grid_points(arguments.records, arguments.grid_points, progresses)
    if arguments.same_seed:
        print("\n" + same_seed_runs(arguments.records, *arguments.same_seed))
    records = arguments.records.resolve()
    shown = records.relative_to(Path.cwd()) if records.is_relative_to(Path.cwd()) else records
    print(
        f"\nRecords: {shown}; figure: {figure.name if figure else 'none yet'} (in {out}). "
        f"Wall time of this invocation: {time.perf_counter() - started:.0f} s."
    )


if __name__ == "__main__":
    main()
