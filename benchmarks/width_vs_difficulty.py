"""Does the learned width rise with the difficulty of the task?

**(a) Synthetic ladder** (:mod:`awgnn.harness.ladder`: each level is a fixed
random table of node-type pairs to classes, with more pairs to store the
higher the level). The adaptive GIN is trained with the same start width and
hyper-parameters (:data:`LADDER_POINT`), on the ladder's budget (60 epochs,
batch 32), at every level of the ladder, over several seeds (each seed draws
its own graphs, split and initial weights), on one stratified 80/10/10 split
per seed, as the harness trains (the model of the best validation epoch is
kept). Reported per level: test accuracy, learned width per layer and total
width (mean ± population std over seeds), and Spearman's rho between level
and total width over all (level, seed) runs.

The start is deliberately narrow (``lambda0 = 0.5``: 6 neurons per block):
only a layer that is short of capacity has a reason to grow (``--lambda0
0.02`` starts at the paper's 117). As in the paper's graph configurations
there is no prior on the rates, so nothing stops a width from growing once
the task is fit: the widths reported are those after ``--epochs`` epochs at
the best-validation epoch, comparable only at the ladder's budget.

**Fixed curves** (``--fixed-curves``, instead of (a) and (b)). What makes a
level difficult: the fixed-width GIN (:class:`~awgnn.models.GINClassifier`)
at ``--fixed-widths`` hidden neurons a block (default 8, 16, 32 and 64),
trained on the same budget and splits as (a): the narrow one falls along the
ladder, the wide one does not, and the widths between show how many neurons
each level needs at this budget. Reported per level and width: test
accuracy (mean ± population std over seeds) and seconds per run; written to
``ladder_fixed_curves.json`` and ``ladder_fixed_curves.png``.

**(b) Real data.** Learned widths of the adaptive GIN with the AWN paper's
settings (:data:`REAL_POINT`, 117 neurons per block at the start) on TU
datasets. By default on a reduced budget (:data:`REDUCED_BUDGETS`: one
stratified split, a few epochs, one or two seeds). ``--full`` runs the whole
fair-comparison protocol instead, through the harness on
``configs/awn_gin/<NAME>.yaml`` (results kept, and resumable, in
``<out>/protocol/<NAME>``); that takes days on a CPU. MUTAG has no such
configuration and keeps the reduced budget under ``--full``.

Training runs go to a pool of ``--workers`` single-threaded spawned
processes. The script prints Markdown tables and writes
``width_vs_difficulty.json`` (every run's numbers) and the plots
``ladder_width.png`` and ``ladder_width_history.png`` into ``--out``.

Example (default budget: under 15 minutes on 2 CPU cores)::

    python benchmarks/width_vs_difficulty.py --data-root ../shared/data
    python benchmarks/width_vs_difficulty.py --fixed-curves --seeds 10
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from common import (
    base_parser,
    dataset_and_split,
    header,
    ladder_and_split,
    markdown_table,
    mean_std,
    plt,
    positive_int,
    run_jobs,
    save_figure,
    setup,
    train_model,
)
from scipy.stats import spearmanr

from awgnn.harness import cli
from awgnn.harness.data import LoadedDataset, load_dataset, resolve_data_root
from awgnn.harness.ladder import LADDER_LEVELS, MIN_GRAPHS_PER_CLASS, ladder_level
from awgnn.harness.report import load_results, summary
from awgnn.harness.splits import Fold

MODEL = "AdaptiveGINClassifier"
FIXED_MODEL = "GINClassifier"
# The ladder's budget (see awgnn.harness.ladder), the same at every level and for every model:
# two blocks (node-wise MLP + one GIN layer), 60 epochs (--epochs) of 800 training graphs.
LADDER_TRAINING: Mapping[str, Any] = MappingProxyType({"num_layers": 2, "batch_size": 32, "lr": 0.01})
LADDER_EPOCHS = 60
# The adaptive GIN starts narrow.
LADDER_POINT: Mapping[str, Any] = MappingProxyType({**LADDER_TRAINING, "lambda0": 0.5})
# Hidden widths of the fixed curves, from narrow to wide.
FIXED_WIDTHS = (8, 16, 32, 64)
# The AWN paper's graph settings at one grid point; lambda0 0.02 is the default.
REAL_POINT: Mapping[str, Any] = MappingProxyType({"num_layers": 3, "batch_size": 32, "lr": 0.01})
CONFIGS = Path(__file__).resolve().parents[1] / "configs" / "awn_gin"


@dataclass(frozen=True)
class RealBudget:
    """Reduced budget of one real dataset: epochs and seeds on one stratified split."""

    epochs: int
    seeds: int


# Sized for the default run's 15-minute limit (2 cores): an epoch takes about 0.15 s on MUTAG,
# 0.6 s on PROTEINS, 1.7 s on NCI1, 0.3 s on IMDB-BINARY and 6 s on REDDIT-BINARY (~430 nodes a graph).
REDUCED_BUDGETS: Mapping[str, RealBudget] = MappingProxyType(
    {
        "MUTAG": RealBudget(epochs=100, seeds=2),
        "PROTEINS": RealBudget(epochs=50, seeds=2),
        "NCI1": RealBudget(epochs=30, seeds=1),
        "IMDB-BINARY": RealBudget(epochs=50, seeds=2),
        "REDDIT-BINARY": RealBudget(epochs=10, seeds=1),
    }
)
SMOKE_REAL_BUDGETS: Mapping[str, RealBudget] = MappingProxyType({"MUTAG": RealBudget(epochs=2, seeds=1)})


@dataclass(frozen=True)
class LadderRun:
    """One training run on a ladder level; picklable, for the worker pool."""

    level: int
    seed: int
    epochs: int
    num_graphs: int
    point: dict[str, Any]
    model: str = MODEL

    def data_and_split(self) -> tuple[LoadedDataset, Fold]:
        return ladder_and_split(self.level, self.num_graphs, self.seed)

    def describe(self) -> dict[str, Any]:
        return {
            "level": self.level,
            "seed": self.seed,
            "epochs": self.epochs,
            "model": self.model,
            "hidden_channels": self.point.get("hidden_channels"),
        }


@dataclass(frozen=True)
class RealRun:
    """One reduced-budget training run on a TU dataset; picklable, for the worker pool."""

    dataset: str
    seed: int
    epochs: int
    data_root: str

    def data_and_split(self) -> tuple[LoadedDataset, Fold]:
        return dataset_and_split(self.dataset, self.data_root)

    @property
    def point(self) -> Mapping[str, Any]:
        return REAL_POINT

    @property
    def model(self) -> str:
        return MODEL

    def describe(self) -> dict[str, Any]:
        return {"dataset": self.dataset, "seed": self.seed, "epochs": self.epochs}


def train(run: LadderRun | RealRun) -> dict[str, Any]:
    """Train one run as the harness does; its scores, learned widths and width per epoch."""
    data, fold = run.data_and_split()
    _, record = train_model(data, fold, run.model, run.epochs, run.seed, **run.point)
    return {
        **run.describe(),
        "status": record["status"],
        "test_accuracy": record["test_score"],
        "best_epoch": record["best_epoch"],
        "layer_widths": record["layer_widths"],
        "total_width": record["total_width"],
        "total_width_per_epoch": [sum(epoch["widths"].values()) for epoch in record["history"]],
        "seconds": record["seconds"],
    }


# -- reporting ------------------------------------------------------------------------------------


def widths_text(runs: Sequence[dict[str, Any]]) -> str:
    """Mean ± std of each layer's learned width over ``runs``."""
    layers = list(runs[0]["layer_widths"])
    return ", ".join(f"{layer} {mean_std([r['layer_widths'][layer] for r in runs])}" for layer in layers)


