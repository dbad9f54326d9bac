"""One training run of the protocol: train, early-stop, restore the best epoch, score."""
from __future__ import annotations

import copy
import math
import random
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.loader import DataLoader

from awgnn.harness.batching import GraphStore, InMemoryLoader
from awgnn.harness.data import LoadedDataset
from awgnn.harness.registry import ModelSpec
from awgnn.width import ELBOLoss, NonFiniteRate, auto_update_widths, parameter_groups
from awgnn.width.validation import check_choice

# What early stopping can watch (a configuration's ``monitor``).
MONITORS = ("val_accuracy", "val_loss")


@dataclass(frozen=True)
class RunSettings:
    """Protocol settings shared by every run of an experiment."""

    max_epochs: int
    patience: int
    device: str
    loader: str


class NonFiniteLoss(ArithmeticError):
    """The training loss became NaN or infinite."""


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and torch; return a generator for the data order."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("protocol.device is 'cuda' but no CUDA device is available")
    return torch.device(device)


def fit(
    data: LoadedDataset,
    train_index: Sequence[int],
    validation_index: Sequence[int],
    test_index: Sequence[int] | None,
    spec: ModelSpec,
    model_arguments: dict[str, Any],
    training: dict[str, Any],
    settings: RunSettings,
    seed: int,
) -> tuple[nn.Module, dict[str, Any]]:
    """Train one configuration; return the model at its best epoch and the run's record.

    The record holds the metrics at the best epoch, the history (losses,
    scores and layer widths per epoch) and the cost (parameters, seconds).

    The monitored validation quantity (``training["monitor"]``) decides the best
    epoch (a later equal value wins, as in the reference code); the best weights
    are restored and the train, validation and (if given) test sets are scored
    with them. A NaN or infinite loss ends the run with ``status: "nan"``
    instead of raising.
    """
    ((model, record),) = fit_monitors(data, train_index, validation_index, test_index, spec, model_arguments,
                                      training, settings, seed, [training["monitor"]])
    return model, record


