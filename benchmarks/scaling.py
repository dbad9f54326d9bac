"""How the cost of adaptive width grows with the work: width, batch size, graph size, and harness workers.

Two measurements, printed as Markdown tables (raw numbers in ``--out/scaling.json``):

1. **Adaptive against fixed training steps as the work grows.** The full
   adaptive step (ELBO, width updates through ``awgnn.auto_update_widths``)
   against the same model frozen by ``awgnn.freeze`` into upstream PyG layers
   (cross-entropy), interleaved batch by batch with ``benchmarks/speed.py``'s
   contenders, for the adaptive GIN and GCN

   a. as the width grows (every block starts at 16 ... 1,024 neurons; NCI1, batch 32),
   b. as the batch grows (16 ... 512 graphs of NCI1; default width, 117 a block),
   c. on the large graphs of REDDIT-BINARY (about 430 nodes a graph; batch 32).

   Each row gives the step times, their ratio (per round, mean ± std), and the
   aten operators dispatched per step and their ratio (exact, and unlike the
   times independent of the machine and its load).
2. **The harness's wall time with 1, 2 and 4 workers** on one small
   experiment (``configs/quick.yaml`` with fewer epochs), from scratch each time.

Example (about 10 minutes on one CPU core)::

    python benchmarks/scaling.py --data-root ../shared/data

``--smoke`` runs a tiny budget (MUTAG instead of NCI1 and REDDIT-BINARY) to
check the script in seconds.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
import yaml
from common import base_parser, header, markdown_table, mean_std, positive_int, run_experiment, setup
from speed import (
    COUNTED_STEPS,
    FIXED,
    FULL,
    MODEL_CLASSES,
    Contender,
    Workload,
    contender,
    interleaved,
    operator_ratio,
    operators_per_step,
    ratios,
)

import awgnn
from awgnn.harness.data import resolve_data_root
from awgnn.harness.train import resolve_device
from awgnn.width import AdaptiveWidth

QUICK_CONFIG = Path(__file__).resolve().parents[1] / "configs" / "quick.yaml"
DEFAULT_BATCH = 32


def initial_rate(width: int) -> float:
    """The ``lambda0`` at which every adaptive layer starts with ``width`` neurons."""
    return AdaptiveWidth(initial_width=width).lambda0


def step_cost(
    workload: Workload, kind: str, batch_size: int, steps: int, rounds: int, seed: int, **model_arguments: Any
) -> dict[str, Any]:
    """Training rounds of ``steps`` batches, adaptive against its frozen form, and their operator counts.

    The fixed model is refrozen from the adaptive one at the start of every
    round, so both have the same widths while widths move.
    """
    batches = workload.batches(batch_size, seed)[:steps]
    adaptive = contender(
        FULL, workload.adaptive_model(kind, seed, **model_arguments), len(workload.train), update_widths=True
    )
    start_width = awgnn.total_width(adaptive.model)
    adaptive.train_step(batches[0])  # untimed: creates Adam's state
    seconds = []
    for _ in range(rounds):
        fixed = contender(FIXED, awgnn.freeze(adaptive.model))
        fixed.train_step(batches[0])
        phases = interleaved([adaptive, fixed], batches, Contender.train_step)
        seconds.append({c.name: sum(sum(step.values()) for step in p) for c, p in zip((adaptive, fixed), phases)})
    operators = {c.name: operators_per_step(c, batches[:COUNTED_STEPS]) for c in (adaptive, fixed)}
    return {
        "model": kind,
        "batch_size": batch_size,
        "steps": len(batches),
        "nodes_per_batch": statistics.fmean(b.num_nodes for b in batches),
        "total_width": [start_width, awgnn.total_width(adaptive.model)],
        "seconds": seconds,
        "operators_per_step": operators,
        **model_arguments,
    }


def sweeps(arguments: argparse.Namespace, device: torch.device) -> dict[str, list[dict[str, Any]]]:
    """The three sweeps of part 1, each a list of rows for GIN and GCN."""
    base = Workload.load(arguments.dataset, arguments.data_root, device, arguments.seed)
    large = Workload.load(arguments.large_dataset, arguments.data_root, device, arguments.seed)

    def cost(workload: Workload, kind: str, batch_size: int, **model_arguments: Any) -> dict[str, Any]:
        return step_cost(
            workload, kind, batch_size, arguments.steps, arguments.rounds, arguments.seed, **model_arguments
        )

    return {
        "width": [
            {**cost(base, kind, DEFAULT_BATCH, lambda0=initial_rate(width)), "initial_width": width}
            for kind in MODEL_CLASSES
            for width in arguments.widths
        ],
        "batch": [cost(base, kind, batch_size) for kind in MODEL_CLASSES for batch_size in arguments.batch_sizes],
        "large graphs": [cost(large, kind, DEFAULT_BATCH) for kind in MODEL_CLASSES],
    }


def step_row(r: Mapping[str, Any], first_column: Any) -> list[Any]:
    adaptive, fixed = ([s[name] for s in r["seconds"]] for name in (FULL, FIXED))
    per_step = 1e3 / r["steps"]
    operators = {name: sum(counts.values()) for name, counts in r["operators_per_step"].items()}
    return [
        r["model"],
        first_column,
        f"{r['nodes_per_batch']:.0f}",
        f"{r['total_width'][0]} → {r['total_width'][1]}",
        f"{per_step * statistics.fmean(adaptive):.3g}",
        f"{per_step * statistics.fmean(fixed):.3g}",
        mean_std(ratios(adaptive, fixed)),
        round(operators[FULL]),
        round(operators[FIXED]),
        f"{operator_ratio(r['operators_per_step']):.2f}",
    ]


def trend(rows: Sequence[Mapping[str, Any]]) -> str:
    """How each model's time ratio moves from the smallest to the largest work of a sweep."""
    parts = []
    for kind in MODEL_CLASSES:
        mine = [r for r in rows if r["model"] == kind]
        first, last = (
            statistics.fmean(ratios(*([s[n] for s in r["seconds"]] for n in (FULL, FIXED))))
            for r in (mine[0], mine[-1])
        )
        verdict = "falls" if last < first - 0.02 else "rises" if last > first + 0.02 else "stays flat"
        parts.append(f"{kind} {first:.2f} → {last:.2f} ({verdict})")
    return (
        "Time ratio from the smallest to the largest work (a change within ±0.02 counts as flat): "
        + "; ".join(parts)
        + "."
    )


