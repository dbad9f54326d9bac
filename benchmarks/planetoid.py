"""Node classification on Planetoid (Cora, CiteSeer, public split): adaptive GCN and GIN vs PyG's fixed GCN.

Every model is trained full-batch with the GCN paper's recipe (Kipf and
Welling, ICLR 2017): Adam, learning rate 0.01, weight decay 5e-4 (on every
parameter except the width rates), dropout 0.5 on the input features and
after the hidden layer, 200 epochs; the reported test accuracy is the one at
the epoch of best validation accuracy (first one on ties), as in PyG's GCN
example. The graph is passed as a sparse adjacency (PyG's ``adj_t``), which
gives the same outputs as ``edge_index`` and is faster on CPU. Models, all 2
layers, same seeds:

* ``GCN-16``: PyG's :class:`torch_geometric.nn.models.GCN` with 16 hidden
  channels (the paper's reference: 81.5% on Cora, 70.3% on CiteSeer);
* ``GIN-16``: PyG's :class:`torch_geometric.nn.models.GIN`, 16 hidden channels;
* ``AdaptiveGCN`` / ``AdaptiveGIN``: ``hidden_channels=None``, every hidden
  width learned from 117 neurons (awgnn's default start), widths updated
  after every optimizer step (``awgnn.auto_update_widths``).

Reported per dataset and model, over seeds: test accuracy (mean ± population
std), the learned widths and the parameter count at the best epoch, and the
seconds per run.
"""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from common import base_parser, header, markdown_table, mean_std, positive_int, run_jobs, setup, stopwatch
from torch import nn
from torch_geometric.nn.models import GCN, GIN
from torch_geometric.utils import to_torch_csc_tensor

import awgnn
from awgnn.harness import load_planetoid
from awgnn.nn.models import AdaptiveBasicGNN, AdaptiveGCN, AdaptiveGIN

MODELS = {
    "GCN-16": (GCN, 16),
    "GIN-16": (GIN, 16),
    "AdaptiveGCN": (AdaptiveGCN, None),
    "AdaptiveGIN": (AdaptiveGIN, None),
}
PAPER = {"Cora": 81.5, "CiteSeer": 70.3}  # GCN paper, Table 2
LR, WEIGHT_DECAY, DROPOUT = 0.01, 5e-4, 0.5


@dataclass(frozen=True)
class Job:
    dataset: str
    model: str
    seed: int
    epochs: int
    data_root: str | None


def build(model: str, num_features: int, num_classes: int) -> nn.Module:
    cls, hidden = MODELS[model]
    return cls(num_features, hidden, num_layers=2, out_channels=num_classes, dropout=DROPOUT)


def optimizer_for(model: nn.Module) -> torch.optim.Optimizer:
    """Adam with weight decay on the weights; the width rates are not decayed."""
    return torch.optim.Adam(awgnn.parameter_groups(model), lr=LR, weight_decay=WEIGHT_DECAY)


def feature_dropout(x: torch.Tensor, nonzero: torch.Tensor) -> torch.Tensor:
    """``F.dropout(x, DROPOUT)`` drawn on the nonzero entries only (the same distribution).

    The bag-of-words features are about 99% zeros, and CPU dropout over the
    whole dense matrix costs more than the model's training step.
    """
    keep = torch.rand(nonzero.size(1)) >= DROPOUT
    out = torch.zeros_like(x)
    rows, columns = nonzero[0, keep], nonzero[1, keep]
    out[rows, columns] = x[rows, columns] / (1 - DROPOUT)
    return out