def accuracy_text(runs: Sequence[dict[str, Any]]) -> str:
    scores = [r["test_accuracy"] for r in runs if r["test_accuracy"] is not None]
    failed = len(runs) - len(scores)
    text = mean_std([100 * s for s in scores]) if scores else "-"
    return text + (f" ({failed} NaN run(s))" if failed else "")


def by_level(runs: Sequence[dict[str, Any]]) -> dict[int, list[dict[str, Any]]]:
    levels: dict[int, list[dict[str, Any]]] = {}
    for run in sorted(runs, key=lambda r: (r["level"], r["seed"])):
        levels.setdefault(run["level"], []).append(run)
    return levels


def ladder_table(runs: Sequence[dict[str, Any]]) -> str:
    rows = []
    for level, group in by_level(runs).items():
        rows.append(
            (
                *level_columns(level),
                accuracy_text(group),
                widths_text(group),
                mean_std([r["total_width"] for r in group]),
            )
        )
    return markdown_table((*LEVEL_HEADERS, "test accuracy (%)", "learned width per layer", "total width"), rows)


LEVEL_HEADERS = ("level", "node types", "patterns", "classes")


def level_columns(level: int) -> tuple[int, int, int, int]:
    spec = ladder_level(level)
    return level, spec.num_types, spec.num_patterns, spec.num_classes


