"""Every way of choosing a width: fixed grid, AWN and the growing baselines (TINY, S2D, Firefly).

**Under the protocol** (``--datasets`` to run, default MUTAG, PROTEINS and NCI1, issue #10's study; the
tables list every dataset of the reproduction table, pending where not run): the cells of
``benchmarks/reproduction.py`` for the fixed GIN's grid, and on two architectures, the AWN paper's GIN
classifier and FairGIN's, the learned width (``preset: awgnn``) and the growing model of every method
(``configs/growth/<method>/`` and ``configs/growth_fair_gin/<method>/<DATASET>.yaml``), on the reproduction table's
reduced budget (10 outer folds with the official splits, 4 grid points, at most 150 epochs with patience 40,
2 final runs). Records are shared with that script (``benchmarks/reproduction/``): a cell run by either is
not run again. Reported: accuracy ± std over folds, final total width, parameters and the CPU-hours of the
whole cell and of its model selection.

**Against the ladder's difficulty** (``--ladder-seeds`` seeds at every level, 0 to skip): each growing method
from 8 neurons a block, and AWN with ``preset: awgnn``, on the ladder's budget of
``width_convergence.py`` (two blocks, 100 epochs, batch 32; growth at the start of epochs 20, 30, ..., 70, as in
the growth configurations). Reported: final total width and test accuracy per level, and Spearman's rho
between level and final width. Runs are appended to ``growth_ladder.jsonl`` in ``--out`` as they end and a
rerun only trains what is missing.

Example::

    python benchmarks/growth.py --data-root ../shared/data --workers 2 --datasets MUTAG --ladder-seeds 3
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

import reproduction
from common import (
    ResultsFile,
    base_parser,
    header,
    ladder_and_split,
    markdown_table,
    mean_std,
    positive_int,
    run_jobs,
    setup,
    train_model,
)
from scipy.stats import spearmanr
from width_convergence import non_negative_int

from awgnn.harness.ladder import LADDER_LEVELS
from awgnn.harness.presets import PRESETS

# The datasets of issue #10's comparison; the others of the reproduction table can be run too.
DATASETS = ("MUTAG", "PROTEINS", "NCI1")
GROWTH_METHOD_NAMES: Mapping[str, str] = MappingProxyType(
    dict(zip(reproduction.GROWTH_METHODS, ("S2D", "S2D, fast variant", "Firefly", "TINY (GroMo)"), strict=True))
)
# Every way of choosing a width on one architecture: its learned-width model, then each growth method's.
GROWTH_TABLES: Mapping[str, tuple[str, tuple[str, ...]]] = MappingProxyType(
    {
        "the AWN paper's GIN classifier": ("awn_gin", tuple(f"growth_{m}" for m in reproduction.GROWTH_METHODS)),
        "FairGIN's architecture": ("awn_fair_gin", tuple(f"growth_fair_gin_{m}" for m in reproduction.GROWTH_METHODS)),
    }
)
GROWTH_MODELS = tuple(m for _, growing in GROWTH_TABLES.values() for m in growing)
# S2D's and Firefly's selection over all layers against each layer's share (AWN paper's classifier).
SELECTION_COLUMNS: Mapping[str, str] = MappingProxyType(
    {
        "growth_s2d": "S2D, global",
        "growth_s2d_per_layer": "S2D, per layer",
        "growth_firefly": "Firefly, global",
        "growth_firefly_per_layer": "Firefly, per layer",
    }
)
PROTOCOL_MODELS = (
    "gin",
    "awn_gin",
    "awn_fair_gin",
    *GROWTH_MODELS,
    *(f"growth_{ablation}" for ablation in reproduction.SELECTION_ABLATIONS),
)
LADDER_TRAINING = MappingProxyType({"num_layers": 2, "batch_size": 32, "lr": 0.01})
LADDER_EPOCHS = 100
# The schedule of configs/growth, on the ladder's budget.
GROWTH_SCHEDULE = MappingProxyType(
    {
        "start_width": 8,
        "max_width": 256,
        "loss": "cross_entropy",
        "growth_warmup": 20,
        "growth_interval": 10,
        "growth_stop": 80,
    }
)
PAPER_LADDER_METHODS: Mapping[str, tuple[str, Mapping[str, Any]]] = MappingProxyType(
    {
        "awgnn": ("AdaptiveGINClassifier", {**PRESETS["awgnn"], "initial_width": 8}),
        "s2d": ("GrowingGINClassifier", {**GROWTH_SCHEDULE, "growth": "s2d", "growth_fraction": 0.3}),
        "s2d_fast": ("GrowingGINClassifier", {**GROWTH_SCHEDULE, "growth": "s2d_fast", "growth_fraction": 0.3}),
        "firefly": (
            "GrowingGINClassifier",
            {**GROWTH_SCHEDULE, "growth": "firefly", "growth_fraction": 0.35, "growth_offset_ratio": 0.1},
        ),
        "tiny": ("GrowingGINClassifier", {**GROWTH_SCHEDULE, "growth": "tiny", "growth_neurons": 8}),
    }
)
# Ablation: S2D and Firefly on the same budgets, each layer taking its share (TINY's budget is per layer already).
LADDER_METHODS: Mapping[str, tuple[str, Mapping[str, Any]]] = MappingProxyType(
    {
        **PAPER_LADDER_METHODS,
        **{
            f"{method}_per_layer": (
                PAPER_LADDER_METHODS[method][0],
                {**PAPER_LADDER_METHODS[method][1], "growth_selection": "per_layer"},
            )
            for method in ("s2d", "firefly")
        },
    }
)


# --smoke: a step at the start of each of its two epochs, so that growth runs.
SMOKE_SCHEDULE = MappingProxyType({"growth_warmup": 0, "growth_interval": 1, "growth_stop": 2})


@dataclass(frozen=True)
class LadderRun:
    method: str
    level: int
    seed: int
    epochs: int
    num_graphs: int
    smoke: bool = False

    def point(self) -> dict[str, Any]:
        point = {**LADDER_TRAINING, **LADDER_METHODS[self.method][1]}
        if self.smoke and "growth" in point:
            point.update(SMOKE_SCHEDULE)
        return point

    @property
    def key(self) -> str:
        point = json.dumps({k: v for k, v in self.point().items() if v is not None}, sort_keys=True)
        return (
            f"{self.method}/{self.level}/{self.seed}/{self.epochs}/{self.num_graphs}/"
            f"{hashlib.sha256(point.encode()).hexdigest()[:8]}"
        )


def train_ladder(job: tuple[LadderRun, Path]) -> dict[str, Any]:
    run, path = job
    data, fold = ladder_and_split(run.level, run.num_graphs, run.seed)
    _, record = train_model(data, fold, LADDER_METHODS[run.method][0], run.epochs, run.seed, **run.point())
    widths = [sum(epoch["widths"].values()) for epoch in record["history"]]
    result = {
        **asdict(run),
        "key": run.key,
        "status": record["status"],
        "test_accuracy": record["test_score"],
        "final_total_width": widths[-1],
        "total_width_per_epoch": widths,
        "final_widths": record["history"][-1]["widths"],
        "seconds": record["seconds"],
    }
    ResultsFile(path).append(result)
    return result


# -- the protocol tables --------------------------------------------------------------------------


def growth_text(cell: Mapping[str, Any] | None, pending: str) -> str:
    """:func:`reproduction.adaptive_text` with the CPU-hours of model selection beside those of the whole cell."""
    if cell is None:
        return pending
    selection = cell["selection_cpu_seconds"] / 3600
    return f"{reproduction.width_text(cell)}; {reproduction.cpu_hours(cell):.2f} CPU-h (selection {selection:.2f})"


def growth_table(
    cells: Mapping[str, Mapping[str, Mapping[str, Any] | None]],
    progresses: Mapping[str, Mapping[str, reproduction.Progress]],
    datasets: Sequence[str],
    architecture: str,
) -> str:
    """Every way of choosing a width on one of :data:`GROWTH_TABLES`' architectures, beside the fixed grid."""
    learned, growing = GROWTH_TABLES[architecture]
    models = ("gin", learned, *growing)
    rows = []
    for dataset in datasets:
        pending = reproduction.pending_texts(cells, progresses, dataset)
        rows.append((dataset, *(growth_text(cells[m][dataset], pending[m]) for m in models)))
    names = ["fixed grid (FairGIN)", "learned width (AWN), preset awgnn", *GROWTH_METHOD_NAMES.values()]
    return markdown_table(("dataset", *(f"{name} (%)" for name in names)), rows)