STEP_COLUMNS = [
    "nodes / batch",
    "total width (start → end)",
    "adaptive ms / step",
    "fixed ms / step",
    "time ratio",
    "adaptive aten ops / step",
    "fixed aten ops / step",
    "operator ratio",
]


def step_tables(results: Mapping[str, Sequence[Mapping[str, Any]]], arguments: argparse.Namespace) -> str:
    width, batch, large = results["width"], results["batch"], results["large graphs"]
    return "\n\n".join(
        [
            f"**(a) As the width grows** ({arguments.dataset}, batch {DEFAULT_BATCH}; every adaptive layer starts "
            f"at the given width and moves while it trains):\n\n"
            + markdown_table(
                ["model", "initial width / block", *STEP_COLUMNS], [step_row(r, r["initial_width"]) for r in width]
            )
            + "\n\n"
            + trend(width),
            f"**(b) As the batch grows** ({arguments.dataset}, default width):\n\n"
            + markdown_table(["model", "batch", *STEP_COLUMNS], [step_row(r, r["batch_size"]) for r in batch])
            + "\n\n"
            + trend(batch),
            f"**(c) Large graphs** ({arguments.large_dataset}, batch {DEFAULT_BATCH}, default width):\n\n"
            + markdown_table(["model", "batch", *STEP_COLUMNS], [step_row(r, r["batch_size"]) for r in large]),
        ]
    )


def harness_workers(arguments: argparse.Namespace, data_root: Path) -> list[dict[str, Any]]:
    """Wall time of one small experiment run from scratch with each number of workers."""
    content = yaml.safe_load(QUICK_CONFIG.read_text())
    content["protocol"].update(
        max_epochs=arguments.harness_epochs, patience=arguments.harness_epochs, device=arguments.device
    )
    if arguments.smoke:
        content["splits"]["outer_folds"], content["protocol"]["final_runs"] = 2, 1
    rows = []
    for workers in arguments.workers:
        folder = Path(tempfile.mkdtemp(prefix="awgnn_scaling_"))
        try:
            experiment, wall = run_experiment(
                content, f"{QUICK_CONFIG.name} ({arguments.harness_epochs} epochs)", data_root, folder, workers
            )
            records = [experiment.store.read(key) for key in experiment.results.stored_keys()]
        finally:
            shutil.rmtree(folder)
        rows.append(
            {
                "workers": workers,
                "wall_seconds": wall,
                "runs": len(records),
                "run_seconds": sum(r["seconds"] for r in records),
            }
        )
    return rows