def spearman(runs: Sequence[dict[str, Any]]) -> dict[str, float | int | None]:
    """Spearman's rho between level and total width over all runs (``None`` when undefined)."""
    levels = [r["level"] for r in runs]
    widths = [r["total_width"] for r in runs]
    if len(set(levels)) < 2 or len(set(widths)) < 2:
        return {"rho": None, "p_value": None, "runs": len(runs)}
    result = spearmanr(levels, widths)
    return {"rho": float(result.statistic), "p_value": float(result.pvalue), "runs": len(runs)}


def spearman_text(correlation: Mapping[str, Any]) -> str:
    if correlation["rho"] is None:
        return (
            f"Spearman's rho between level and total width: undefined over {correlation['runs']} runs "
            f"(no variation in level or width)"
        )
    return (
        f"Spearman's rho between level and total width over {correlation['runs']} (level, seed) runs: "
        f"**{correlation['rho']:.3f}** (p = {correlation['p_value']:.2g})"
    )


def fixed_table(runs: Sequence[dict[str, Any]]) -> str:
    """One row per level: test accuracy at every fixed width, and the seconds a run took."""
    widths = sorted({r["hidden_channels"] for r in runs})
    rows = []
    for level, group in by_level(runs).items():
        at = [[r for r in group if r["hidden_channels"] == width] for width in widths]
        seconds = " / ".join(f"{statistics.fmean(r['seconds'] for r in runs_at):.1f}" for runs_at in at)
        rows.append((*level_columns(level), *(accuracy_text(runs_at) for runs_at in at), seconds))
    seconds_header = f"seconds per run (width {' / '.join(map(str, widths))})"
    return markdown_table((*LEVEL_HEADERS, *(f"width {w}: test accuracy (%)" for w in widths), seconds_header), rows)


def mean_accuracy_per_level(runs: Sequence[dict[str, Any]]) -> dict[int, float]:
    """Mean test accuracy (%) of each level over the runs that finished."""
    means = {}
    for level, group in by_level(runs).items():
        scores = [r["test_accuracy"] for r in group if r["test_accuracy"] is not None]
        if scores:
            means[level] = 100 * statistics.fmean(scores)
    return means


def trend_text(runs: Sequence[dict[str, Any]]) -> str:
    """For each fixed width: its mean accuracy from the lowest to the highest level, and whether it
    falls at every step."""
    lines = []
    for width in sorted({r["hidden_channels"] for r in runs}):
        means = list(mean_accuracy_per_level([r for r in runs if r["hidden_channels"] == width]).values())
        falls = len(means) > 1 and all(later < earlier for earlier, later in zip(means, means[1:]))
        lines.append(
            f"Width {width}: mean test accuracy {' → '.join(f'{m:.1f}' for m in means)} %; "
            f"lowest {min(means):.1f} %; falls at every level: {'yes' if falls else 'no'}"
        )
    return "  \n".join(lines)


def real_table(runs: Sequence[dict[str, Any]], protocol: Mapping[str, dict[str, Any]]) -> str:
    """One row per dataset: reduced-budget runs, or the protocol's summary for datasets run with ``--full``."""
    rows = []
    for name in REDUCED_BUDGETS:
        if name in protocol:
            rows.append((name, *protocol_row(protocol[name])))
            continue
        group = [r for r in runs if r["dataset"] == name]
        if group:
            budget = f"{group[0]['epochs']} epochs, 1 split, {len(group)} seed(s)"
            rows.append(
                (name, budget, accuracy_text(group), widths_text(group), mean_std([r["total_width"] for r in group]))
            )
    return markdown_table(("dataset", "budget", "test accuracy (%)", "learned width per layer", "total width"), rows)