def growth_tables(
    cells: Mapping[str, Mapping[str, Mapping[str, Any] | None]],
    progresses: Mapping[str, Mapping[str, reproduction.Progress]],
    datasets: Sequence[str],
) -> str:
    """:func:`growth_table` for every architecture, each under its name."""
    return "\n\n".join(
        f"On {architecture}:\n\n{growth_table(cells, progresses, datasets, architecture)}"
        for architecture in GROWTH_TABLES
    )


def input_block_share(cell: Mapping[str, Any]) -> float:
    """The input block's share of the final total width, over every fold's final runs."""
    return statistics.fmean(
        widths["block0"] / sum(widths.values()) for fold in cell["per_fold"] for widths in fold["layer_widths"]
    )


def selection_table(
    cells: Mapping[str, Mapping[str, Mapping[str, Any] | None]],
    progresses: Mapping[str, Mapping[str, reproduction.Progress]],
    datasets: Sequence[str],
) -> str:
    """S2D and Firefly with their budget selected over all layers or per layer, with the input block's share."""
    rows = []
    for dataset in datasets:
        pending = reproduction.pending_texts(cells, progresses, dataset)
        rows.append((dataset, *(selection_text(cells[m][dataset], pending[m]) for m in SELECTION_COLUMNS)))
    return markdown_table(("dataset", *(f"{name} (%)" for name in SELECTION_COLUMNS.values())), rows)


