"""Drop-in parity: PyG's own examples with AdaptiveGIN / AdaptiveGCN swapped in for GIN / GCN.

Two of PyG's examples, their recipes unchanged:

* ``mutag_gin`` (PyG's MUTAG GIN example): 5 GIN layers of 32 channels, a
  ReLU after each, sum pooling, a head ``MLP([32, 32, C], dropout=0.5)``;
  Adam, learning rate 0.01, batches of 128, 100 epochs; each seed shuffles
  MUTAG and trains on 90%, tests on the other 10% (18 graphs) at the last
  epoch.
* ``cora_gcn`` (PyG's Cora GCN example): 2 GCN layers, 16 hidden channels,
  dropout 0.5 on the input features and after the hidden layer; Adam,
  learning rate 0.01, weight decay 5e-4 (never on the width rates), 200
  full-batch epochs on the public split; test accuracy at the epoch of best
  validation accuracy.

Models: PyG's (``pyg``); ``AdaptiveGIN`` / ``AdaptiveGCN`` with
``hidden_channels=None`` starting at 8 and at 256 neurons a layer, trained
two ways: ``dropin`` (only the import and ``awgnn.auto_update_widths``
added: cross-entropy, one learning rate, the optimizer built from
``awgnn.parameter_groups`` so that weight decay spares the rates) and
``recommended`` (the rates at their own learning rate 0.05 and
``awgnn.ELBOLoss`` with a width prior of standard deviation 0.3, the library's
recommended setting). The same seeds, splits and data order for every model.

Reported: the training loss of the first batch before any step (the data
term), the test accuracy (mean ± population std over seeds) with the verdict
"within one standard deviation of PyG's" (benchmarks' one verdict function),
and the mean learned hidden width at 10%, 50% and 100% of training. Costs are
process CPU seconds.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import asdict, dataclass
from typing import Any

import torch
import torch.nn.functional as F
from common import (
    ResultsFile,
    base_parser,
    header,
    markdown_table,
    mean_std,
    positive_int,
    resume,
    setup,
    within_one_std,
)
from planetoid import feature_dropout
from torch import nn
from torch_geometric.loader import DataLoader
from torch_geometric.nn import GCN, GIN, MLP, global_add_pool
from torch_geometric.utils import to_torch_csc_tensor

import awgnn
from awgnn.harness import load_planetoid
from awgnn.harness.data import load_dataset
from awgnn.nn.models import AdaptiveBasicGNN, AdaptiveGCN, AdaptiveGIN

EXAMPLES = ("mutag_gin", "cora_gcn")
MODELS = ("pyg", "dropin-8", "dropin-256", "recommended-8", "recommended-256")
EPOCHS = {"mutag_gin": 100, "cora_gcn": 200}
LR = 0.01
GIN_HIDDEN, GIN_LAYERS, GIN_BATCH = 32, 5, 128
GCN_HIDDEN, GCN_WEIGHT_DECAY, GCN_DROPOUT = 16, 5e-4, 0.5
# The recommended setting's two arguments (preset awgnn's values).
RATE_LR, WIDTH_PRIOR_STD = 0.05, 0.3
# "Of the same order": the medians of the initial losses within this factor of each other.
SAME_ORDER = 10.0


@dataclass(frozen=True)
class Run:
    example: str
    model: str
    seed: int
    epochs: int
    data_root: str | None

    @property
    def key(self) -> str:
        return f"{self.example}/{self.model}/{self.seed}/{self.epochs}"

    @property
    def start(self) -> int | None:
        return None if self.model == "pyg" else int(self.model.split("-")[1])

    @property
    def recommended(self) -> bool:
        return self.model.startswith("recommended")


class MutagNet(nn.Module):
    """PyG's MUTAG GIN example's network around a GIN of ``gnn``'s choosing."""

    def __init__(self, gnn: nn.Module, num_classes: int) -> None:
        super().__init__()
        self.gnn = gnn
        self.head = MLP([GIN_HIDDEN, GIN_HIDDEN, num_classes], norm=None, dropout=0.5)

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor, batch: torch.Tensor, size: int) -> torch.Tensor:
        return self.head(global_add_pool(self.gnn(x, edge_index).relu(), batch, size))