def fit_monitors(
    data: LoadedDataset,
    train_index: Sequence[int],
    validation_index: Sequence[int],
    test_index: Sequence[int] | None,
    spec: ModelSpec,
    model_arguments: dict[str, Any],
    training: dict[str, Any],
    settings: RunSettings,
    seed: int,
    monitors: Sequence[str],
) -> list[tuple[nn.Module, dict[str, Any]]]:
    """One training for several early-stopping monitors: a ``(model, record)`` per monitor, in order.

    Grid points that differ only in their monitor train the same model from the
    same seed, so one training serves them all: every monitor keeps its own
    :class:`EarlyStopping` and best weights, the training goes on until the
    last monitor has stopped (or ``max_epochs``, or a NaN loss), and each
    monitor is scored when it stops, under a forked random state so that the
    training that goes on is untouched. Each record equals the one :func:`fit`
    returns for that monitor alone (``training["monitor"]`` is not used here),
    except ``seconds``: the wall time of every epoch is split equally among the
    monitors still training in it, and a monitor's scoring is charged to it
    alone, so the records' seconds add up to the training's wall time (for one
    monitor, the whole run).
    """
    if not monitors:
        raise ValueError("monitors must name at least one early-stopping monitor, got none")
    for monitor in monitors:
        check_choice("monitors", monitor, MONITORS)
    clock = _Clock()
    generator = seed_everything(seed)
    device = resolve_device(settings.device)
    model = spec.cls(data.num_features, data.num_classes, **model_arguments).to(device)
    optimizer = torch.optim.Adam(parameter_groups(model, rate_lr=training["rate_lr"]), lr=training["lr"],
                                 weight_decay=training["weight_decay"])
    scheduler = (torch.optim.lr_scheduler.StepLR(optimizer, training["scheduler_step"], training["scheduler_gamma"])
                 if training["scheduler_step"] else None)
    if spec.adaptive:
        auto_update_widths(model, optimizer, optimizer_state=training["optimizer_state"])
    objective = _objective(training, n_observations=len(train_index))
    loaders = _Loaders(data, settings.loader, training["batch_size"], generator, device)
    train_loader = loaders.make(train_index, shuffle=True)
    validation_loader = loaders.make(validation_index, shuffle=False)

    history: list[dict[str, Any]] = []
    initial_state = copy.deepcopy(model.state_dict())
    runs = [_MonitoredRun(EarlyStopping(monitor, settings.patience), initial_state) for monitor in monitors]

    def finish(run: _MonitoredRun, status: str, last: bool) -> None:
        """Score ``run`` at its best epoch; ``last``: no training follows, so the model itself is scored."""
        scored = model if last else copy.deepcopy(model)
        # Scoring may draw random numbers (dropout active at evaluation); a fork keeps them out of the training.
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
            scored.load_state_dict(run.best_state)
            record = {
                "status": status,
                "seed": seed,
                "epochs": len(history),
                "best_epoch": run.stopper.best_epoch,
                "train_score": evaluate(scored, loaders.make(train_index, shuffle=False), data)[1],
                "val_score": evaluate(scored, validation_loader, data)[1],
                "test_score": (evaluate(scored, loaders.make(test_index, shuffle=False), data)[1]
                               if test_index is not None else None),
                "layer_widths": scored.layer_widths(),
                "total_width": scored.total_width(),
                "num_parameters": scored.num_parameters(),
                "n_observations": (objective.n_observations if isinstance(objective, ELBOLoss)
                                   else len(train_index)),
                "history": list(history),
                "device": str(device),
            }
        if status == "nan":
            record["val_score"] = record["test_score"] = None
        clock.charge([run])
        record["seconds"] = run.seconds
        run.result = (scored, record)

    training_runs = list(runs)
    status = "ok"
    try:
        for epoch in range(settings.max_epochs):
            train_loss, train_score = train_epoch(model, train_loader, optimizer, objective, data)
            if scheduler is not None:
                scheduler.step()
            val_loss, val_score = evaluate(model, validation_loader, data)
            history.append({"epoch": epoch, "train_loss": train_loss, "train_score": train_score,
                            "val_loss": val_loss, "val_score": val_score, "widths": model.layer_widths()})
            snapshot = None  # monitors improving in the same epoch share one copy of the weights
            for run in training_runs:
                if run.stopper.update(epoch, val_loss, val_score):
                    snapshot = snapshot if snapshot is not None else copy.deepcopy(model.state_dict())
                    run.best_state = snapshot
            clock.charge(training_runs)
            stopped = [run for run in training_runs if run.stopper.should_stop(epoch)]
            training_runs = [run for run in training_runs if run not in stopped]
            for run in stopped:
                finish(run, "ok", last=not training_runs and run is stopped[-1])
            if not training_runs:
                break
    except (NonFiniteLoss, NonFiniteRate):  # a diverged loss or width rate ends this run only
        status = "nan"

    if training_runs:
        clock.charge(training_runs)
    for run in training_runs:
        finish(run, status, last=run is training_runs[-1])
    return [run.result for run in runs]


class EarlyStopping:
    """Patience on validation accuracy (``>=`` improves) or loss (``<=`` improves)."""

    def __init__(self, monitor: str, patience: int) -> None:
        self.monitor = monitor
        self.patience = patience
        self.best_epoch = -1
        self.best_value = -math.inf if monitor == "val_accuracy" else math.inf

    def update(self, epoch: int, val_loss: float, val_score: float) -> bool:
        """Record an epoch; return whether it is the new best."""
        if self.monitor == "val_accuracy":
            improved = val_score >= self.best_value
            value = val_score
        else:
            improved = val_loss <= self.best_value
            value = val_loss
        if improved:
            self.best_epoch, self.best_value = epoch, value
        return improved

    def should_stop(self, epoch: int) -> bool:
        return epoch - self.best_epoch >= self.patience


class _MonitoredRun:
    """One monitor of a training: its stopper, best weights, share of the time and, once scored, its result."""

    def __init__(self, stopper: EarlyStopping, best_state: dict[str, Any]) -> None:
        self.stopper = stopper
        self.best_state = best_state
        self.seconds = 0.0
        self.result: tuple[nn.Module, dict[str, Any]] | None = None


