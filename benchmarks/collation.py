"""How much of a training epoch goes into building mini-batches: PyG's DataLoader vs InMemoryLoader.

Trains the same fixed 3-layer GIN with 64 hidden units (mean pooling, linear
head, Adam) for a few epochs with each loader and prints, per loader, the
mean epoch time, the time spent producing batches ("collation") and its share
of the epoch, then the speed-ups. Both runs start from the same weights and
iterate over all graphs, reshuffled every epoch.

Example (the data root must be writable; PyG writes processed/ folders)::

    cp -r shared/data /tmp/awgnn-data
    python benchmarks/collation.py --data-root /tmp/awgnn-data --dataset NCI1
"""
from __future__ import annotations

import argparse
import time
from collections.abc import Iterable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
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


def train_epoch(model: nn.Module, optimizer: torch.optim.Optimizer, loader: Iterable[Batch],
                device: torch.device) -> EpochTiming:
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


def run(name: str, loader: Iterable[Batch], in_channels: int, num_classes: int, epochs: int, seed: int,
        device: torch.device) -> list[EpochTiming]:
    torch.manual_seed(seed)
    model = GINClassifier(in_channels, num_classes).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    timings = []
    for epoch in range(epochs):
        timings.append(train_epoch(model, optimizer, loader, device))
        print(f"  {name} epoch {epoch + 1}: {timings[-1].epoch_s:.3f} s", flush=True)
    return timings


def mean(values: Iterable[float]) -> float:
    values = list(values)
    return sum(values) / len(values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", help="writable data root (default: $AWGNN_DATA or the user cache)")
    parser.add_argument("--dataset", default="NCI1")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    data = load_dataset(args.dataset, resolve_data_root(args.data_root))
    print(f"{data.name} ({len(data.dataset)} graphs, {data.num_features} features), batch size {args.batch_size}, "
          f"{args.threads} thread(s), {device}, torch {torch.__version__}")

    tick = time.perf_counter()
    store = GraphStore.from_dataset(data.dataset).to(device)
    _synchronize(device)
    setup_s = time.perf_counter() - tick

    loaders = {
        "PyG DataLoader": DataLoader(data.dataset, batch_size=args.batch_size, shuffle=True,
                                     generator=torch.Generator().manual_seed(args.seed)),
        "InMemoryLoader": InMemoryLoader(store, None, args.batch_size, shuffle=True,
                                         generator=torch.Generator().manual_seed(args.seed)),
    }
    results = {name: run(name, loader, data.num_features, data.num_classes, args.epochs, args.seed, device)
               for name, loader in loaders.items()}

    print(f"\nmean over {args.epochs} epochs; InMemoryLoader store built once in {setup_s:.3f} s")
    print(f"{'loader':<16} {'epoch [s]':>10} {'collation [s]':>14} {'collation share':>16} {'train loss':>11}")
    for name, timings in results.items():
        epoch_s, collation_s = mean(t.epoch_s for t in timings), mean(t.collation_s for t in timings)
        print(f"{name:<16} {epoch_s:>10.3f} {collation_s:>14.3f} {collation_s / epoch_s:>15.1%} "
              f"{timings[-1].loss:>11.4f}")
    baseline, fast = results["PyG DataLoader"], results["InMemoryLoader"]
    epoch_speedup = mean(t.epoch_s for t in baseline) / mean(t.epoch_s for t in fast)
    collation_speedup = mean(t.collation_s for t in baseline) / mean(t.collation_s for t in fast)
    print(f"speed-up: epoch {epoch_speedup:.2f}x, collation {collation_speedup:.1f}x")


if __name__ == "__main__":
    main()