def selection_text(cell: Mapping[str, Any] | None, pending: str) -> str:
    """:func:`growth_text` with the input block's share of the width."""
    if cell is None:
        return pending
    return f"{growth_text(cell, pending)}; input block {input_block_share(cell):.0%}"


def rho_text(levels: Sequence[int], widths: Sequence[float]) -> str:
    """Spearman's rho of the widths against the levels, or why there is none (one level, or one width at all)."""
    if len(set(levels)) < 2:
        return "-"
    if len(set(widths)) < 2:
        return f"undefined: width {widths[0]:.0f} at every level"
    return f"{spearmanr(levels, widths).statistic:.2f}"


def ladder_table(runs: Sequence[dict[str, Any]], methods: Sequence[str]) -> str:
    rows = []
    for method in methods:
        cell = [r for r in runs if r["method"] == method]
        if not cell:
            continue
        levels, widths = [r["level"] for r in cell], [r["final_total_width"] for r in cell]
        per_level = []
        for level in range(LADDER_LEVELS):
            at = [r for r in cell if r["level"] == level]
            scores = [100 * r["test_accuracy"] for r in at if r["test_accuracy"] is not None]
            per_level.append(
                f"{mean_std([r['final_total_width'] for r in at])} ({mean_std(scores)}%)" if at and scores else "-"
            )
        seconds = statistics.fmean(r["seconds"] for r in cell)
        rows.append((method, *per_level, rho_text(levels, widths), block_widths(cell), len(cell), f"{seconds:.0f}"))
    return markdown_table(
        (
            "method",
            *(f"level {level}: width (accuracy)" for level in range(LADDER_LEVELS)),
            "Spearman's rho",
            "width by block (mean)",
            "runs",
            "seconds a run",
        ),
        rows,
    )


def block_widths(runs: Sequence[dict[str, Any]]) -> str:
    """Mean final width of every block over ``runs``, input block first."""
    return " / ".join(
        f"{statistics.fmean(r['final_widths'][block] for r in runs):.0f}" for block in runs[0]["final_widths"]
    )