def protocol_row(content: Mapping[str, Any]) -> tuple[str, str, str, str]:
    """Budget, accuracy, widths per layer and total width from a harness summary."""
    model = next(iter(content["models"].values()))
    finals = [widths for fold in model["per_fold"] for widths in fold["layer_widths"]]
    accuracy = "-" if model["mean"] is None else f"{100 * model['mean']:.3g} ± {100 * model['std']:.2g}"
    layers = list(dict.fromkeys(layer for widths in finals for layer in widths))
    per_layer = ", ".join(f"{layer} {mean_std([w[layer] for w in finals if layer in w])}" for layer in layers)
    total = model["total_width"]
    width = "-" if total["mean"] is None else f"{total['mean']:.3g} ± {total['std']:.2g}"
    return f"full protocol, {model['folds_scored']} folds", accuracy, per_layer or "-", width


def plot_ladder(runs: Sequence[dict[str, Any]], out: Path) -> list[Path]:
    """Total width and accuracy against level; mean total width per epoch of every level."""
    levels = by_level(runs)
    figure, axes = plt.subplots(figsize=(6, 4))
    axes.scatter([r["level"] for r in runs], [r["total_width"] for r in runs], color="C0", alpha=0.5, label="one run")
    axes.errorbar(
        list(levels),
        [statistics.fmean(r["total_width"] for r in g) for g in levels.values()],
        yerr=[statistics.pstdev(r["total_width"] for r in g) for g in levels.values()],
        color="C0",
        marker="o",
        capsize=3,
        label="mean ± std",
    )
    axes.set(
        xlabel="ladder level",
        ylabel="learned total width",
        xticks=list(levels),
        title="Learned width against difficulty",
    )
    accuracy = axes.twinx()
    accuracy.plot(
        list(levels),
        [100 * statistics.fmean(r["test_accuracy"] or 0 for r in g) for g in levels.values()],
        "s--",
        color="C1",
        label="test accuracy",
    )
    accuracy.set(ylabel="test accuracy (%)", ylim=(0, 105))
    handles = axes.get_legend_handles_labels()[0] + accuracy.get_legend_handles_labels()[0]
    axes.legend(handles, [h.get_label() for h in handles], loc="lower right", fontsize="small")
    paths = [save_figure(figure, out / "ladder_width.png")]

    figure, axes = plt.subplots(figsize=(6, 4))
    for level, group in levels.items():
        curves = [r["total_width_per_epoch"] for r in group]
        length = min(map(len, curves))
        axes.plot(
            range(length),
            [statistics.fmean(c[e] for c in curves) for e in range(length)],
            color=f"C{level}",
            label=f"level {level}",
        )
    axes.set(xlabel="epoch", ylabel="total width (mean over seeds)", title="Width during training")
    axes.legend(fontsize="small")
    paths.append(save_figure(figure, out / "ladder_width_history.png"))
    return paths


def plot_fixed_curves(runs: Sequence[dict[str, Any]], out: Path) -> Path:
    """Test accuracy against level, one curve per fixed width, with chance level."""
    figure, axes = plt.subplots(figsize=(6, 4))
    for index, width in enumerate(sorted({r["hidden_channels"] for r in runs})):
        levels = by_level([r for r in runs if r["hidden_channels"] == width])
        scores = [
            [100 * r["test_accuracy"] for r in group if r["test_accuracy"] is not None] for group in levels.values()
        ]
        axes.errorbar(
            list(levels),
            [statistics.fmean(s) if s else float("nan") for s in scores],
            yerr=[statistics.pstdev(s) if s else 0.0 for s in scores],
            color=f"C{index}",
            marker="o",
            capsize=3,
            label=f"fixed GIN, {width} neurons a block",
        )
    chance = 100 / ladder_level(0).num_classes
    axes.axhline(chance, color="grey", linestyle=":", label="chance")
    axes.set(
        xlabel="ladder level",
        ylabel="test accuracy (%)",
        xticks=list(range(LADDER_LEVELS)),
        ylim=(0, 105),
        title="What makes a level difficult",
    )
    axes.legend(loc="lower left", fontsize="small")
    return save_figure(figure, out / "ladder_fixed_curves.png")