def train_run(job: Job) -> dict[str, Any]:
    data = load_planetoid(job.dataset, job.data_root)[0]
    nonzero = data.x.nonzero().t()
    # The transposed sparse adjacency: the same outputs as edge_index, and faster sums on CPU.
    adj_t = to_torch_csc_tensor(data.edge_index, size=(data.num_nodes, data.num_nodes)).t()
    torch.manual_seed(job.seed)
    model = build(job.model, data.num_features, int(data.y.max()) + 1)
    optimizer = optimizer_for(model)
    awgnn.auto_update_widths(model, optimizer)
    best = {"val": -1.0}
    with stopwatch() as elapsed:
        for epoch in range(1, job.epochs + 1):
            model.train()
            optimizer.zero_grad()
            out = model(feature_dropout(data.x, nonzero), adj_t)
            F.cross_entropy(out[data.train_mask], data.y[data.train_mask]).backward()
            optimizer.step()
            model.eval()
            with torch.no_grad():
                correct = model(data.x, adj_t).argmax(-1) == data.y
            val, test = (correct[mask].float().mean().item() for mask in (data.val_mask, data.test_mask))
            if val > best["val"]:
                widths = model.layer_widths() if isinstance(model, AdaptiveBasicGNN) else {}
                best = {
                    "val": val,
                    "test": test,
                    "epoch": epoch,
                    "widths": widths,
                    "parameters": sum(p.numel() for p in model.parameters()),
                }
        seconds = elapsed()
    return {"dataset": job.dataset, "model": job.model, "seed": job.seed, "seconds": seconds, **best}


def widths_cell(runs: list[dict[str, Any]], model: str) -> str:
    if MODELS[model][1] is not None:
        return f"{MODELS[model][1]} (fixed)"
    layers = runs[0]["widths"]
    return ", ".join(f"{layer}: {mean_std([float(r['widths'][layer]) for r in runs])}" for layer in layers)


def parameters_cell(runs: list[dict[str, Any]]) -> str:
    counts = [r["parameters"] for r in runs]
    if len(set(counts)) == 1:
        return f"{counts[0]:,}"
    return f"{statistics.fmean(counts):,.0f} ± {statistics.pstdev(counts):,.0f}"


def summary_rows(runs: list[dict[str, Any]], datasets: list[str]) -> list[list[Any]]:
    rows = []
    for dataset in datasets:
        for model in MODELS:
            chosen = [r for r in runs if r["dataset"] == dataset and r["model"] == model]
            rows.append(
                [
                    dataset,
                    model,
                    mean_std([100 * r["test"] for r in chosen]),
                    widths_cell(chosen, model),
                    parameters_cell(chosen),
                    f"{statistics.fmean(r['seconds'] for r in chosen):.1f}",
                ]
            )
    return rows


def main() -> None:
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", choices=sorted(PAPER), default=["Cora", "CiteSeer"])
    parser.add_argument("--seeds", type=positive_int, default=10, help="seeds per dataset and model (default 10)")
    parser.add_argument("--epochs", type=positive_int, default=200, help="training epochs per run (default 200)")
    parser.add_argument("--workers", type=positive_int, default=1, help="parallel single-threaded training runs")
    arguments = parser.parse_args()
    if arguments.smoke:
        arguments.datasets, arguments.seeds, arguments.epochs, arguments.workers = ["Cora"], 1, 3, 1
    out = setup(arguments)
    jobs = [
        Job(dataset, model, seed, arguments.epochs, arguments.data_root)
        for dataset in arguments.datasets
        for model in MODELS
        for seed in range(arguments.seeds)
    ]
    for dataset in arguments.datasets:
        load_planetoid(dataset, arguments.data_root)  # processed once, before any worker reads it
    runs = run_jobs(train_run, jobs, arguments.workers)

    print(
        header(f"Node classification on Planetoid, public split ({arguments.epochs} epochs, {arguments.seeds} seed(s))")
    )
    print(
        markdown_table(
            [
                "dataset",
                "model",
                "test accuracy (%)",
                "learned widths (at best epoch)",
                "parameters",
                "seconds per run",
            ],
            summary_rows(runs, arguments.datasets),
        )
    )
    print(
        "\nGCN paper (Kipf and Welling, 2017), GCN with 16 hidden channels: "
        + ", ".join(f"{name} {PAPER[name]}%" for name in arguments.datasets)
        + "."
    )
    (out / "planetoid.json").write_text(
        json.dumps({"arguments": {k: str(v) for k, v in vars(arguments).items()}, "runs": runs}, indent=1)
    )
    print(f"\nRaw numbers in {out / 'planetoid.json'}")


if __name__ == "__main__":
    main()
