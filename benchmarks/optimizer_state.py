"""Optimizer state on resize: Adam's moments carried for surviving neurons vs reset, as in the reference.

The AWN reference wipes the whole Adam state of every tensor it resizes, which
happens after almost every step while widths move; awgnn
carries the moments of surviving neurons and starts new neurons at zero
(docs/method.rst). This study trains the adaptive GIN with the harness on each
task, once with ``optimizer_state="carry"`` and once with ``"reset"``, with
the same seeds, split, data order and everything else, for a fixed number of
epochs (no early stop; the model at the best validation epoch is scored), and
reports per policy (mean ± std over seeds):

* test accuracy at the best validation epoch, and the best validation accuracy;
* convergence: the mean validation accuracy over all epochs (the area under
  the validation curve), the epochs needed to first reach 95% of the best
  validation accuracy of that task and seed (either policy: one common
  target), and the training loss (the whole objective, which the weight prior
  dominates early on) and training accuracy after a few epochs, and the
  final training loss;
* the learned total width (at the best epoch) and the number of resize
  events (layer resizes over the whole run).

Runs go to a pool of single-threaded processes.
"""

from __future__ import annotations

import json
import math
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
    task_and_split,
    task_name,
    train_model,
)
from torch import nn

from awgnn.harness.config import training_settings
from awgnn.width import adaptive_widths

MODEL = "AdaptiveGINClassifier"
POLICIES = ("carry", "reset")
TARGET = 0.95


@dataclass(frozen=True)
class PolicyJob:
    task: str
    seed: int
    epochs: int
    optimizer_state: str
    data_root: str | None


def resize_events(model: nn.Module) -> int:
    """How many times an adaptive layer of ``model`` changed width after an optimizer step."""
    return sum(event.reason == "update" for _, width in adaptive_widths(model) for event in width.history)


def policy_job(job: PolicyJob) -> dict[str, Any]:
    """One harness run with the given optimizer-state policy."""
    data, fold = task_and_split(job.task, job.data_root)
    model, record = train_model(data, fold, MODEL, job.epochs, job.seed, optimizer_state=job.optimizer_state)
    batches = math.ceil(len(fold.train) / training_settings({}, adaptive=True)["batch_size"])
    return {
        "task": job.task,
        "seed": job.seed,
        "optimizer_state": job.optimizer_state,
        "record": record,
        "resize_events": resize_events(model),
        "optimizer_steps": batches * len(record["history"]),
    }


def epochs_to_reach(history: list[dict[str, Any]], target: float) -> int | None:
    """The first epoch (counted from 1) whose validation accuracy reaches ``target``, or ``None``."""
    return next((entry["epoch"] + 1 for entry in history if entry["val_score"] >= target), None)


def convergence(runs: list[dict[str, Any]], early_epoch: int) -> None:
    """Add to every run its epochs to the common target of its task and seed, and its early training fit."""
    for run in runs:
        pair = [r for r in runs if r["task"] == run["task"] and r["seed"] == run["seed"]]
        target = TARGET * max(max(e["val_score"] for e in r["record"]["history"]) for r in pair)
        history = run["record"]["history"]
        run["epochs_to_target"] = epochs_to_reach(history, target)
        early = history[min(early_epoch, len(history)) - 1]
        run["early_train_loss"], run["early_train_score"] = early["train_loss"], early["train_score"]


def summary_rows(runs: list[dict[str, Any]], tasks: list[str]) -> list[list[Any]]:
    rows = []
    for task in tasks:
        for policy in POLICIES:
            group = [r for r in runs if r["task"] == task and r["optimizer_state"] == policy]
            reached = [r["epochs_to_target"] for r in group if r["epochs_to_target"] is not None]
            rows.append(
                [
                    task,
                    policy,
                    mean_std([r["record"]["test_score"] for r in group]),
                    mean_std([r["record"]["val_score"] for r in group]),
                    mean_std([statistics.fmean(e["val_score"] for e in r["record"]["history"]) for r in group]),
                    (mean_std(reached) if reached else "never")
                    + ("" if len(reached) == len(group) else f" ({len(reached)}/{len(group)} reached)"),
                    mean_std([r["early_train_loss"] for r in group]),
                    mean_std([r["early_train_score"] for r in group]),
                    mean_std([r["record"]["history"][-1]["train_loss"] for r in group]),
                    mean_std([r["record"]["total_width"] for r in group]),
                    mean_std([r["resize_events"] for r in group]),
                    mean_std([r["resize_events"] / r["optimizer_steps"] for r in group]),
                ]
            )
    return rows