def harness_table(rows: Sequence[Mapping[str, Any]], arguments: argparse.Namespace) -> str:
    one = rows[0]["wall_seconds"]
    table = [
        [
            r["workers"],
            r["runs"],
            f"{r['wall_seconds']:.1f}",
            f"{one / r['wall_seconds']:.2f}x",
            f"{r['run_seconds']:.1f}",
        ]
        for r in rows
    ]
    return (
        f"**Harness wall time by workers** (`{QUICK_CONFIG.relative_to(QUICK_CONFIG.parents[1])}` with "
        f"{arguments.harness_epochs} epochs and no early stop, device {arguments.device}, from scratch each "
        f"time; speed-up over the first row; run seconds = the runs' own times summed):\n\n"
        + markdown_table(["workers", "runs", "wall s", "speed-up", "run seconds"], table)
    )


def parse_arguments(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    parser.add_argument("--dataset", default="NCI1", help="TU dataset of sweeps (a) and (b) (default NCI1)")
    parser.add_argument(
        "--large-dataset", default="REDDIT-BINARY", help="TU dataset with large graphs for (c) (default REDDIT-BINARY)"
    )
    parser.add_argument(
        "--widths",
        type=positive_int,
        nargs="+",
        default=[16, 64, 256, 1024],
        help="initial widths per block of sweep (a)",
    )
    parser.add_argument(
        "--batch-sizes", type=positive_int, nargs="+", default=[16, 32, 128, 512], help="batch sizes of sweep (b)"
    )
    parser.add_argument("--steps", type=positive_int, default=20, help="timed steps per round (default 20)")
    parser.add_argument("--rounds", type=positive_int, default=3, help="interleaved rounds per row (default 3)")
    parser.add_argument(
        "--workers", type=positive_int, nargs="+", help="worker counts of part 2 (default 1 2 4; 1 with --smoke)"
    )
    parser.add_argument(
        "--harness-epochs", type=positive_int, default=30, help="epochs per run of part 2's experiment (default 30)"
    )
    parser.add_argument("--skip-harness", action="store_true", help="skip part 2")
    parser.add_argument("--seed", type=int, default=0)
    arguments = parser.parse_args(argv)
    if arguments.smoke:
        arguments.dataset = arguments.large_dataset = "MUTAG"
        arguments.widths, arguments.batch_sizes = [16, 64], [16, 64]
        arguments.steps, arguments.rounds, arguments.harness_epochs = 2, 1, 2
    if arguments.workers is None:
        arguments.workers = [1] if arguments.smoke else [1, 2, 4]
    return arguments


def main(argv: Sequence[str] | None = None) -> None:
    arguments = parse_arguments(argv)
    out = setup(arguments)
    device = resolve_device(arguments.device)
    report: dict[str, Any] = {
        "arguments": {k: str(v) if isinstance(v, Path) else v for k, v in vars(arguments).items()}
    }
    report["steps"] = sweeps(arguments, device)
    print(header("Scaling 1: adaptive vs fixed training steps as the work grows"))
    print(
        f"{device}, {arguments.threads} thread(s); {arguments.rounds} round(s) of {arguments.steps} steps per row, "
        f"the adaptive model and its frozen form alternating batch by batch; times per round summed, ratio per "
        f"round; operators counted over the first {min(COUNTED_STEPS, arguments.steps)} steps.\n"
    )
    print(step_tables(report["steps"], arguments), "\n", flush=True)
    if not arguments.skip_harness:
        report["harness"] = harness_workers(arguments, resolve_data_root(arguments.data_root))
        print(header("Scaling 2: harness wall time by workers"))
        print(harness_table(report["harness"], arguments), "\n", flush=True)
    (out / "scaling.json").write_text(json.dumps(report, indent=1))
    print(f"Raw numbers: {out / 'scaling.json'}")


if __name__ == "__main__":
    main()