class _Clock:
    """Charges the wall time since its last charge to runs, in equal shares."""

    def __init__(self) -> None:
        self.last = time.perf_counter()

    def charge(self, runs: Sequence[_MonitoredRun]) -> None:
        now = time.perf_counter()
        for run in runs:
            run.seconds += (now - self.last) / len(runs)
        self.last = now


def _objective(training: dict[str, Any], n_observations: int):
    if training["loss"] == "cross_entropy":
        return None
    return ELBOLoss(
        training["n_observations"] or n_observations,
        weight_prior_std=training["weight_prior_std"],
        rate_prior_mean=training["rate_prior_mean"],
        rate_prior_std=training["rate_prior_std"],
        width_prior_centre=training["width_prior_centre"],
        width_prior_std=training["width_prior_std"],
    )


def train_epoch(model: nn.Module, loader: Iterable, optimizer: torch.optim.Optimizer,
                objective: ELBOLoss | None, data: LoadedDataset) -> tuple[float, float]:
    """One pass over ``loader`` with an optimizer step per batch; mean loss and the metric on the fly.

    ``objective`` ``None`` trains on plain cross-entropy. Raises :class:`NonFiniteLoss`
    as soon as a batch's loss is NaN or infinite.
    """
    model.train()
    total_loss, outputs, targets = 0.0, [], []
    for batch in loader:
        optimizer.zero_grad()
        logits = model(batch.x, batch.edge_index, batch.batch, batch.num_graphs)
        target = _target(batch)
        loss = F.cross_entropy(logits, target) if objective is None else objective(model, logits, target).total
        if not torch.isfinite(loss):
            raise NonFiniteLoss(f"loss {loss.item()}")
        loss.backward()
        optimizer.step()
        total_loss += loss.detach() * batch.num_graphs
        outputs.append(logits.detach())
        targets.append(target)
    count = sum(len(t) for t in targets)
    return float(total_loss) / count, score(torch.cat(outputs), torch.cat(targets), data)


@torch.no_grad()
def evaluate(model: nn.Module, loader: Iterable, data: LoadedDataset) -> tuple[float, float]:
    """Mean cross-entropy and the dataset's metric over ``loader``."""
    model.eval()
    outputs, targets = [], []
    for batch in loader:
        outputs.append(model(batch.x, batch.edge_index, batch.batch, batch.num_graphs))
        targets.append(_target(batch))
    logits, target = torch.cat(outputs), torch.cat(targets)
    return F.cross_entropy(logits, target).item(), score(logits, target, data)


def score(logits: Tensor, target: Tensor, data: LoadedDataset) -> float:
    """Accuracy, or ROC-AUC through the dataset's OGB evaluator."""
    if data.metric == "accuracy":
        return (logits.argmax(-1) == target).float().mean().item()
    positive = logits.softmax(-1)[:, 1:2]
    result = data.evaluator.eval({"y_true": target.view(-1, 1).cpu().numpy(),
                                  "y_pred": positive.cpu().numpy()})
    return float(result[data.metric])


def _target(batch) -> Tensor:
    return batch.y.view(-1).long()


class _Loaders:
    """Builds the train/evaluation loaders of one run, in memory or with PyG's DataLoader."""

    def __init__(self, data: LoadedDataset, kind: str, batch_size: int, generator: torch.Generator,
                 device: torch.device) -> None:
        self.kind = kind
        self.batch_size = batch_size
        self.generator = generator
        self.device = device
        self.data = data
        self.store = None

    def make(self, index: Sequence[int], shuffle: bool) -> Iterable:
        if self.kind == "memory":
            if self.store is None:
                self.store = GraphStore.from_dataset(self.data.dataset).to(self.device)
            return InMemoryLoader(self.store, list(index), self.batch_size, shuffle=shuffle,
                                  generator=self.generator)
        subset = self.data.dataset[list(index)]
        return _OnDevice(DataLoader(subset, self.batch_size, shuffle=shuffle, generator=self.generator),
                         self.device)


class _OnDevice:
    """Moves each batch of a PyG ``DataLoader`` to the run's device."""

    def __init__(self, loader: DataLoader, device: torch.device) -> None:
        self.loader = loader
        self.device = device

    def __iter__(self):
        for batch in self.loader:
            yield batch.to(self.device)

    def __len__(self) -> int:
        return len(self.loader)
