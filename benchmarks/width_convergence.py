"""Does the learned width settle where the task needs it, whatever the start?

The adaptive GIN (:class:`~awgnn.models.AdaptiveGINClassifier`) is trained
from several starting widths (``--starts``, neurons per block) under each
*setting* of how widths learn (:data:`SETTINGS`): the AWN paper's, each
lever of issue #9 alone, and awgnn's recommended preset (the ``awgnn`` preset
of :mod:`awgnn.harness.presets`, which combines them). Tasks: ladder levels
(:mod:`awgnn.harness.ladder`) and TU datasets, each on one stratified
80/10/10 split per seed, on the reduced budgets of :data:`BUDGETS` (every run
trains for all its epochs; the scores are those of the best-validation
epoch, as the harness keeps it). Widths are reported at the *last* epoch,
the width the training converged to, and per epoch in the figures.

Reported:

* **Convergence** per task and setting: final total width from each start
  (mean over seeds), the spread between the narrowest and the widest start
  (ratio of their final widths; the target is at most 1.25) and test accuracy.
* **Width against difficulty** (``--ladder-seeds`` seeds at every ladder
  level, for the ``paper`` and ``awgnn`` settings from their own starts):
  Spearman's rho between level and final total width (target >= 0.8).
* **Ranking of real datasets**: Kendall's tau between the orderings of the
  real datasets by final width, over every pair of (seed, start) runs.

Finished runs are appended to ``width_convergence.jsonl`` in ``--out`` as
they end; a rerun with the same ``--out`` trains only what is missing. The
tables are printed in Markdown; the figures are
``width_convergence_<setting>.png`` (trajectories) and
``width_convergence_ladder.png``.

Example (the committed figures, about 40 minutes on 2 CPU cores)::

    python benchmarks/width_convergence.py --data-root ../shared/data --workers 2
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import statistics
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from common import (
    LADDER_PREFIX,
    ResultsFile,
    base_parser,
    dataset_and_split,
    header,
    ladder_and_split,
    markdown_table,
    mean_std,
    plt,
    positive_int,
    resume,
    save_figure,
    setup,
    train_model,
)
from scipy.stats import kendalltau, spearmanr

from awgnn.harness.data import resolve_data_root
from awgnn.harness.ladder import LADDER_LEVELS
from awgnn.harness.presets import PRESETS

MODEL = "AdaptiveGINClassifier"
STARTS = (8, 32, 117, 320)


def _without_start(preset: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in preset.items() if key not in ("lambda0", "initial_width")}


PAPER = _without_start(PRESETS["paper"])
AWGNN = _without_start(PRESETS["awgnn"])
# Each lever alone on top of the paper's setting, then all of them (the recommended preset).
SETTINGS: Mapping[str, Mapping[str, Any]] = MappingProxyType(
    {
        "paper": PAPER,
        "rate_lr": {**PAPER, "rate_lr": AWGNN["rate_lr"]},
        "weight_prior": {**PAPER, "weight_prior_std": 1.0},
        "width_prior": {
            **PAPER,
            "width_prior_centre": AWGNN["width_prior_centre"],
            "width_prior_std": AWGNN["width_prior_std"],
        },
        "awgnn": AWGNN,
    }
)
# Settings run from every start; the others from the narrowest and the widest only.
ALL_STARTS_SETTINGS = ("paper", "awgnn")
# The settings of the ladder's width-against-difficulty runs, each from its preset's own start.
LADDER_SETTINGS: Mapping[str, Mapping[str, Any]] = MappingProxyType(
    {"paper": PRESETS["paper"], "awgnn": PRESETS["awgnn"]}
)


@dataclass(frozen=True)
class Budget:
    epochs: int
    num_layers: int


# The ladder's budget (two blocks, batch 32; see width_vs_difficulty.py) with more epochs for the widths to
# settle; real data: three blocks (the paper's middle depth), epochs sized for 2 CPU cores.
BUDGETS: Mapping[str, Budget] = MappingProxyType(
    {
        "ladder-0": Budget(100, 2),
        "ladder-2": Budget(100, 2),
        "ladder-4": Budget(100, 2),
        "MUTAG": Budget(100, 3),
        "PROTEINS": Budget(60, 3),
        "NCI1": Budget(30, 3),
        "IMDB-BINARY": Budget(60, 3),
    }
)
SMOKE_BUDGETS: Mapping[str, Budget] = MappingProxyType({"ladder-0": Budget(2, 2), "MUTAG": Budget(2, 3)})
TRAINING = MappingProxyType({"batch_size": 32, "lr": 0.01})


@dataclass(frozen=True)
class Run:
    """One training run; picklable, for the worker pool, and its own key in the results file."""

    study: str  # "convergence" or "ladder"
    task: str
    setting: str
    start: int | None  # neurons per block; None: the preset's own start
    seed: int
    epochs: int
    num_layers: int
    num_graphs: int
    data_root: str

    @property
    def key(self) -> str:
        """Names the run and everything it trains with, so a changed setting is trained again."""
        point = json.dumps({k: v for k, v in self.point().items() if v is not None}, sort_keys=True)
        return (
            f"{self.study}/{self.task}/{self.setting}/{self.start}/{self.seed}/{self.epochs}/"
            f"{self.num_graphs}/{hashlib.sha256(point.encode()).hexdigest()[:8]}"
        )

    def point(self) -> dict[str, Any]:
        settings = LADDER_SETTINGS if self.study == "ladder" else SETTINGS
        start = {} if self.start is None else {"initial_width": self.start}
        return {**TRAINING, "num_layers": self.num_layers, **settings[self.setting], **start}


def train(run: Run) -> dict[str, Any]:
    if run.task.startswith(LADDER_PREFIX):
        data, fold = ladder_and_split(int(run.task[len(LADDER_PREFIX) :]), run.num_graphs, run.seed)
    else:
        data, fold = dataset_and_split(run.task, run.data_root, run.seed)
    _, record = train_model(data, fold, MODEL, run.epochs, run.seed, **run.point())
    per_epoch = [epoch["widths"] for epoch in record["history"]]
    return {
        **asdict(run),
        "key": run.key,
        "status": record["status"],
        "test_accuracy": record["test_score"],
        "best_epoch": record["best_epoch"],
        "final_widths": per_epoch[-1] if per_epoch else None,
        "final_total_width": sum(per_epoch[-1].values()) if per_epoch else None,
        "total_width_per_epoch": [sum(widths.values()) for widths in per_epoch],
        "seconds": record["seconds"],
    }


# -- plan -----------------------------------------------------------------------------------------


def budgets(arguments: argparse.Namespace) -> dict[str, Budget]:
    """The budget of every task the arguments select, epochs scaled by ``--epochs-scale``."""
    chosen = SMOKE_BUDGETS if arguments.smoke else {t: BUDGETS[t] for t in arguments.tasks}
    return {task: Budget(max(1, round(b.epochs * arguments.epochs_scale)), b.num_layers) for task, b in chosen.items()}


def planned_runs(arguments: argparse.Namespace, data_root: str) -> list[Run]:
    extreme = (min(arguments.starts), max(arguments.starts))
    runs = []
    for task, budget in budgets(arguments).items():
        for setting in arguments.settings:
            starts = arguments.starts if setting in ALL_STARTS_SETTINGS else extreme
            runs += [
                Run(
                    "convergence",
                    task,
                    setting,
                    start,
                    seed,
                    budget.epochs,
                    budget.num_layers,
                    arguments.num_graphs,
                    data_root,
                )
                for start in starts
                for seed in range(arguments.seeds)
            ]
    ladder = Budget(
        max(1, round((SMOKE_BUDGETS if arguments.smoke else BUDGETS)["ladder-0"].epochs * arguments.epochs_scale)),
        BUDGETS["ladder-0"].num_layers,
    )
    levels = range(2) if arguments.smoke else range(LADDER_LEVELS)
    runs += [
        Run(
            "ladder",
            f"{LADDER_PREFIX}{level}",
            setting,
            None,
            seed,
            ladder.epochs,
            ladder.num_layers,
            arguments.num_graphs,
            data_root,
        )
        for setting in LADDER_SETTINGS
        if setting in arguments.settings
        for level in levels
        for seed in range(arguments.ladder_seeds)
    ]
    # Longest first, so that the workers finish together.
    return sorted(runs, key=lambda r: -_expected_cost(r))


def _expected_cost(run: Run) -> float:
    graphs = {"NCI1": 4110, "PROTEINS": 1113, "IMDB-BINARY": 1000, "MUTAG": 188}.get(run.task, run.num_graphs)
    return graphs * run.epochs * (run.start or 16) ** 0.3


# -- reporting ------------------------------------------------------------------------------------


def group(runs: Sequence[dict[str, Any]], *fields: str) -> dict[tuple, list[dict[str, Any]]]:
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for run in runs:
        groups.setdefault(tuple(run[f] for f in fields), []).append(run)
    return groups


def spread(by_start: Mapping[int, list[dict[str, Any]]]) -> float | None:
    """Final total width from the widest start over that from the narrowest (means over seeds)."""
    if len(by_start) < 2:
        return None
    low, high = min(by_start), max(by_start)
    narrow = statistics.fmean(r["final_total_width"] for r in by_start[low])
    wide = statistics.fmean(r["final_total_width"] for r in by_start[high])
    return max(narrow, wide) / min(narrow, wide)


def accuracy(runs: Sequence[dict[str, Any]]) -> str:
    scores = [100 * r["test_accuracy"] for r in runs if r["test_accuracy"] is not None]
    return mean_std(scores) if scores else "-"


def convergence_table(runs: Sequence[dict[str, Any]], tasks: Sequence[str], starts: Sequence[int]) -> str:
    rows = []
    for task in tasks:
        for setting in SETTINGS:
            cell = [r for r in runs if r["task"] == task and r["setting"] == setting]
            if not cell:
                continue
            by_start = group(cell, "start")
            widths = [
                mean_std([r["final_total_width"] for r in by_start[(s,)]]) if (s,) in by_start else "-" for s in starts
            ]
            ratio = spread({s: by_start[(s,)] for s in starts if (s,) in by_start})
            met = "-" if ratio is None else f"{ratio:.2f} ({'met' if ratio <= 1.25 else 'not met'})"
            rows.append((task, setting, *widths, met, accuracy(cell), f"{cell[0]['epochs']}"))
    return markdown_table(
        (
            "task",
            "setting",
            *(f"final width from {s}" for s in starts),
            "spread (widest/narrowest start)",
            "test accuracy (%)",
            "epochs",
        ),
        rows,
    )


def spread_summary(runs: Sequence[dict[str, Any]], tasks: Sequence[str]) -> str:
    lines = []
    for setting in sorted({r["setting"] for r in runs}, key=list(SETTINGS).index):
        met = []
        for task in tasks:
            cell = [r for r in runs if r["task"] == task and r["setting"] == setting]
            ratio = spread({start: group_ for (start,), group_ in group(cell, "start").items()})
            if ratio is not None and ratio <= 1.25:
                met.append(task)
        real = [t for t in met if not t.startswith(LADDER_PREFIX)]
        ladder = [t for t in met if t.startswith(LADDER_PREFIX)]
        lines.append(
            f"{setting}: spread target met on {len(real)} real dataset(s) "
            f"({', '.join(real) or 'none'}) and {len(ladder)} ladder level(s) ({', '.join(ladder) or 'none'})"
        )
    return "  \n".join(lines)


def ladder_table(runs: Sequence[dict[str, Any]]) -> str:
    rows = []
    for setting in LADDER_SETTINGS:
        cell = [r for r in runs if r["setting"] == setting]
        if not cell:
            continue
        levels = [int(r["task"][len(LADDER_PREFIX) :]) for r in cell]
        widths = [r["final_total_width"] for r in cell]
        rho = spearmanr(levels, widths).statistic if len(set(levels)) > 1 and len(set(widths)) > 1 else None
        per_level = group(cell, "task")
        rows.append(
            (
                setting,
                *(
                    f"{mean_std([r['final_total_width'] for r in per_level[(f'{LADDER_PREFIX}{level}',)]])} "
                    f"({accuracy(per_level[(f'{LADDER_PREFIX}{level}',)])}%)"
                    if (f"{LADDER_PREFIX}{level}",) in per_level
                    else "-"
                    for level in range(LADDER_LEVELS)
                ),
                "-" if rho is None else f"{rho:.2f} ({'met' if rho >= 0.8 else 'not met'})",
                len(cell),
            )
        )
    return markdown_table(
        (
            "setting",
            *(f"level {level}: width (accuracy)" for level in range(LADDER_LEVELS)),
            "Spearman's rho (target >= 0.8)",
            "runs",
        ),
        rows,
    )


def kendall_text(runs: Sequence[dict[str, Any]], tasks: Sequence[str]) -> str:
    """Kendall's tau between the real datasets' orderings by final width, over pairs of (seed, start) runs."""
    real = [t for t in tasks if not t.startswith(LADDER_PREFIX)]
    lines = []
    for setting in sorted({r["setting"] for r in runs}, key=list(SETTINGS).index):
        cell = [r for r in runs if r["setting"] == setting and r["task"] in real]
        orderings = []
        for _, group_ in group(cell, "seed", "start").items():
            by_task = {r["task"]: r["final_total_width"] for r in group_}
            if set(by_task) == set(real):
                orderings.append([by_task[t] for t in real])
        if len(real) < 2 or len(orderings) < 2:
            continue
        taus = [kendalltau(a, b).statistic for a, b in itertools.combinations(orderings, 2)]
        taus = [t for t in taus if t == t]
        mean_widths = {t: statistics.fmean(r["final_total_width"] for r in cell if r["task"] == t) for t in real}
        order = " < ".join(sorted(real, key=mean_widths.get))
        lines.append(
            f"{setting}: Kendall's tau over {len(taus)} pairs of (seed, start) runs: "
            f"{statistics.fmean(taus):.2f} (min {min(taus):.2f}); mean order: {order}"
        )
    return "  \n".join(lines)


def plot_trajectories(runs: Sequence[dict[str, Any]], tasks: Sequence[str], setting: str, out: Path) -> Path:
    columns = min(4, len(tasks))
    rows = -(-len(tasks) // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(3.2 * columns, 2.6 * rows), squeeze=False)
    for axis, task in zip(axes.flat, tasks):
        cell = [r for r in runs if r["task"] == task and r["setting"] == setting]
        for index, ((start,), group_) in enumerate(sorted(group(cell, "start").items())):
            for number, run in enumerate(group_):
                axis.plot(
                    run["total_width_per_epoch"],
                    color=f"C{index}",
                    alpha=0.8,
                    label=f"start {start}" if number == 0 else None,
                )
        axis.set(title=task, xlabel="epoch", ylabel="total width", yscale="log")
    for axis in list(axes.flat)[len(tasks) :]:
        axis.axis("off")
    axes.flat[0].legend(fontsize="x-small")
    figure.suptitle(f"Total width during training, setting '{setting}'")
    figure.tight_layout()
    return save_figure(figure, out / f"width_convergence_{setting}.png")


def plot_ladder(runs: Sequence[dict[str, Any]], out: Path) -> Path:
    figure, axes = plt.subplots(figsize=(5, 3.5))
    for index, setting in enumerate(LADDER_SETTINGS):
        cell = [r for r in runs if r["setting"] == setting]
        if not cell:
            continue
        levels = sorted({int(r["task"][len(LADDER_PREFIX) :]) for r in cell})
        values = [[r["final_total_width"] for r in cell if r["task"] == f"{LADDER_PREFIX}{level}"] for level in levels]
        axes.errorbar(
            levels,
            [statistics.fmean(v) for v in values],
            yerr=[statistics.pstdev(v) for v in values],
            marker="o",
            capsize=3,
            color=f"C{index}",
            label=setting,
        )
        axes.scatter(
            [int(r["task"][len(LADDER_PREFIX) :]) for r in cell],
            [r["final_total_width"] for r in cell],
            color=f"C{index}",
            alpha=0.3,
            s=10,
        )
    axes.set(
        xlabel="ladder level (harder to the right)",
        ylabel="final total width",
        yscale="log",
        xticks=range(LADDER_LEVELS),
        title="Learned width against difficulty",
    )
    axes.legend(fontsize="small")
    return save_figure(figure, out / "width_convergence_ladder.png")


# -- command line ---------------------------------------------------------------------------------


def non_negative_int(text: str) -> int:
    """Argument type: an integer >= 0."""
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text}")
    return value


def positive_float(text: str) -> float:
    """Argument type: a number > 0."""
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text}")
    return value


def parse_arguments() -> argparse.Namespace:
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument(
        "--starts",
        type=positive_int,
        nargs="+",
        default=list(STARTS),
        help=f"starting widths, neurons per block (default {' '.join(map(str, STARTS))})",
    )
    parser.add_argument("--seeds", type=positive_int, default=2, help="seeds per convergence cell (default 2)")
    parser.add_argument(
        "--ladder-seeds",
        type=non_negative_int,
        default=10,
        help="seeds per ladder level for Spearman's rho (default 10; 0 skips that part)",
    )
    parser.add_argument(
        "--tasks",
        nargs="+",
        choices=list(BUDGETS),
        default=list(BUDGETS),
        help="tasks of the convergence part (default: all)",
    )
    parser.add_argument(
        "--settings", nargs="+", choices=list(SETTINGS), default=list(SETTINGS), help="settings to run (default: all)"
    )
    parser.add_argument(
        "--epochs-scale",
        type=positive_float,
        default=1.0,
        help="multiply every budget's epochs (the training-length lever; default 1)",
    )
    parser.add_argument("--num-graphs", type=positive_int, default=1000, help="graphs per ladder level")
    parser.add_argument("--workers", type=positive_int, default=1, help="worker processes (default 1)")
    arguments = parser.parse_args()
    if len(set(arguments.starts)) < 2:
        parser.error("--starts needs at least two different widths")
    return arguments


def main() -> None:
    arguments = parse_arguments()
    out = setup(arguments)
    started = time.perf_counter()
    data_root = str(resolve_data_root(arguments.data_root))
    results = ResultsFile(out / "width_convergence.jsonl")
    runs = resume(planned_runs(arguments, data_root), results, train, arguments.workers)
    convergence = [r for r in runs if r["study"] == "convergence"]
    ladder = [r for r in runs if r["study"] == "ladder"]
    tasks = list(budgets(arguments))
    starts = sorted(arguments.starts)
    plots = [
        plot_trajectories(convergence, tasks, setting, out)
        for setting in ALL_STARTS_SETTINGS
        if setting in arguments.settings
    ]
    if ladder:
        plots.append(plot_ladder(ladder, out))

    print(header("Width convergence: the same width from any start?"))
    print(
        f"{MODEL}, batch 32, lr 0.01; ladder: 2 blocks, {arguments.num_graphs} graphs a level; real data: "
        f"3 blocks; one stratified 80/10/10 split per seed, {arguments.seeds} seed(s) per cell; starts "
        f"{', '.join(map(str, starts))} neurons a block (the settings other than "
        f"{' and '.join(ALL_STARTS_SETTINGS)} from {starts[0]} and {starts[-1]} only). Settings:\n"
    )
    for name, values in ((n, SETTINGS[n]) for n in arguments.settings):
        shown = ", ".join(f"{k}={v}" for k, v in values.items() if v is not None)
        print(f"- `{name}`: {shown}")
    print()
    print(convergence_table(convergence, tasks, starts))
    print(
        "\nWidths are totals over the blocks at the last epoch (mean ± population std over seeds); "
        "accuracy at the best-validation epoch, over all starts and seeds.\n"
    )
    print(spread_summary(convergence, tasks))
    print(f"\n{kendall_text(convergence, tasks)}\n")
    if ladder:
        print(header("Width against the ladder's difficulty"))
        print(
            f"Each setting from its preset's start, {arguments.ladder_seeds} seed(s) a level, "
            f"{ladder[0]['epochs']} epochs:\n"
        )
        print(ladder_table(ladder))
    print(
        f"\nPlots: {', '.join(p.name for p in plots)}; raw runs: {results.path.name} (in {out}).  \n"
        f"Total time: {time.perf_counter() - started:.0f} s with {arguments.workers} worker process(es)."
    )


if __name__ == "__main__":
    main()