def gnn(run: Run, in_channels: int, num_classes: int) -> nn.Module:
    """The example's GNN: PyG's, or the adaptive one from the run's start."""
    if run.example == "mutag_gin":
        if run.start is None:
            return GIN(in_channels, GIN_HIDDEN, GIN_LAYERS, GIN_HIDDEN)
        return AdaptiveGIN(in_channels, None, GIN_LAYERS, out_channels=GIN_HIDDEN, initial_width=run.start)
    if run.start is None:
        return GCN(in_channels, GCN_HIDDEN, 2, num_classes, dropout=GCN_DROPOUT)
    return AdaptiveGCN(in_channels, None, 2, out_channels=num_classes, dropout=GCN_DROPOUT, initial_width=run.start)


class Objective:
    """The run's loss: cross-entropy, or the ELBO of the recommended setting (its data term reported)."""

    def __init__(self, run: Run, n_observations: int) -> None:
        self.elbo = awgnn.ELBOLoss(n_observations, width_prior_std=WIDTH_PRIOR_STD) if run.recommended else None

    def __call__(self, model: nn.Module, logits: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, float]:
        if self.elbo is None:
            loss = F.cross_entropy(logits, target)
            return loss, loss.item()
        terms = self.elbo(model, logits, target)
        return terms.total, terms.data.item()


def optimizer_for(run: Run, model: nn.Module) -> torch.optim.Optimizer:
    groups = awgnn.parameter_groups(model, rate_lr=RATE_LR if run.recommended else None)
    weight_decay = GCN_WEIGHT_DECAY if run.example == "cora_gcn" else 0.0
    optimizer = torch.optim.Adam(groups, lr=LR, weight_decay=weight_decay)
    if run.start is not None:
        awgnn.auto_update_widths(model, optimizer)
    return optimizer


def hidden_width(model: nn.Module) -> float | None:
    """Mean learned hidden width of the adaptive GNN inside ``model`` (None for PyG's)."""
    adaptive = [m for m in model.modules() if isinstance(m, AdaptiveBasicGNN)]
    return statistics.fmean(adaptive[0].layer_widths().values()) if adaptive else None