def parse_arguments() -> argparse.Namespace:
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument(
        "--datasets",
        nargs="*",
        choices=reproduction.DATASETS,
        default=list(DATASETS),
        help="datasets of the protocol part to run (default: MUTAG PROTEINS NCI1; none to skip)",
    )
    parser.add_argument(
        "--ladder-seeds",
        type=non_negative_int,
        default=3,
        help="seeds per ladder level and method (default 3; 0 skips the ladder part)",
    )
    parser.add_argument(
        "--methods",
        nargs="+",
        choices=list(LADDER_METHODS),
        default=list(LADDER_METHODS),
        help="methods of the ladder part (default: all)",
    )
    parser.add_argument("--num-graphs", type=positive_int, default=1000, help="graphs per ladder level")
    parser.add_argument(
        "--records",
        type=Path,
        default=reproduction.RECORDS,
        help="records of the protocol part (default: benchmarks/reproduction)",
    )
    parser.add_argument("--workers", type=positive_int, default=2, help="runs in parallel (default 2)")
    parser.add_argument("--report-only", action="store_true", help="train nothing; report what is recorded")
    return parser.parse_args()


def main() -> None:
    arguments = parse_arguments()
    out = setup(arguments)
    started = time.perf_counter()
    epochs = 2 if arguments.smoke else LADDER_EPOCHS
    levels = range(2) if arguments.smoke else range(LADDER_LEVELS)
    planned = [
        LadderRun(method, level, seed, epochs, arguments.num_graphs, arguments.smoke)
        for method in arguments.methods
        for level in levels
        for seed in range(arguments.ladder_seeds)
    ]
    results = ResultsFile(out / "growth_ladder.jsonl")
    if not arguments.report_only:
        for dataset in arguments.datasets:
            for model in PROTOCOL_MODELS:
                code = reproduction.run_cell(model, dataset, arguments.records, arguments.data_root, arguments.workers)
                if code != 0:
                    raise SystemExit(
                        f"awgnn bench on {model}/{dataset} stopped (exit code {code}); finished runs "
                        f"are kept in {reproduction.records_folder(arguments.records, model, dataset)}"
                    )
        done = results.load()
        todo = [run for run in planned if run.key not in done]
        run_jobs(train_ladder, [(run, results.path) for run in todo], arguments.workers)
    finished = results.load()
    ladder = [finished[run.key] for run in planned if run.key in finished]

    print(header("Every way of choosing a width, under the protocol"))
    cells = {
        model: {d: reproduction.cell_summary(arguments.records, model, d) for d in reproduction.DATASETS}
        for model in reproduction.MODELS
    }
    print(
        "Budget of every cell: 10 outer folds (official splits; MUTAG: stratified from seed 42), a grid of 4 "
        "points, at most 150 epochs with patience 40, 2 final runs; accuracy is the mean ± population std over "
        "the folds, CPU-hours those of the whole cell (model selection and final runs), with those of model "
        "selection alone in brackets: the runs' process CPU time, each run on one thread (runs recorded before "
        "2026-12-02 measured wall time only, on a core of their own unless the machine was oversubscribed). "
        "Growth (configs/growth*/): every hidden layer starts at 8 neurons (cap 256); a step at the start of "
        "epochs 20, 30, ..., 70, its statistics over the inner-train split; S2D and its fast variant add 0.3 of "
        "the current neurons a step, Firefly 0.35 (split offsets at 0.1 of the parent's fan-in norm, new "
        "neurons' fan-out norm 0.01), TINY up to 8 a layer; Adam's state is carried across every growth step, "
        "as AWN carries it across resizes (new neurons start from Adam's initial state).\n"
    )
    progresses = reproduction.every_progress(arguments.records)
    print(growth_tables(cells, progresses, reproduction.DATASETS))
    print(
        "\nWhere S2D and Firefly put a step's budget, on the AWN paper's GIN classifier: the most negative scores "
        "over all layers (the papers' code) or each layer its share in proportion to its size "
        "(`growth_selection: per_layer`); the input block's share of the final width:\n"
    )
    print(selection_table(cells, progresses, reproduction.DATASETS))
    if ladder:
        print(header("Grown and learned width against the ladder's difficulty"))
        print(
            f"Two blocks, batch 32, lr 0.01, {epochs} epochs, {arguments.num_graphs} graphs a level, one "
            f"80/10/10 split per seed; growth from 8 neurons a block at epochs 20, 30, ..., 70; AWN with "
            f"preset awgnn from 8. Width: final total over the blocks (mean ± std over seeds).\n"
        )
        print(ladder_table(ladder, arguments.methods))
    print(f"\nRaw ladder runs: {results.path.name} (in {out}). Total time: {time.perf_counter() - started:.0f} s.")


if __name__ == "__main__":
    main()
