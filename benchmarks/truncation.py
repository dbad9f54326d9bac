"""Compression of the adaptive GIN: post-training tail truncation, and online rate-prior annealing.

**Truncation**. The adaptive GIN is trained with the
harness on each task (one stratified 80/10/10 split, a reduced budget), then
every adaptive layer is cut to 100%, 90%, ..., 10% of its learned width in
two ways, and the test accuracy, parameter count and inference throughput of
each cut copy are reported:

* *tail cut*: :func:`awgnn.truncate_` keeps each layer's leading, most
  important neurons (importances not renormalised, the reference default);
* *random removal*: the same number of neurons is deleted from every layer,
  chosen at random (several draws). The surviving neurons keep their own
  importances, which is exactly what zeroing the deleted neurons' consumer
  columns does; here the deletion is physical (see :func:`delete_neurons_`),
  so parameters are counted and inference is timed on a model of the same
  shapes as the tail-cut one.

The claim under test is the paper's: a tail cut costs almost nothing near
100% and degrades gracefully, far better than random removal.

**Online compression**. The same model trained with the
rate prior annealed by :class:`awgnn.RatePriorAnnealing` (off,
then tightening linearly towards a mean rate of 0.05, about 48 neurons a
layer) against the same training without a rate prior: the curve of total
width and validation accuracy per epoch, and the final test accuracy and
width of both.

Training runs go to a pool of single-threaded processes; the truncation
sweeps (and their timings) run afterwards in this process alone.
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from common import (
    LADDER_PREFIX,
    base_parser,
    header,
    markdown_table,
    mean_std,
    plt,
    positive_int,
    run_jobs,
    save_figure,
    setup,
    stopwatch,
    task_and_split,
    task_name,
    train_model,
)
from torch import nn

import awgnn
from awgnn.harness.batching import GraphStore, InMemoryLoader
from awgnn.harness.config import training_settings
from awgnn.harness.data import LoadedDataset
from awgnn.harness.ladder import LADDER_LEVELS
from awgnn.harness.registry import MODEL_CLASSES
from awgnn.harness.splits import Fold
from awgnn.harness.train import EpochContext, EpochHook, RunSettings, evaluate, fit
from awgnn.models import AdaptiveGINClassifier
from awgnn.width import RatePriorAnnealing, adaptive_widths

MODEL = "AdaptiveGINClassifier"
HARDEST_LADDER = f"{LADDER_PREFIX}{LADDER_LEVELS - 1}"
FRACTIONS = tuple(round(1 - 0.1 * i, 1) for i in range(10))
EVAL_BATCH = 128


# -- training (in the pool) ----------------------------------------------------------------


@dataclass(frozen=True)
class TrainJob:
    task: str
    seed: int
    epochs: int
    data_root: str | None


def train_job(job: TrainJob) -> dict[str, Any]:
    """Train the adaptive GIN with the harness; return its record and its weights at the best epoch."""
    data, fold = task_and_split(job.task, job.data_root)
    model, record = train_model(data, fold, MODEL, job.epochs, job.seed)
    return {"task": job.task, "seed": job.seed, "record": record, "state": model.state_dict()}


@dataclass(frozen=True)
class Annealing:
    """Settings of :class:`RatePriorAnnealing` (epochs absolute)."""

    mean: float
    start_epoch: int
    end_epoch: int
    initial_std: float
    final_std: float


@dataclass(frozen=True)
class CompressionJob:
    task: str
    seed: int
    epochs: int
    data_root: str | None
    annealing: Annealing | None


class CompressionRecorder(EpochHook):
    """Steps the rate-prior annealing (if any) before every epoch; records the test accuracy and size after it."""

    def __init__(self, annealing: Annealing | None, test_loader: InMemoryLoader) -> None:
        self.annealing = annealing
        self.test_loader = test_loader
        self.schedule: RatePriorAnnealing | None = None

    def start_epoch(self, context: EpochContext) -> dict[str, Any]:
        if self.annealing is not None and self.schedule is None:
            self.schedule = RatePriorAnnealing(context.objective, **asdict(self.annealing))
        return {"rate_prior_std": None if self.schedule is None else self.schedule.step(context.epoch)}

    def end_epoch(self, context: EpochContext) -> dict[str, Any]:
        return {
            "test_score": evaluate(context.model, self.test_loader, context.data)[1],
            "total_width": context.model.total_width(),
            "num_parameters": context.model.num_parameters(),
        }


def compression_job(job: CompressionJob) -> dict[str, Any]:
    """Train ``job.epochs`` epochs (no early stop) with the harness's defaults and, if given, the annealed prior.

    The harness's :func:`~awgnn.harness.train.fit` trains; a
    :class:`CompressionRecorder` hook steps the annealing and records every
    epoch's widths, validation and test accuracy; the epoch to report is
    chosen afterwards.
    """
    data, fold = task_and_split(job.task, job.data_root)
    spec = MODEL_CLASSES[MODEL]
    # On the CPU, as the pool's workers are; the recorder's test batches live there too.
    settings = RunSettings(max_epochs=job.epochs, patience=job.epochs, device="cpu", loader="memory")
    test_loader = InMemoryLoader(GraphStore.from_dataset(data.dataset), fold.test, EVAL_BATCH)
    _, record = fit(
        data,
        fold.train,
        fold.validation,
        fold.test,
        spec,
        {},
        training_settings({}, spec.adaptive),
        settings,
        job.seed,
        CompressionRecorder(job.annealing, test_loader),
    )
    curve = [
        {
            "epoch": entry["epoch"],
            "rate_prior_std": entry["rate_prior_std"],
            "train_loss": entry["train_loss"],
            "val_score": entry["val_score"],
            "test_score": entry["test_score"],
            "layer_widths": entry["widths"],
            "total_width": entry["total_width"],
            "num_parameters": entry["num_parameters"],
        }
        for entry in record["history"]
    ]
    return {"task": job.task, "seed": job.seed, "annealed": job.annealing is not None, "curve": curve}


# -- truncation sweep (in this process) -----------------------------------------------------


@torch.no_grad()
def delete_neurons_(model: nn.Module, keep: dict[str, torch.Tensor]) -> None:
    """Delete, in place, every neuron of each adaptive layer whose index is not in ``keep[name]``.

    Each kept neuron keeps its own importance, so the model computes exactly
    what it computed with the deleted neurons' consumer columns set to zero.
    Importances belong to positions, not neurons, so the kept neurons are
    first moved to the front (every follower permuted alike) and each
    consumer column is rescaled by the ratio of the neuron's old importance to
    that of its new position; the tail is then cut without renormalising.
    """
    for name, width in adaptive_widths(model):
        kept = keep[name].sort().values
        dropped = torch.ones(width.width, dtype=torch.bool)
        dropped[kept] = False
        order = torch.cat([kept, dropped.nonzero().view(-1)])
        importances = width.importances()
        compensation = importances[order] / importances
        for follower in width.followers:
            tensor = getattr(follower.module, follower.name)
            moved = tensor.index_select(follower.dim, order)
            if follower.role == "consumer":
                shape = [1] * moved.dim()
                shape[follower.dim] = -1
                moved *= compensation.view(shape)
            tensor.copy_(moved)
        width.truncate_(len(kept))


def random_keep(model: nn.Module, counts: dict[str, int], generator: torch.Generator) -> dict[str, torch.Tensor]:
    """For each adaptive layer, ``counts[name]`` of its neuron indices drawn uniformly without replacement."""
    return {
        name: torch.randperm(width.width, generator=generator)[: counts[name]] for name, width in adaptive_widths(model)
    }


@torch.inference_mode()
def throughputs(models: Sequence[nn.Module], batches: Sequence[Any], repeats: int) -> list[float]:
    """Graphs per second of each model's eval-mode forward over ``batches``, best of ``repeats`` passes.

    The models take turns within every repeat, so that load from other
    processes on a shared machine slows them alike.
    """
    graphs = sum(batch.num_graphs for batch in batches)
    best = [float("inf")] * len(models)
    for _ in range(repeats):
        for index, model in enumerate(models):
            model.eval()
            with stopwatch() as elapsed:
                for batch in batches:
                    model(batch.x, batch.edge_index, batch.batch, batch.num_graphs)
            best[index] = min(best[index], elapsed())
    return [graphs / seconds for seconds in best]


def truncation_sweep(
    model: nn.Module, data: LoadedDataset, fold: Fold, fractions: Iterable[float], draws: int, repeats: int, seed: int
) -> list[dict[str, Any]]:
    """Test accuracy, parameters and throughput of tail cuts and random removals, per kept fraction."""
    test_loader = InMemoryLoader(GraphStore.from_dataset(data.dataset), fold.test, EVAL_BATCH)
    batches = list(test_loader)
    generator = torch.Generator().manual_seed(seed)
    rows = []
    for fraction in fractions:
        tail = copy.deepcopy(model)
        counts = awgnn.truncate_(tail, fraction=fraction)
        randoms = []
        for _ in range(draws):
            pruned = copy.deepcopy(model)
            delete_neurons_(pruned, random_keep(pruned, counts, generator))
            randoms.append(pruned)
        assert all(m.num_parameters() == tail.num_parameters() for m in randoms)
        tail_speed, random_speed = throughputs([tail, randoms[0]], batches, repeats)
        rows.append(
            {
                "fraction": fraction,
                "layer_widths": counts,
                "total_width": sum(counts.values()),
                "num_parameters": tail.num_parameters(),
                "tail_accuracy": evaluate(tail, batches, data)[1],
                "random_accuracy": [evaluate(m, batches, data)[1] for m in randoms],
                "tail_graphs_per_s": tail_speed,
                "random_graphs_per_s": random_speed,
            }
        )
    return rows


# -- reporting ------------------------------------------------------------------------------


def by_fraction(sweeps: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """One task's sweeps (one per seed) pooled per kept fraction: accuracies listed, sizes and speeds averaged."""
    pooled = []
    for per_seed in zip(*sweeps):
        pooled.append(
            {
                "fraction": per_seed[0]["fraction"],
                "total_width": statistics.fmean(row["total_width"] for row in per_seed),
                "num_parameters": statistics.fmean(row["num_parameters"] for row in per_seed),
                "tail": [row["tail_accuracy"] for row in per_seed],
                "random": [a for row in per_seed for a in row["random_accuracy"]],
                "tail_speed": statistics.fmean(row["tail_graphs_per_s"] for row in per_seed),
                "random_speed": statistics.fmean(row["random_graphs_per_s"] for row in per_seed),
            }
        )
    return pooled


