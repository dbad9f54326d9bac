"""What width each dataset needs, measured with fixed-width models only (no adaptive layer).

For the AWN paper's classifier (``GINClassifier``: 3 blocks, leaky ReLU MLPs,
mean pooling) and FairGIN's architecture (``FairGIN``: 3 GIN layers, batch
norms in every MLP, sum pooling, its learning-rate schedule), every hidden
layer gets the same fixed width, swept over 4..256 neurons. Each run trains
on the inner-train split of an official outer fold and early-stops on that
fold's inner validation split; the test folds are never read. Per width the
table gives the training and validation accuracy at the best-validation epoch.

The saturation width W* of a dataset is the smallest width whose mean
validation accuracy is within one standard error (over folds, pooled over
the widths) of the best width's mean (:func:`saturation_width`). NCI1 is also run with its inner-train
split subsampled to 25% and 50% (the validation split unchanged), to show
whether the width a dataset needs grows with its number of observations.

Finished runs are appended to ``width_need.jsonl`` in the output folder, so
the study resumes where it stopped.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import statistics
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
from common import ResultsFile, base_parser, header, markdown_table, plt, positive_int, resume, save_figure, setup

from awgnn.harness.config import model_arguments, training_settings
from awgnn.harness.data import load_dataset, official_split_path, resolve_data_root
from awgnn.harness.registry import MODEL_CLASSES
from awgnn.harness.splits import Fold, generate_splits, read_official_splits
from awgnn.harness.train import RunSettings, fit

DATASETS = ("MUTAG", "PROTEINS", "NCI1", "ENZYMES", "IMDB-BINARY", "IMDB-MULTI")
WIDTHS = (4, 8, 16, 32, 64, 128, 256)
# The two architectures, each at 3 blocks with every hidden layer at the swept width.
ARCHITECTURES: Mapping[str, Mapping[str, Any]] = MappingProxyType(
    {
        "awn_gin": MappingProxyType({"class": "GINClassifier", "num_layers": 3, "batch_size": 32, "lr": 0.01}),
        "fair_gin": MappingProxyType(
            {
                "class": "FairGIN",
                "pooling": "sum",
                "train_eps": False,
                "dropout": 0.0,
                "batch_size": 32,
                "lr": 0.01,
                "scheduler_step": 50,
                "scheduler_gamma": 0.5,
            }
        ),
    }
)
FAIR_GIN_LAYERS = 3
SUBSAMPLED = "NCI1"
FRACTIONS = (0.25, 0.5, 1.0)
# The official split files' seed for datasets without one (MUTAG), as the harness's configurations use.
SPLIT_SEED = 42


@dataclass(frozen=True)
class Run:
    """One fixed-width training; picklable, and its own key in the results file."""

    architecture: str
    dataset: str
    width: int
    fold: int
    fraction: float
    epochs: int
    patience: int
    data_root: str

    @property
    def key(self) -> str:
        point = json.dumps(self.point(), sort_keys=True)
        return (
            f"{self.architecture}/{self.dataset}/{self.width}/{self.fold}/{self.fraction}/{self.epochs}/"
            f"{self.patience}/{hashlib.sha256(point.encode()).hexdigest()[:8]}"
        )

    def point(self) -> dict[str, Any]:
        point = {k: v for k, v in ARCHITECTURES[self.architecture].items() if k != "class"}
        if self.architecture == "fair_gin":
            point["hidden_units"] = [self.width] * FAIR_GIN_LAYERS
        else:
            point["hidden_channels"] = self.width
        return point


def outer_folds(data, name: str, data_root: str) -> Sequence[Fold]:
    """The official folds of ``name`` (generated with the harness's seed where there is no file)."""
    path = official_split_path(data_root, name)
    if path is None:
        return generate_splits(data.labels, n_outer=10, holdout=0.1, seed=SPLIT_SEED).folds
    return read_official_splits(path, len(data.labels)).folds


def subsample(indices: Sequence[int], fraction: float, seed: int) -> list[int]:
    """A random ``fraction`` of ``indices`` (all of them at 1), the same for every width."""
    if fraction >= 1:
        return list(indices)
    chosen = np.random.default_rng(seed).permutation(len(indices))[: max(1, round(fraction * len(indices)))]
    return [indices[i] for i in sorted(chosen)]


def train(run: Run) -> dict[str, Any]:
    data = load_dataset(run.dataset, run.data_root)
    fold = outer_folds(data, run.dataset, run.data_root)[run.fold]
    train_index = subsample(fold.train, run.fraction, seed=run.fold)
    spec = MODEL_CLASSES[ARCHITECTURES[run.architecture]["class"]]
    settings = RunSettings(max_epochs=run.epochs, patience=run.patience, device="cpu", loader="memory")
    point = run.point()
    _, record = fit(
        data,
        train_index,
        fold.validation,
        None,
        spec,
        model_arguments(point),
        training_settings({**point, "monitor": "val_accuracy"}, spec.adaptive),
        settings,
        seed=run.fold,
    )
    return {
        **asdict(run),
        "key": run.key,
        "status": record["status"],
        "train_accuracy": record["train_score"],
        "val_accuracy": record["val_score"],
        "best_epoch": record["best_epoch"],
        "epochs_run": record["epochs"],
        "n_observations": len(train_index),
        "num_parameters": record["num_parameters"],
        "cpu_seconds": record["cpu_seconds"],
    }


def planned_runs(arguments: argparse.Namespace, data_root: str) -> list[Run]:
    runs = [
        Run(architecture, dataset, width, fold, 1.0, arguments.epochs, arguments.patience, data_root)
        for architecture in arguments.architectures
        for dataset in arguments.datasets
        for width in arguments.widths
        for fold in range(arguments.folds)
    ]
    if SUBSAMPLED in arguments.datasets:
        runs += [
            Run(architecture, SUBSAMPLED, width, fold, fraction, arguments.epochs, arguments.patience, data_root)
            for architecture in arguments.architectures
            for fraction in FRACTIONS
            if fraction < 1
            for width in arguments.widths
            for fold in range(arguments.folds)
        ]
    sizes = {"NCI1": 4110, "PROTEINS": 1113, "IMDB-BINARY": 1000, "IMDB-MULTI": 1500, "ENZYMES": 600}
    # Cheapest first: finished cells come in early, and an interrupted study has whole datasets.
    return sorted(runs, key=lambda r: (sizes.get(r.dataset, 188) * r.fraction, r.width))


# -- the measure --------------------------------------------------------------------------------------


def saturation_width(accuracy_by_width: Mapping[int, Sequence[float]]) -> int:
    """The smallest width whose mean accuracy is within one standard error of the best width's mean.

    The standard error is pooled over the widths (the mean of their sample
    standard deviations over runs, divided by the square root of the number of
    runs): with three folds one width's own estimate is often 0 (validation
    accuracies on a few dozen graphs tie), which would make W* jump to it.
    """
    means = {width: statistics.fmean(values) for width, values in accuracy_by_width.items()}
    runs = min(len(values) for values in accuracy_by_width.values())
    spread = statistics.fmean(statistics.stdev(v) for v in accuracy_by_width.values()) if runs > 1 else 0.0
    best = max(means.values())
    return min(width for width, mean in means.items() if mean >= best - spread / math.sqrt(runs))


def cells(runs: Sequence[dict[str, Any]]) -> dict[tuple[str, str, float], dict[int, list[dict[str, Any]]]]:
    table: dict[tuple[str, str, float], dict[int, list[dict[str, Any]]]] = {}
    for run in runs:
        table.setdefault((run["architecture"], run["dataset"], run["fraction"]), {}).setdefault(
            run["width"], []
        ).append(run)
    return table


def need_table(runs: Sequence[dict[str, Any]], widths: Sequence[int], folds: int) -> str:
    rows = []
    for (architecture, dataset, fraction), by_width in sorted(cells(runs).items()):
        complete = all(len(by_width.get(w, [])) == folds for w in widths)
        val = {w: [100 * r["val_accuracy"] for r in by_width[w]] for w in widths if w in by_width}
        row = [
            architecture,
            dataset if fraction == 1 else f"{dataset} ({fraction:.0%} of training)",
            round(statistics.fmean([r["n_observations"] for rs in by_width.values() for r in rs])),
        ]
        for width in widths:
            if width not in by_width:
                row.append("-")
                continue
            v = val[width]
            t = statistics.fmean([100 * r["train_accuracy"] for r in by_width[width]])
            row.append(f"{statistics.fmean(v):.1f} ± {statistics.pstdev(v):.1f} ({t:.0f})")
        row.append(saturation_width(val) if complete else f"pending ({sum(map(len, by_width.values()))} runs)")
        rows.append(row)
    return markdown_table(["architecture", "dataset", "N (inner train)", *(f"width {w}" for w in widths), "W*"], rows)


def saturation_widths(runs: Sequence[dict[str, Any]], widths: Sequence[int], folds: int) -> dict[str, int]:
    """W* of every complete cell, keyed ``architecture/dataset/fraction``."""
    result = {}
    for (architecture, dataset, fraction), by_width in cells(runs).items():
        if all(len(by_width.get(w, [])) == folds for w in widths):
            result[f"{architecture}/{dataset}/{fraction}"] = saturation_width(
                {w: [r["val_accuracy"] for r in by_width[w]] for w in widths}
            )
    return result


def plot(runs: Sequence[dict[str, Any]], architectures: Sequence[str], out: Path) -> Path:
    figure, axes = plt.subplots(1, len(architectures), figsize=(6 * len(architectures), 4), squeeze=False)
    for axis, architecture in zip(axes[0], architectures):
        for (arch, dataset, fraction), by_width in sorted(cells(runs).items()):
            if arch != architecture:
                continue
            widths = sorted(by_width)
            means = [statistics.fmean(100 * r["val_accuracy"] for r in by_width[w]) for w in widths]
            label = dataset if fraction == 1 else f"{dataset} {fraction:.0%}"
            axis.plot(widths, means, marker="o", linestyle="-" if fraction == 1 else ":", label=label)
        axis.set_xscale("log", base=2)
        axis.set_xlabel("neurons a hidden layer (fixed)")
        axis.set_ylabel("inner validation accuracy (%)")
        axis.set_title(architecture)
        axis.legend(fontsize=7)
    return save_figure(figure, out / "width_need.png")


def parse_arguments() -> argparse.Namespace:
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", choices=DATASETS, default=list(DATASETS))
    parser.add_argument("--architectures", nargs="+", choices=list(ARCHITECTURES), default=list(ARCHITECTURES))
    parser.add_argument("--widths", type=positive_int, nargs="+", default=list(WIDTHS))
    parser.add_argument("--folds", type=positive_int, default=3, help="official outer folds used (default 3)")
    parser.add_argument("--epochs", type=positive_int, default=80, help="most epochs a run (default 80)")
    parser.add_argument("--patience", type=positive_int, default=25, help="early-stopping patience (default 25)")
    parser.add_argument("--workers", type=positive_int, default=1)
    return parser.parse_args()


def main() -> None:
    arguments = parse_arguments()
    if arguments.smoke:
        arguments.datasets, arguments.widths, arguments.folds, arguments.epochs = ["MUTAG"], [4, 8], 2, 2
    out = setup(arguments)
    started = time.perf_counter()
    data_root = str(resolve_data_root(arguments.data_root))
    results = ResultsFile(out / "width_need.jsonl")
    runs = resume(planned_runs(arguments, data_root), results, train, arguments.workers)
    figure = plot(runs, arguments.architectures, out)
    print(header("What width each dataset needs: fixed widths on the official inner splits"))
    print(
        f"Every hidden layer at the width of the column; {arguments.folds} official outer fold(s), each "
        f"trained on its inner-train split and early-stopped on its inner validation split (at most "
        f"{arguments.epochs} epochs, patience {arguments.patience}); test folds not read. Cells: mean ± "
        f"population std of the validation accuracy (%) over folds, with the training accuracy in "
        f"brackets. W*: the smallest width within one standard error (pooled over the widths) of the best "
        f"width's validation accuracy.\n"
    )
    print(need_table(runs, arguments.widths, arguments.folds))
    cpu = sum(r["cpu_seconds"] for r in runs)
    print(
        f"\nFigure: {figure.name}; raw runs: {results.path.name}. {len(runs)} runs, {cpu / 3600:.2f} CPU-hours; "
        f"this invocation {time.perf_counter() - started:.0f} s with {arguments.workers} worker(s)."
    )


if __name__ == "__main__":
    main()