def fixed_curves(arguments: argparse.Namespace, out: Path, started: float) -> None:
    """The ``--fixed-curves`` mode: train the fixed GIN at every width, level and seed; print and save."""
    runs = [
        LadderRun(
            level,
            seed,
            arguments.epochs,
            arguments.num_graphs,
            {**LADDER_TRAINING, "hidden_channels": width},
            FIXED_MODEL,
        )
        for level in reversed(range(LADDER_LEVELS))
        for seed in range(arguments.seeds)
        for width in sorted(arguments.fixed_widths, reverse=True)
    ]
    results = run_jobs(train, runs, arguments.workers)
    plot = plot_fixed_curves(results, out)
    elapsed = time.perf_counter() - started
    (out / "ladder_fixed_curves.json").write_text(
        json.dumps(
            {
                "arguments": {key: str(value) for key, value in vars(arguments).items()},
                "model": FIXED_MODEL,
                "hyperparameters": dict(LADDER_TRAINING),
                "runs": results,
                "seconds": elapsed,
            },
            indent=1,
        )
    )

    point = ", ".join(f"{key}={value}" for key, value in LADDER_TRAINING.items())
    print(header("What makes a ladder level difficult: fixed-width GIN at every level"))
    print(
        f"{FIXED_MODEL}, {point}, hidden widths {', '.join(map(str, sorted(arguments.fixed_widths)))} "
        f"a block (embedding 64), {arguments.epochs} epochs, {arguments.num_graphs} graphs per level "
        f"(one 80/10/10 split per seed), {arguments.seeds} seed(s) per level\n"
    )
    print(fixed_table(results))
    print(f"\n{trend_text(results)}\n")
    print(
        f"Test accuracy is the mean ± population std over seeds at the best-validation epoch; chance level is "
        f"{100 / ladder_level(0).num_classes:.0f}%. Seconds per run: one thread, data generation excluded.  \n"
        f"Plot: {plot.name}; raw numbers: ladder_fixed_curves.json (in {out}).  \n"
        f"Total time: {elapsed:.0f} s with {arguments.workers} worker process(es)."
    )


# -- the full protocol ----------------------------------------------------------------------------


def run_protocol(name: str, data_root: Path, out: Path, workers: int) -> dict[str, Any]:
    """The fair-comparison protocol of ``configs/awn_gin/<name>.yaml`` through ``awgnn bench``; its summary."""
    results = out / "protocol" / name
    code = cli.main(
        [
            "bench",
            str(CONFIGS / f"{name}.yaml"),
            "--data-root",
            str(data_root),
            "--results",
            str(results),
            "--workers",
            str(workers),
            "--no-progress",
        ]
    )
    if code != 0:
        raise SystemExit(
            f"awgnn bench on {name} failed with exit code {code}; finished runs are kept in "
            f"{results}, rerun the same command to continue"
        )
    return summary(load_results(results))


# -- command line ---------------------------------------------------------------------------------


def parse_arguments() -> argparse.Namespace:
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=positive_int, default=10, help="seeds per ladder level (default 10)")
    parser.add_argument(
        "--epochs",
        type=positive_int,
        default=LADDER_EPOCHS,
        help=f"training epochs per ladder run (default {LADDER_EPOCHS}, the ladder's budget)",
    )
    parser.add_argument("--num-graphs", type=positive_int, default=1000, help="graphs per ladder level (default 1000)")
    parser.add_argument(
        "--lambda0",
        type=float,
        default=LADDER_POINT["lambda0"],
        help=f"initial rate of every ladder layer (default {LADDER_POINT['lambda0']}: "
        f"6 neurons; the paper's 0.02 gives 117)",
    )
    parser.add_argument(
        "--workers", type=positive_int, default=2, help="training processes, one thread each (default 2)"
    )
    parser.add_argument(
        "--full",
        action="store_true",
        help="real data: the full protocol of configs/awn_gin (days) instead of the reduced budget",
    )
    parser.add_argument(
        "--fixed-curves",
        action="store_true",
        help="only the fixed-width GIN at --fixed-widths on every ladder level (what makes a level "
        "difficult), instead of the adaptive GIN and real data",
    )
    parser.add_argument(
        "--fixed-widths",
        nargs="+",
        type=positive_int,
        default=list(FIXED_WIDTHS),
        help=f"hidden neurons a block of the fixed curves (default {' '.join(map(str, FIXED_WIDTHS))})",
    )
    arguments = parser.parse_args()
    if arguments.smoke and arguments.full:
        parser.error("--smoke and --full exclude each other")
    if arguments.fixed_curves and arguments.full:
        parser.error("--fixed-curves and --full exclude each other")
    # The fewest graphs every level accepts.
    fewest = MIN_GRAPHS_PER_CLASS * ladder_level(LADDER_LEVELS - 1).num_classes
    if arguments.smoke:
        arguments.num_graphs, arguments.epochs, arguments.seeds = fewest, 2, 1
    if arguments.num_graphs < fewest:
        parser.error(
            f"--num-graphs must be at least {fewest} ({MIN_GRAPHS_PER_CLASS} per class of the top level), "
            f"got {arguments.num_graphs}"
        )
    return arguments