def train_mutag(run: Run) -> dict[str, Any]:
    data = load_dataset("MUTAG", run.data_root)
    order = torch.randperm(len(data.dataset), generator=torch.Generator().manual_seed(run.seed))
    test, train = order[: len(order) // 10], order[len(order) // 10 :]
    torch.manual_seed(run.seed)
    model = MutagNet(gnn(run, data.num_features, data.num_classes), data.num_classes)
    optimizer = optimizer_for(run, model)
    objective = Objective(run, len(train))
    loader = DataLoader(data.dataset[train], batch_size=GIN_BATCH, shuffle=True)
    first_loss, widths, losses = None, [], []
    for _ in range(run.epochs):
        model.train()
        losses = []
        for batch in loader:
            optimizer.zero_grad()
            logits = model(batch.x, batch.edge_index, batch.batch, batch.num_graphs)
            loss, data_loss = objective(model, logits, batch.y)
            first_loss = data_loss if first_loss is None else first_loss
            losses.append(data_loss)
            loss.backward()
            optimizer.step()
        widths.append(hidden_width(model))
    model.eval()
    batch = next(iter(DataLoader(data.dataset[test], batch_size=len(test))))
    with torch.no_grad():
        predicted = model(batch.x, batch.edge_index, batch.batch, batch.num_graphs).argmax(-1)
    return {
        "first_loss": first_loss,
        "last_loss": statistics.fmean(losses),
        "test": (predicted == batch.y).float().mean().item(),
        "widths": widths,
    }


def train_cora(run: Run) -> dict[str, Any]:
    data = load_planetoid("Cora", run.data_root)[0]
    nonzero = data.x.nonzero().t()
    adj_t = to_torch_csc_tensor(data.edge_index, size=(data.num_nodes, data.num_nodes)).t()
    torch.manual_seed(run.seed)
    model = gnn(run, data.num_features, int(data.y.max()) + 1)
    optimizer = optimizer_for(run, model)
    objective = Objective(run, int(data.train_mask.sum()))
    first_loss, widths, best = None, [], (-1.0, 0.0)
    for _ in range(run.epochs):
        model.train()
        optimizer.zero_grad()
        logits = model(feature_dropout(data.x, nonzero), adj_t)
        loss, data_loss = objective(model, logits[data.train_mask], data.y[data.train_mask])
        first_loss = data_loss if first_loss is None else first_loss
        loss.backward()
        optimizer.step()
        widths.append(hidden_width(model))
        model.eval()
        with torch.no_grad():
            correct = model(data.x, adj_t).argmax(-1) == data.y
        val, test = (correct[mask].float().mean().item() for mask in (data.val_mask, data.test_mask))
        if val > best[0]:
            best = (val, test)
    return {"first_loss": first_loss, "last_loss": data_loss, "test": best[1], "widths": widths}


def train(run: Run) -> dict[str, Any]:
    started = time.process_time()
    result = (train_mutag if run.example == "mutag_gin" else train_cora)(run)
    return {**asdict(run), "key": run.key, **result, "cpu_seconds": time.process_time() - started}


def width_cell(runs: list[dict[str, Any]]) -> str:
    """Mean hidden width at 10%, 50% and 100% of training, each mean ± std over seeds."""
    if runs[0]["widths"][0] is None:
        return "fixed"
    points = [max(0, round(fraction * len(runs[0]["widths"])) - 1) for fraction in (0.1, 0.5, 1.0)]
    return " → ".join(mean_std([r["widths"][point] for r in runs]) for point in points)


def summary(runs: list[dict[str, Any]], examples: list[str]) -> tuple[str, list[str]]:
    rows, verdicts = [], []
    for example in examples:
        pyg = [r for r in runs if r["example"] == example and r["model"] == "pyg"]
        pyg_accuracy = [100 * r["test"] for r in pyg]
        pyg_loss = statistics.median(r["first_loss"] for r in pyg)
        for model in MODELS:
            chosen = sorted(
                (r for r in runs if r["example"] == example and r["model"] == model), key=lambda r: r["seed"]
            )
            if not chosen:
                continue
            accuracy = [100 * r["test"] for r in chosen]
            loss = statistics.median(r["first_loss"] for r in chosen)
            within = within_one_std(
                statistics.fmean(accuracy), statistics.fmean(pyg_accuracy), statistics.pstdev(pyg_accuracy)
            )
            same_order = 1 / SAME_ORDER <= loss / pyg_loss <= SAME_ORDER
            side = "above" if statistics.fmean(accuracy) > statistics.fmean(pyg_accuracy) else "below"
            rows.append(
                [
                    example,
                    model,
                    len(chosen),
                    f"{loss:.3g}",
                    mean_std([r["last_loss"] for r in chosen]),
                    mean_std(accuracy),
                    "—" if model == "pyg" else ("yes" if within else f"no ({side})"),
                    width_cell(chosen),
                    f"{statistics.fmean(r['cpu_seconds'] for r in chosen):.1f}",
                ]
            )
            if model != "pyg":
                verdicts.append(
                    f"{example} {model}: initial loss {'of' if same_order else 'not of'} the same order as PyG's "
                    f"({loss:.3g} against {pyg_loss:.3g}); accuracy "
                    + (
                        "within one standard deviation of PyG's"
                        if within
                        else f"outside one standard deviation of PyG's, {side} it"
                    )
                )
    headers = [
        "example",
        "model",
        "seeds",
        "first-batch loss (median)",
        "last-epoch loss",
        "test accuracy (%)",
        "within PyG's std",
        "mean hidden width at 10% → 50% → 100%",
        "CPU s a run",
    ]
    return markdown_table(headers, rows), verdicts


def main() -> None:
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--examples", nargs="+", choices=EXAMPLES, default=list(EXAMPLES))
    parser.add_argument("--seeds", type=positive_int, default=10, help="seeds per example and model (default 10)")
    parser.add_argument("--workers", type=positive_int, default=1)
    parser.add_argument("--report-only", action="store_true", help="train nothing; report the finished runs")
    arguments = parser.parse_args()
    epochs = dict(EPOCHS)
    if arguments.smoke:
        arguments.seeds, epochs = 1, {"mutag_gin": 2, "cora_gcn": 2}
    out = setup(arguments)
    plan = [
        Run(example, model, seed, epochs[example], arguments.data_root)
        for example in arguments.examples
        for model in MODELS
        for seed in range(arguments.seeds)
    ]
    if "cora_gcn" in arguments.examples:
        load_planetoid("Cora", arguments.data_root)  # processed once, before any worker reads it
    runs = resume(plan, ResultsFile(out / "parity.jsonl"), train, arguments.workers, not arguments.report_only)
    print(header("Drop-in parity: PyG's examples with the adaptive models swapped in"))
    table, verdicts = summary(runs, arguments.examples)
    print(table + "\n")
    print("\n".join(f"- {line}" for line in verdicts))


if __name__ == "__main__":
    main()