def truncation_table(pooled: list[dict[str, Any]]) -> list[list[Any]]:
    return [
        [
            f"{p['fraction']:.0%}",
            round(p["total_width"]),
            round(p["num_parameters"]),
            mean_std(p["tail"]),
            mean_std(p["random"]),
            f"{statistics.fmean(p['tail']) - statistics.fmean(p['random']):+.3f}",
            f"{p['tail_speed']:.0f}",
            f"{p['random_speed']:.0f}",
        ]
        for p in pooled
    ]


def flat_region(pooled: list[dict[str, Any]], tolerance: float = 0.01) -> float:
    """The smallest kept fraction down to which the mean tail-cut accuracy stays within ``tolerance`` of 100%."""
    full = statistics.fmean(pooled[0]["tail"])
    smallest = pooled[0]["fraction"]
    for point in pooled:
        if statistics.fmean(point["tail"]) < full - tolerance:
            break
        smallest = point["fraction"]
    return smallest


def plot_truncation(task: str, pooled: list[dict[str, Any]], path: Path) -> None:
    figure, (by_size, by_speed) = plt.subplots(1, 2, figsize=(10, 4))
    sizes = [p["num_parameters"] for p in pooled]
    for kind, label in (("tail", "tail cut"), ("random", "random removal")):
        mean = [statistics.fmean(p[kind]) for p in pooled]
        std = [statistics.pstdev(p[kind]) for p in pooled]
        by_size.errorbar(sizes, mean, yerr=std, marker="o", capsize=3, label=label)
        by_speed.errorbar([p[f"{kind}_speed"] for p in pooled], mean, yerr=std, marker="o", capsize=3, label=label)
    by_size.set(xlabel="parameters", ylabel="test accuracy", title=f"{task}: accuracy vs size")
    by_speed.set(xlabel="inference throughput (graphs/s)", ylabel="test accuracy", title=f"{task}: accuracy vs speed")
    by_size.legend()
    save_figure(figure, path)


