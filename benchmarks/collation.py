"""How much of a training epoch goes into building mini-batches: PyG's DataLoader vs InMemoryLoader.

Trains the same fixed 3-layer GIN with 64 hidden units (mean pooling, linear
head, Adam) for a few epochs with each loader and prints, per loader, the
mean epoch time, the time spent producing batches ("collation") and its share
of the epoch, then the speed-ups. Both runs start from the same weights and
iterate over all graphs, reshuffled every epoch.

The table goes to stdout and, with the per-epoch numbers, to ``collation.json``
in ``--out``. Example (a few minutes on one CPU thread)::

    python benchmarks/collation.py --data-root ../shared/data --dataset NCI1
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from common import base_parser, header, markdown_table, positive_int, setup
from torch import nn
from torch_geometric.data import Batch
from torch_geometric.loader import DataLoader
from torch_geometric.nn import global_mean_pool
from torch_geometric.nn.models import GIN

from awgnn.harness.batching import GraphStore, InMemoryLoader
from awgnn.harness.data import load_dataset, resolve_data_root


class GINClassifier(nn.Module):
    """GIN node encoder, mean pooling over each graph, linear classifier."""

    def __init__(self, in_channels: int, num_classes: int, hidden: int = 64, layers: int = 3) -> None:
        super().__init__()
        self.encoder = GIN(in_channels, hidden, layers)
        self.head = nn.Linear(hidden, num_classes)

    def forward(self, batch: Batch) -> torch.Tensor:
        nodes = self.encoder(batch.x, batch.edge_index)
        return self.head(global_mean_pool(nodes, batch.batch, size=batch.num_graphs))


@dataclass(frozen=True)
class EpochTiming:
    epoch_s: float
    collation_s: float
    loss: float


def train_epoch(
    model: nn.Module, optimizer: torch.optim.Optimizer, loader: Iterable[Batch], device: torch.device
) -> EpochTiming:
    """One epoch, timing separately the waits for the next batch (on the device, synchronised)."""
    model.train()
    collation = total_loss = 0.0
    graphs = 0
    start = time.perf_counter()
    batches = iter(loader)
    while True:
        tick = time.perf_counter()
        batch = next(batches, None)
        if batch is None:
            break
        if batch.x.device != device:  # InMemoryLoader batches are already there
            batch = batch.to(device)
        _synchronize(device)
        collation += time.perf_counter() - tick
        optimizer.zero_grad()
        loss = F.cross_entropy(model(batch), batch.y)
        loss.backward()
        optimizer.step()
        total_loss += loss.item() * batch.num_graphs
        graphs += batch.num_graphs
    _synchronize(device)
    return EpochTiming(time.perf_counter() - start, collation, total_loss / graphs)


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def run(
    name: str, loader: Iterable[Batch], in_channels: int, num_classes: int, epochs: int, seed: int, device: torch.device
) -> list[EpochTiming]:
    torch.manual_seed(seed)
    model = GINClassifier(in_channels, num_classes).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    timings = []
    for epoch in range(epochs):
        timings.append(train_epoch(model, optimizer, loader, device))
        print(f"  {name} epoch {epoch + 1}: {timings[-1].epoch_s:.3f} s", file=sys.stderr, flush=True)
    return timings


def main() -> None:
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="NCI1", help="TU dataset (default NCI1)")
    parser.add_argument("--batch-size", type=positive_int, default=32, help="graphs per batch (default 32)")
    parser.add_argument("--epochs", type=positive_int, default=3, help="timed epochs per loader (default 3)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.smoke:
        args.dataset, args.epochs = "MUTAG", 1
    out = setup(args)
    device = torch.device(args.device)
    data = load_dataset(args.dataset, resolve_data_root(args.data_root))

    tick = time.perf_counter()
    store = GraphStore.from_dataset(data.dataset).to(device)
    _synchronize(device)
    setup_s = time.perf_counter() - tick

    loaders = {
        "PyG DataLoader": DataLoader(
            data.dataset, batch_size=args.batch_size, shuffle=True, generator=torch.Generator().manual_seed(args.seed)
        ),
        "InMemoryLoader": InMemoryLoader(
            store, None, args.batch_size, shuffle=True, generator=torch.Generator().manual_seed(args.seed)
        ),
    }
    results = {
        name: run(name, loader, data.num_features, data.num_classes, args.epochs, args.seed, device)
        for name, loader in loaders.items()
    }

    print(
        header(
            f"Collation share of a GIN-64 training epoch: {data.name} ({len(data.dataset)} graphs), "
            f"batch {args.batch_size}, {device}"
        )
    )
    rows = []
    for name, timings in results.items():
        epoch_s = statistics.fmean(t.epoch_s for t in timings)
        collation_s = statistics.fmean(t.collation_s for t in timings)
        rows.append(
            (name, f"{epoch_s:.3f}", f"{collation_s:.3f}", f"{collation_s / epoch_s:.1%}", f"{timings[-1].loss:.4f}")
        )
    print(markdown_table(("loader", "epoch (s)", "collation (s)", "collation share", "final train loss"), rows))
    baseline, fast = results["PyG DataLoader"], results["InMemoryLoader"]
    epoch_speedup = statistics.fmean(t.epoch_s for t in baseline) / statistics.fmean(t.epoch_s for t in fast)
    collation_speedup = statistics.fmean(t.collation_s for t in baseline) / statistics.fmean(
        t.collation_s for t in fast
    )
    print(
        f"\nMean over {args.epochs} epoch(s); the InMemoryLoader store is built once, in {setup_s:.3f} s. "
        f"Speed-up: epoch {epoch_speedup:.2f}x, collation {collation_speedup:.1f}x."
    )
    (out / "collation.json").write_text(
        json.dumps(
            {
                "arguments": {key: str(value) for key, value in vars(args).items()},
                "store_setup_s": setup_s,
                "epochs": {name: [vars(t) for t in timings] for name, timings in results.items()},
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