def planned_runs(arguments: argparse.Namespace, data_root: Path) -> list[LadderRun | RealRun]:
    """The reduced-budget real-data runs, then the ladder runs, roughly the longest first."""
    budgets = SMOKE_REAL_BUDGETS if arguments.smoke else REDUCED_BUDGETS
    protocol = set(protocol_datasets()) if arguments.full else set()
    real = [
        RealRun(name, seed, budget.epochs, str(data_root))
        for name, budget in reversed(budgets.items())
        if name not in protocol
        for seed in range(budget.seeds)
    ]
    point = {**LADDER_POINT, "lambda0": arguments.lambda0}
    ladder = [
        LadderRun(level, seed, arguments.epochs, arguments.num_graphs, point)
        for level in reversed(range(LADDER_LEVELS))
        for seed in range(arguments.seeds)
    ]
    return real + ladder


def prepare_real_data(runs: Sequence[LadderRun | RealRun], data_root: Path) -> None:
    """Load every real dataset once here, so that its processed files are built before the workers
    start (two workers must not build the same files at once) and a missing dataset fails early."""
    for name in dict.fromkeys(run.dataset for run in runs if isinstance(run, RealRun)):
        load_dataset(name, data_root)


def protocol_datasets() -> list[str]:
    """The real datasets that have an ``awn_gin`` configuration."""
    return [name for name in REDUCED_BUDGETS if (CONFIGS / f"{name}.yaml").is_file()]


def main() -> None:
    started = time.perf_counter()
    arguments = parse_arguments()
    out = setup(arguments)
    if arguments.fixed_curves:
        fixed_curves(arguments, out, started)
        return
    data_root = resolve_data_root(arguments.data_root)
    runs = planned_runs(arguments, data_root)
    prepare_real_data(runs, data_root)
    results = run_jobs(train, runs, arguments.workers)
    ladder = [r for r in results if "level" in r]
    real = [r for r in results if "dataset" in r]
    protocol = (
        {name: run_protocol(name, data_root, out, arguments.workers) for name in protocol_datasets()}
        if arguments.full
        else {}
    )
    correlation = spearman(ladder)
    plots = plot_ladder(ladder, out)
    elapsed = time.perf_counter() - started
    (out / "width_vs_difficulty.json").write_text(
        json.dumps(
            {
                "arguments": {key: str(value) for key, value in vars(arguments).items()},
                "ladder_hyperparameters": {**LADDER_POINT, "lambda0": arguments.lambda0},
                "real_hyperparameters": dict(REAL_POINT),
                "real_budgets": {name: asdict(budget) for name, budget in REDUCED_BUDGETS.items()},
                "ladder_runs": ladder,
                "spearman": correlation,
                "real_runs": real,
                "protocol_summaries": protocol,
                "seconds": elapsed,
            },
            indent=1,
        )
    )

    point = ", ".join(f"{key}={value}" for key, value in {**LADDER_POINT, "lambda0": arguments.lambda0}.items())
    print(header("Learned width against task difficulty"))
    print(
        f"#### (a) Synthetic ladder: adaptive GIN, {point}, {arguments.epochs} epochs, "
        f"{arguments.num_graphs} graphs per level, {arguments.seeds} seed(s) per level\n"
    )
    print(ladder_table(ladder))
    print(f"\n{spearman_text(correlation)}\n")
    print(
        f"#### (b) Real data: adaptive GIN, {', '.join(f'{k}={v}' for k, v in REAL_POINT.items())}, "
        f"lambda0=0.02 (117 neurons per block at the start)\n"
    )
    print(real_table(real, protocol))
    print(
        f"\nTest accuracy and widths are mean ± population std over seeds (folds for the full protocol); "
        f"widths are those of the best-validation epoch.  \nPlots: {', '.join(p.name for p in plots)}; "
        f"raw numbers: width_vs_difficulty.json (in {out}).  \n"
        f"Total time: {elapsed:.0f} s with {arguments.workers} worker process(es)."
    )


if __name__ == "__main__":
    main()