def selected_epoch(curve: list[dict[str, Any]], first: int) -> dict[str, Any]:
    """The epoch from ``first`` on with the best validation accuracy (a later tie wins, as in the harness)."""
    return max(reversed(curve[first:]), key=lambda point: point["val_score"])


def compression_rows(results: list[dict[str, Any]], first: int) -> list[list[Any]]:
    """Per training, means over seeds: the selected epoch's scores and size, and late averages."""
    rows = []
    for annealed in (False, True):
        curves = [r["curve"] for r in results if r["annealed"] == annealed]
        chosen = [selected_epoch(curve, first) for curve in curves]
        late = max(1, len(curves[0]) // 10)
        rows.append(
            [
                "annealed rate prior" if annealed else "no rate prior",
                mean_std([point["test_score"] for point in chosen]),
                mean_std([point["total_width"] for point in chosen]),
                round(statistics.fmean(point["num_parameters"] for point in chosen)),
                "; ".join(f"{point['epoch']}: {point['layer_widths']}" for point in chosen),
                mean_std([statistics.fmean(p["val_score"] for p in curve[-late:]) for curve in curves]),
                mean_std([statistics.fmean(p["test_score"] for p in curve[-late:]) for curve in curves]),
            ]
        )
    return rows


def plot_compression(results: list[dict[str, Any]], annealing: Annealing, task: str, path: Path) -> None:
    figure, (widths, scores) = plt.subplots(1, 2, figsize=(10, 4))
    for annealed, label in ((False, "no rate prior"), (True, "annealed rate prior")):
        curves = [r["curve"] for r in results if r["annealed"] == annealed]
        epochs = [p["epoch"] for p in curves[0]]
        for axis, key in ((widths, "total_width"), (scores, "val_score")):
            axis.plot(epochs, [statistics.fmean(c[e][key] for c in curves) for e in range(len(epochs))], label=label)
    for axis in (widths, scores):
        axis.axvspan(annealing.start_epoch, annealing.end_epoch, color="grey", alpha=0.15, label="prior tightening")
    widths.set(xlabel="epoch", ylabel="total width", title=f"{task}: total width (mean over seeds)")
    scores.set(xlabel="epoch", ylabel="validation accuracy", title=f"{task}: validation accuracy")
    widths.legend()
    save_figure(figure, path)


def without_states(trained: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{key: value for key, value in t.items() if key != "state"} for t in trained]


# -- main -----------------------------------------------------------------------------------


def parse_arguments() -> argparse.Namespace:
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument(
        "--tasks",
        nargs="+",
        type=task_name,
        default=["NCI1", "PROTEINS", HARDEST_LADDER],
        help=f"TU datasets and/or ladder levels ({LADDER_PREFIX}<level>) "
        f"(default NCI1 PROTEINS {HARDEST_LADDER}, the hardest level)",
    )
    parser.add_argument("--epochs", type=positive_int, default=100, help="training epochs per run (default 100)")
    parser.add_argument("--seeds", type=positive_int, default=2, help="training seeds per task (default 2)")
    parser.add_argument("--draws", type=positive_int, default=5, help="random removals per kept fraction (default 5)")
    parser.add_argument(
        "--repeats", type=positive_int, default=10, help="timed passes per model, best kept (default 10)"
    )
    parser.add_argument(
        "--compression-task", type=task_name, default="NCI1", help="task of the online-compression study (default NCI1)"
    )
    parser.add_argument(
        "--anneal-mean",
        type=float,
        default=0.05,
        help="rate the prior pulls towards (default 0.05: about 48 neurons a layer)",
    )
    parser.add_argument(
        "--anneal-std",
        type=float,
        nargs=2,
        default=[0.03, 0.006],
        metavar=("INITIAL", "FINAL"),
        help="prior standard deviation at the start and the end of the tightening "
        "(default 0.03 0.006; the reference shrinks it by 90%%)",
    )
    parser.add_argument(
        "--anneal-window",
        type=float,
        nargs=2,
        default=[0.2, 0.6],
        metavar=("START", "END"),
        help="tightening window as fractions of the epochs (default 0.2 0.6)",
    )
    parser.add_argument("--workers", type=positive_int, default=2, help="parallel single-threaded training runs")
    arguments = parser.parse_args()
    arguments.fractions = FRACTIONS
    if arguments.smoke:
        arguments.tasks, arguments.compression_task, arguments.fractions = ["MUTAG"], "MUTAG", (1.0, 0.5)
        arguments.epochs, arguments.seeds, arguments.draws, arguments.repeats = 2, 1, 2, 1
        arguments.workers = 1
    return arguments


def annealing_settings(arguments: argparse.Namespace) -> Annealing:
    start = int(arguments.anneal_window[0] * arguments.epochs)
    end = max(start + 1, int(arguments.anneal_window[1] * arguments.epochs))
    return Annealing(arguments.anneal_mean, start, end, *arguments.anneal_std)


def train_all(arguments: argparse.Namespace, annealing: Annealing) -> tuple[list[dict], list[dict]]:
    """Every training run, in the pool: the online-compression runs, then the runs to truncate."""
    seeds = range(arguments.seeds)
    compression_jobs = [
        CompressionJob(arguments.compression_task, seed, arguments.epochs, arguments.data_root, schedule)
        for seed in seeds
        for schedule in (None, annealing)
    ]
    train_jobs = [
        TrainJob(task, seed, arguments.epochs, arguments.data_root) for task in arguments.tasks for seed in seeds
    ]
    # The longest runs first, so that the pool's workers finish together.
    outcomes = run_jobs(_run_any, [*compression_jobs, *train_jobs], arguments.workers)
    return outcomes[: len(compression_jobs)], outcomes[len(compression_jobs) :]


def _run_any(job: TrainJob | CompressionJob) -> dict[str, Any]:
    return train_job(job) if isinstance(job, TrainJob) else compression_job(job)


def report_truncation(
    task: str, runs: list[dict[str, Any]], arguments: argparse.Namespace, out: Path
) -> list[list[dict[str, Any]]]:
    """Sweep every trained model of ``task``; print the tables, save the plot; return the sweeps."""
    data, fold = task_and_split(task, arguments.data_root)
    sweeps = []
    for run in runs:
        model = AdaptiveGINClassifier(data.num_features, data.num_classes)
        model.load_state_dict(run["state"])
        sweeps.append(
            truncation_sweep(model, data, fold, arguments.fractions, arguments.draws, arguments.repeats, run["seed"])
        )
    print(f"\n#### {task}: {len(fold.train)} training / {len(fold.test)} test graphs\n")
    print(
        markdown_table(
            ["seed", "best epoch", "learned widths", "test accuracy", "parameters"],
            [
                [
                    r["seed"],
                    r["record"]["best_epoch"],
                    r["record"]["layer_widths"],
                    r["record"]["test_score"],
                    r["record"]["num_parameters"],
                ]
                for r in runs
            ],
        )
    )
    pooled = by_fraction(sweeps)
    print(
        "\n"
        + markdown_table(
            [
                "kept",
                "total width",
                "parameters",
                "test acc (tail cut)",
                "test acc (random removal)",
                "tail − random",
                "graphs/s (tail)",
                "graphs/s (random)",
            ],
            truncation_table(pooled),
        )
    )
    print(
        f"\nTail cut within 1 point of the full model's mean accuracy down to {flat_region(pooled):.0%} of the width."
    )
    plot_truncation(task, pooled, out / f"truncation_{task}.png")
    return sweeps


def report_compression(results: list[dict[str, Any]], annealing: Annealing, task: str, out: Path) -> None:
    print(f"\n#### Online compression on {task}: {annealing}\n")
    print(
        f"Each training is scored at its best validation epoch from epoch {annealing.end_epoch} on, the prior "
        "at its final strength (over all epochs the selection would pick uncompressed models); "
        "late: mean over the last 10% of epochs.\n"
    )
    print(
        markdown_table(
            [
                "training",
                "test accuracy",
                "total width",
                "parameters",
                "epoch: layer widths (per seed)",
                "late val accuracy",
                "late test accuracy",
            ],
            compression_rows(results, annealing.end_epoch),
        )
    )
    plot_compression(results, annealing, task, out / "online_compression.png")


def main() -> None:
    arguments = parse_arguments()
    out = setup(arguments)
    annealing = annealing_settings(arguments)
    compression, trained = train_all(arguments, annealing)
    print(
        header(
            f"Truncation of the adaptive GIN ({arguments.epochs} epochs, {arguments.seeds} seed(s), "
            f"{arguments.draws} random draws)"
        )
    )
    sweeps = {
        task: report_truncation(task, [t for t in trained if t["task"] == task], arguments, out)
        for task in arguments.tasks
    }
    report_compression(compression, annealing, arguments.compression_task, out)
    report = {
        "arguments": {key: str(value) for key, value in vars(arguments).items()},
        "trained": without_states(trained),
        "sweeps": sweeps,
        "compression": compression,
    }
    (out / "truncation.json").write_text(json.dumps(report, indent=1, default=str))
    print(f"\nPlots and raw numbers in {out}")


if __name__ == "__main__":
    main()