def paired_rows(runs: list[dict[str, Any]], tasks: list[str]) -> list[list[Any]]:
    """Per task, seed by seed: carry minus reset, and how often carry wins."""
    rows = []
    for task in tasks:
        by_seed = {}
        for run in runs:
            if run["task"] == task:
                by_seed.setdefault(run["seed"], {})[run["optimizer_state"]] = run
        test = [p["carry"]["record"]["test_score"] - p["reset"]["record"]["test_score"] for p in by_seed.values()]
        area = [
            statistics.fmean(e["val_score"] for e in p["carry"]["record"]["history"])
            - statistics.fmean(e["val_score"] for e in p["reset"]["record"]["history"])
            for p in by_seed.values()
        ]
        rows.append(
            [
                task,
                f"{statistics.fmean(test):+.3f}",
                f"{sum(d > 0 for d in test)}/{sum(d < 0 for d in test)}",
                f"{statistics.fmean(area):+.3f}",
                f"{sum(d > 0 for d in area)}/{sum(d < 0 for d in area)}",
            ]
        )
    return rows


def plot_curves(runs: list[dict[str, Any]], tasks: list[str], path: Path) -> None:
    figure, axes = plt.subplots(3, len(tasks), figsize=(4 * len(tasks), 10), squeeze=False)
    for column, task in enumerate(tasks):
        for policy in POLICIES:
            histories = [r["record"]["history"] for r in runs if r["task"] == task and r["optimizer_state"] == policy]
            epochs = range(1, len(histories[0]) + 1)
            for row, key in enumerate(("val_score", "train_score", "train_loss")):
                mean = [statistics.fmean(h[e][key] for h in histories) for e in range(len(histories[0]))]
                axes[row][column].plot(epochs, mean, label=policy)
        axes[0][column].set(title=task, xlabel="epoch", ylabel="validation accuracy (mean over seeds)")
        axes[1][column].set(xlabel="epoch", ylabel="training accuracy (mean over seeds)")
        axes[2][column].set(xlabel="epoch", ylabel="training objective (mean over seeds)", yscale="log")
        axes[0][column].legend(title="optimizer state")
    save_figure(figure, path)


def main() -> None:
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument(
        "--tasks",
        nargs="+",
        type=task_name,
        default=["NCI1", f"{LADDER_PREFIX}0", f"{LADDER_PREFIX}2", f"{LADDER_PREFIX}4"],
        help=f"TU datasets and/or ladder levels ({LADDER_PREFIX}<level>)",
    )
    parser.add_argument("--epochs", type=positive_int, default=60, help="training epochs per run (default 60)")
    parser.add_argument("--seeds", type=positive_int, default=3, help="seeds per task and policy (default 3)")
    parser.add_argument(
        "--early-epoch", type=positive_int, default=10, help="epoch of the early training loss (default 10)"
    )
    parser.add_argument("--workers", type=positive_int, default=2, help="parallel single-threaded training runs")
    arguments = parser.parse_args()
    if arguments.smoke:
        arguments.tasks, arguments.epochs, arguments.seeds, arguments.workers = ["MUTAG"], 2, 1, 1
        arguments.early_epoch = 1
    out = setup(arguments)
    jobs = [
        PolicyJob(task, seed, arguments.epochs, policy, arguments.data_root)
        for task in arguments.tasks
        for seed in range(arguments.seeds)
        for policy in POLICIES
    ]
    runs = run_jobs(policy_job, jobs, arguments.workers)
    convergence(runs, arguments.early_epoch)

    print(header(f"Optimizer state carried vs reset on resize ({arguments.epochs} epochs, {arguments.seeds} seed(s))"))
    print(
        markdown_table(
            [
                "task",
                "optimizer state",
                "test accuracy",
                "best val accuracy",
                "mean val accuracy (all epochs)",
                f"epochs to {TARGET:.0%} of best val",
                f"train loss @ epoch {arguments.early_epoch}",
                f"train accuracy @ epoch {arguments.early_epoch}",
                "final train loss",
                "total width",
                "resize events",
                "layer resizes per step",
            ],
            summary_rows(runs, arguments.tasks),
        )
    )
    print("\nSeed by seed, carry minus reset (wins as carry/reset; ties not counted):\n")
    print(
        markdown_table(
            ["task", "Δ test accuracy", "test wins", "Δ mean val accuracy", "val wins"],
            paired_rows(runs, arguments.tasks),
        )
    )
    plot_curves(runs, arguments.tasks, out / "optimizer_state.png")
    (out / "optimizer_state.json").write_text(
        json.dumps({"arguments": {k: str(v) for k, v in vars(arguments).items()}, "runs": runs}, indent=1, default=str)
    )
    print(f"\nPlots and raw numbers in {out}")


if __name__ == "__main__":
    main()
