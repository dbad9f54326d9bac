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

from awgnn.growth import (
    WIDTH_CONTROLLERS,
    FireflyGrowth,
    GrowthResult,
    S2DGrowth,
    TinyGrowth,
    fix_hidden_widths_,
    reinitialise_,
)
from awgnn.growth.tiny import DEFAULT_THRESHOLD as TINY_DEFAULT_THRESHOLD
from awgnn.harness.batching import GraphStore, InMemoryLoader
from awgnn.harness.config import (
    GROWTH_METHODS,
    TINY_NEURONS_PER_LAYER,
    WIDTH_CONTROL_ARGUMENTS,
    WIDTH_CONTROL_KEYS,
    default_loss,
)
from awgnn.harness.data import LoadedDataset, check_finite_features
from awgnn.harness.registry import ModelSpec, layer_widths, num_parameters
from awgnn.width import ELBOLoss, NonFiniteRate, auto_update_widths, parameter_groups
from awgnn.width.resize import OptimizerStatePolicy
from awgnn.width.validation import check_choice, check_int_at_least

# What early stopping can watch (a configuration's ``monitor``).
MONITORS = ("val_accuracy", "val_loss")
# What every history entry holds; an epoch hook's keys must differ from these.
HISTORY_KEYS = ("epoch", "train_loss", "train_score", "val_loss", "val_score", "widths")
# Neurons a growth step adds, as a fraction of the current ones, when a configuration gives no budget
# (the growth papers' reference settings: the references' 0.3 for S2D, 0.35 for Firefly).
REFERENCE_GROWTH_FRACTIONS = {"s2d": 0.3, "s2d_fast": 0.3, "firefly": 0.35}


@dataclass(frozen=True)
class RunSettings:
    """Protocol settings shared by every run of an experiment."""

    max_epochs: int
    patience: int
    device: str
    loader: str


class NonFiniteLoss(ArithmeticError):
    """The training loss became NaN or infinite."""


@dataclass(frozen=True)
class EpochContext:
    """What an :class:`EpochHook` sees of a run: the epoch (from 0) and the objects training it.

    ``objective`` is the run's :class:`~awgnn.ELBOLoss`, or ``None`` for plain
    cross-entropy; ``train_loader`` yields the inner-train batches, shuffled as
    in training.
    """

    epoch: int
    model: nn.Module
    optimizer: torch.optim.Optimizer
    objective: ELBOLoss | None
    train_loader: Iterable
    data: LoadedDataset


class EpochHook:
    """Code that :func:`fit` runs at the start and at the end of every epoch; subclasses override either.

    :meth:`start_epoch` runs before the epoch's training and may change the
    model (its widths too), the optimizer's state or the objective;
    :meth:`end_epoch` runs after the epoch's validation, before early stopping
    sees the epoch, and must leave the model as it is (its validation scores
    are those of the model early stopping keeps). A dict either returns is
    merged into the epoch's history entry; its keys must not be
    :data:`HISTORY_KEYS` nor those of another hook of the run. The time spent
    in hooks counts in the run's ``seconds`` and ``cpu_seconds``. A hook may
    keep state across epochs, so every run needs its own.
    """

    def start_epoch(self, context: EpochContext) -> dict[str, Any] | None:
        """Before the epoch's training; by default nothing."""
        return None

    def end_epoch(self, context: EpochContext) -> dict[str, Any] | None:
        """After the epoch's validation; by default nothing."""
        return None


class GrowthSchedule(EpochHook):
    r"""Growth steps of a growing model (:class:`~awgnn.models.GrowingGINClassifier` or
    :class:`~awgnn.models.GrowingFairGIN`) on a schedule.

    A step runs at the start of epoch :math:`e` (from 0) when
    ``warmup`` :math:`\le e <` ``stop`` and :math:`e -` ``warmup`` is a multiple
    of ``interval``: :class:`~awgnn.growth.S2DGrowth` (``"s2d"``: exact
    eigenpairs, ``"s2d_fast"``: the matrix-free Rayleigh variant),
    :class:`~awgnn.growth.FireflyGrowth` (``"firefly"``), over every hidden layer
    of the model, selected globally or per layer (``selection``), or :class:`~awgnn.growth.TinyGrowth`
    (``"tiny"``, through GroMo: up to ``num_neurons`` per layer, default 8). Its statistics pass runs over the
    inner-train batches of the epoch's context (batched as in training) with
    the summed cross-entropy; the optimizer's state follows
    ``optimizer_state`` as in an AWN resize. Firefly's random candidates come
    from a generator seeded with ``seed``.

    A growth epoch's history entry gets ``"growth"``: the neurons ``added``
    (``split`` of them offspring of a split, the others new), the
    ``predicted_change`` of the loss, the widths ``before`` the step and its
    ``seconds``; the entry's ``widths`` are those after it.

    Args:
        method: ``"s2d"``, ``"s2d_fast"``, ``"firefly"`` or ``"tiny"``.
        warmup: epochs of training before the first step (>= 0).
        interval: epochs between steps (>= 1).
        stop: first epoch without a step (> ``warmup``).
        num_neurons, fraction: the budget of a step (exactly one, see :class:`~awgnn.growth.GrowthBudget`).
        eps: S2D's split offset, Firefly's fan-out norm of new neurons.
        offset_ratio: Firefly's split offset relative to the neuron's fan-in norm (``None``: its default).
        threshold: TINY's smallest singular value that gives a neuron (GroMo's 1e-3 is far above the
            values of per-node statistics on a GIN, 1e-5 to 4e-4 in awgnn's tests).
        optimizer_state: ``"carry"`` or ``"reset"`` (see :meth:`AdaptiveWidth.resize_`).
        seed: of Firefly's candidate generator.
        selection: where S2D's and Firefly's budget goes, ``"global"`` or ``"per_layer"``
            (:func:`awgnn.growth.step.select`).
    """

    def __init__(
        self,
        method: str,
        warmup: int,
        interval: int,
        stop: int,
        *,
        num_neurons: int | None,
        fraction: float | None,
        eps: float,
        optimizer_state: OptimizerStatePolicy,
        seed: int,
        threshold: float = TINY_DEFAULT_THRESHOLD,
        selection: str = "global",
        offset_ratio: float | None = None,
    ) -> None:
        check_choice("method", method, GROWTH_METHODS)
        self.warmup = check_int_at_least("warmup", warmup, 0)
        self.interval = check_int_at_least("interval", interval, 1)
        self.stop = check_int_at_least("stop", stop, warmup + 1)
        self.optimizer_state = optimizer_state
        if method == "firefly":
            self.step: S2DGrowth | FireflyGrowth | TinyGrowth = FireflyGrowth(
                num_neurons,
                fraction=fraction,
                eps=eps,
                offset_ratio=offset_ratio,
                generator=torch.Generator().manual_seed(seed),
                selection=selection,
            )
        elif method == "tiny":
            self.step = TinyGrowth(num_neurons or TINY_NEURONS_PER_LAYER, threshold=threshold)
        else:
            self.step = S2DGrowth(
                num_neurons,
                fraction=fraction,
                eps=eps,
                method="eigh" if method == "s2d" else "rayleigh",
                selection=selection,
            )

    @classmethod
    def from_training(cls, training: dict[str, Any], settings: RunSettings, seed: int) -> GrowthSchedule:
        """The schedule of a run's training keys (``growth*``, ``optimizer_state``); ``growth`` must be set.

        ``growth_stop`` null is ``max_epochs - patience``, so the last architecture
        gets a full patience window; with neither ``growth_neurons`` nor
        ``growth_fraction`` a step adds the method's reference fraction.
        """
        method = training["growth"]
        fraction = training["growth_fraction"]
        if training["growth_neurons"] is None and fraction is None and method in REFERENCE_GROWTH_FRACTIONS:
            fraction = REFERENCE_GROWTH_FRACTIONS[method]
        stop = training["growth_stop"]
        return cls(
            method,
            training["growth_warmup"],
            training["growth_interval"],
            settings.max_epochs - settings.patience if stop is None else stop,
            num_neurons=training["growth_neurons"],
            fraction=fraction,
            eps=training["growth_eps"],
            optimizer_state=training["optimizer_state"],
            seed=seed,
            threshold=training["growth_threshold"],
            selection=training["growth_selection"],
            offset_ratio=training["growth_offset_ratio"],
        )

    def grows_at(self, epoch: int) -> bool:
        """Whether a step runs at the start of ``epoch``."""
        return self.warmup <= epoch < self.stop and (epoch - self.warmup) % self.interval == 0

    def start_epoch(self, context: EpochContext) -> dict[str, Any] | None:
        if not self.grows_at(context.epoch):
            return None
        before = context.model.layer_widths()
        started = time.perf_counter()
        result: GrowthResult = self.step.grow_(
            context.model,
            context.train_loader,
            _summed_cross_entropy,
            context.optimizer,
            optimizer_state=self.optimizer_state,
        )
        return {
            "growth": {
                "added": result.added,
                "split": result.split,
                "predicted_change": result.predicted_change,
                "before": before,
                "seconds": time.perf_counter() - started,
            }
        }


class WidthControlHook(EpochHook):
    """An adaptive GIN's hidden widths set from the data: ``width_control`` names the class
    (:data:`~awgnn.growth.WIDTH_CONTROLLERS`: ``marginal`` is :class:`~awgnn.growth.MarginalWidths`,
    ``marginal_refit`` :class:`~awgnn.growth.RefitMarginalWidths`, ``gates`` :class:`~awgnn.growth.GatedWidths`),
    the keys it reads (:data:`~awgnn.harness.config.WIDTH_CONTROL_KEYS`) its arguments.

    Building it fixes the model's hidden widths and draws its weights afresh
    as in a plain network (:func:`~awgnn.growth.reinitialise_`); build the
    optimizer after it, from :meth:`parameter_groups`. At the start of every
    epoch but the first, the widths are updated on the inner-train batches
    (as batched in training); the epoch's history entry gets
    ``"width_control"``, one :meth:`~awgnn.growth.WidthDecision.as_record`
    per layer, keyed by its name.
    """

    def __init__(self, model: nn.Module, training: dict[str, Any], n_observations: int, seed: int) -> None:
        fix_hidden_widths_(model)
        reinitialise_(model)
        self.optimizer_state = training["optimizer_state"]
        control = training["width_control"]
        self.widths = WIDTH_CONTROLLERS[control](
            model,
            n_observations,
            **{WIDTH_CONTROL_ARGUMENTS[key]: training[key] for key in WIDTH_CONTROL_KEYS[control]},
            generator=torch.Generator().manual_seed(seed),
        )

    def parameter_groups(self, groups: list[dict]) -> list[dict]:
        """``groups`` (:func:`~awgnn.parameter_groups`'), with the parameters the controller added to the model
        that must not decay moved into a group of their own, without weight decay."""
        kept = {id(p) for p in self.widths.decay_free_parameters()}
        if not kept:
            return groups
        moved = [{**group, "params": [p for p in group["params"] if id(p) not in kept]} for group in groups]
        return [*moved, {"params": self.widths.decay_free_parameters(), "weight_decay": 0.0}]

    def start_epoch(self, context: EpochContext) -> dict[str, Any] | None:
        if context.epoch == 0:
            return None
        decisions = self.widths.update_(
            context.train_loader, _per_graph_cross_entropy, context.optimizer, self.optimizer_state
        )
        return {"width_control": {d.name: d.as_record() for d in decisions}}


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
    epoch_hook: EpochHook | None = None,
) -> tuple[nn.Module, dict[str, Any]]:
    """Train one configuration; return the model at its best epoch and the run's record.

    ``spec`` builds the model from ``model_arguments`` (:meth:`ModelSpec.build`);
    an adaptive class, or a class named by path whose built model holds an
    :class:`~awgnn.AdaptiveWidth`, learns its widths: the loss defaults to the
    ELBO and every optimizer step updates the widths.

    The record holds the metrics at the best epoch, the history (losses,
    scores and layer widths per epoch, and what ``epoch_hook`` adds, see
    :class:`EpochHook`) and the cost (parameters, wall ``seconds`` and the
    process's ``cpu_seconds``).

    A growing model class (:attr:`ModelSpec.grows`) with ``training["growth"]``
    set grows on the :class:`GrowthSchedule` of the training keys (before
    ``epoch_hook`` at the start of an epoch); the best epoch's weights are
    restored at that epoch's widths. An adaptive class with
    ``training["width_control"]`` set has its hidden widths set by
    :class:`WidthControlHook` instead of its rates (also before
    ``epoch_hook``).

    The monitored validation quantity (``training["monitor"]``) decides the best
    epoch (a later equal value wins, as in the reference code); the best weights
    are restored and the train, validation and (if given) test sets are scored
    with them. A NaN or infinite loss ends the run with ``status: "nan"``
    instead of raising, unless NaN or infinite input features caused it
    (a ``ValueError`` naming the batch).
    """
    ((model, record),) = fit_monitors(
        data,
        train_index,
        validation_index,
        test_index,
        spec,
        model_arguments,
        training,
        settings,
        seed,
        [training["monitor"]],
        epoch_hook,
    )
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
    epoch_hook: EpochHook | None = None,
) -> list[tuple[nn.Module, dict[str, Any]]]:
    """One training for several early-stopping monitors: a ``(model, record)`` per monitor, in order.

    Grid points that differ only in their monitor train the same model from the
    same seed, so one training serves them all: every monitor keeps its own
    :class:`EarlyStopping` and best weights, the training goes on until the
    last monitor has stopped (or ``max_epochs``, or a NaN loss), and each
    monitor is scored when it stops, under a forked random state so that the
    training that goes on is untouched. Each record equals the one :func:`fit`
    returns for that monitor alone (``training["monitor"]`` is not used here),
    except ``seconds`` and ``cpu_seconds``: the wall and process CPU time of
    every epoch is split equally among the monitors still training in it, and
    a monitor's scoring is charged to it alone, so the records' times add up to
    the training's (for one monitor, the whole run). ``epoch_hook`` and growth as in :func:`fit`.
    """
    if not monitors:
        raise ValueError("monitors must name at least one early-stopping monitor, got none")
    for monitor in monitors:
        check_choice("monitors", monitor, MONITORS)
    clock = _Clock()
    generator = seed_everything(seed)
    device = resolve_device(settings.device)
    model = spec.build(data.num_features, data.num_classes, model_arguments).to(device)
    adaptive = spec.learns_widths(model)
    if training["loss"] is None:  # a class named by path: its built model tells whether its rates learn widths
        training = {**training, "loss": default_loss(adaptive, training["width_control"])}
    width_control = (
        WidthControlHook(model, training, len(train_index), seed) if training["width_control"] is not None else None
    )
    groups = parameter_groups(model, rate_lr=training["rate_lr"])
    optimizer = torch.optim.Adam(
        width_control.parameter_groups(groups) if width_control is not None else groups,
        lr=training["lr"],
        weight_decay=training["weight_decay"],
    )
    scheduler = (
        torch.optim.lr_scheduler.StepLR(optimizer, training["scheduler_step"], training["scheduler_gamma"])
        if training["scheduler_step"]
        else None
    )
    if adaptive and width_control is None:
        auto_update_widths(model, optimizer, optimizer_state=training["optimizer_state"])
    objective = _objective(training, n_observations=len(train_index))
    loaders = _Loaders(data, settings.loader, training["batch_size"], generator, device)
    train_loader = loaders.make(train_index, shuffle=True)
    validation_loader = loaders.make(validation_index, shuffle=False)

    hooks = [
        hook
        for hook in (_growth_schedule(spec, training, settings, seed), width_control, epoch_hook)
        if hook is not None
    ]

    history: list[dict[str, Any]] = []
    initial_state = copy.deepcopy(model.state_dict())
    runs = [_MonitoredRun(EarlyStopping(monitor, settings.patience), initial_state) for monitor in monitors]

    def finish(run: _MonitoredRun, status: str, last: bool) -> None:
        """Score ``run`` at its best epoch; ``last``: no training follows, so the model itself is scored."""
        scored = model if last else copy.deepcopy(model)
        # Scoring may draw random numbers (dropout active at evaluation); a fork keeps them out of the training.
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
            scored.load_state_dict(run.best_state)
            widths = layer_widths(scored)
            record = {
                "status": status,
                "seed": seed,
                "epochs": len(history),
                "best_epoch": run.stopper.best_epoch,
                "train_score": evaluate(scored, loaders.make(train_index, shuffle=False), data)[1],
                "val_score": evaluate(scored, validation_loader, data)[1],
                "test_score": (
                    evaluate(scored, loaders.make(test_index, shuffle=False), data)[1]
                    if test_index is not None
                    else None
                ),
                "layer_widths": widths,
                "total_width": sum(widths.values()),
                "num_parameters": num_parameters(scored),
                "n_observations": (objective.n_observations if isinstance(objective, ELBOLoss) else len(train_index)),
                "history": list(history),
                "device": str(device),
            }
        if status == "nan":
            record["val_score"] = record["test_score"] = None
        clock.charge([run])
        record["seconds"], record["cpu_seconds"] = run.seconds, run.cpu_seconds
        run.result = (scored, record)

    training_runs = list(runs)
    status = "ok"
    try:
        for epoch in range(settings.max_epochs):
            context = EpochContext(epoch, model, optimizer, objective, train_loader, data)
            started = _run_hooks(hooks, "start_epoch", context, {})
            train_loss, train_score = train_epoch(model, train_loader, optimizer, objective, data)
            if scheduler is not None:
                scheduler.step()
            val_loss, val_score = evaluate(model, validation_loader, data)
            history.append(
                {
                    "epoch": epoch,
                    "train_loss": train_loss,
                    "train_score": train_score,
                    "val_loss": val_loss,
                    "val_score": val_score,
                    "widths": layer_widths(model),
                    **_run_hooks(hooks, "end_epoch", context, started),
                }
            )
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


def _growth_schedule(
    spec: ModelSpec, training: dict[str, Any], settings: RunSettings, seed: int
) -> GrowthSchedule | None:
    """The run's growth schedule, or ``None`` when it does not grow."""
    if training["growth"] is None:
        return None
    if not spec.grows:
        raise ValueError(f"training['growth'] is {training['growth']!r} but {spec.cls.__name__} does not grow")
    return GrowthSchedule.from_training(training, settings, seed)


def _run_hooks(
    hooks: Sequence[EpochHook], method: str, context: EpochContext, entries: dict[str, Any]
) -> dict[str, Any]:
    """``entries`` with what every hook's ``method`` returns; ``ValueError`` on a key taken twice."""
    entries = dict(entries)
    for hook in hooks:
        returned = getattr(hook, method)(context) or {}
        taken = sorted(set(returned) & (set(HISTORY_KEYS) | set(entries)))
        if taken:
            raise ValueError(
                f"{type(hook).__name__}.{method} returned the history key {taken[0]!r}, "
                f"which the run's history entry already has"
            )
        entries.update(returned)
    return entries


def _per_graph_cross_entropy(model: nn.Module, batch) -> Tensor:
    """Each graph's cross-entropy: what :class:`WidthControlHook` measures."""
    return F.cross_entropy(_graph_logits(model, batch), _target(batch), reduction="none")


def _summed_cross_entropy(model: nn.Module, batch) -> Tensor:
    """A batch's summed cross-entropy: the growth statistics' loss (the growth papers' reference settings)."""
    return F.cross_entropy(_graph_logits(model, batch), _target(batch), reduction="sum")


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
        self.cpu_seconds = 0.0
        self.result: tuple[nn.Module, dict[str, Any]] | None = None


class _Clock:
    """Charges the wall time and this process's CPU time since its last charge to runs, in equal shares.

    The CPU time does not grow when other processes compete for the cores, so
    it is the cost to compare between runs made under different loads.
    """

    def __init__(self) -> None:
        self.last_wall, self.last_cpu = time.perf_counter(), time.process_time()

    def charge(self, runs: Sequence[_MonitoredRun]) -> None:
        wall, cpu = time.perf_counter(), time.process_time()
        for run in runs:
            run.seconds += (wall - self.last_wall) / len(runs)
            run.cpu_seconds += (cpu - self.last_cpu) / len(runs)
        self.last_wall, self.last_cpu = wall, cpu


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


def train_epoch(
    model: nn.Module,
    loader: Iterable,
    optimizer: torch.optim.Optimizer,
    objective: ELBOLoss | None,
    data: LoadedDataset,
) -> tuple[float, float]:
    """One pass over ``loader`` with an optimizer step per batch; mean loss and the metric on the fly.

    ``objective`` ``None`` trains on plain cross-entropy. Raises :class:`NonFiniteLoss`
    as soon as a batch's loss is NaN or infinite, and ``ValueError`` for a batch
    without graphs or one whose input features are NaN or infinite: neither is a
    diverging training.
    """
    model.train()
    total_loss, outputs, targets = 0.0, [], []
    for number, batch in enumerate(loader, start=1):
        if batch.num_graphs == 0:  # its mean loss would be a silent NaN
            raise ValueError(f"{data.name}: training batch {number} holds no graphs; the loader yields empty batches")
        optimizer.zero_grad()
        logits = _graph_logits(model, batch)
        target = _target(batch)
        loss = F.cross_entropy(logits, target) if objective is None else objective(model, logits, target).total
        if not torch.isfinite(loss):
            # Checked only now, so that finite batches pay nothing: NaN inputs are no divergence to record.
            check_finite_features(batch.x, f"{data.name}: training batch {number}", batch.get("ptr"))
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
        outputs.append(_graph_logits(model, batch))
        targets.append(_target(batch))
    logits, target = torch.cat(outputs), torch.cat(targets)
    return F.cross_entropy(logits, target).item(), score(logits, target, data)


def _graph_logits(model: nn.Module, batch) -> Tensor:
    """A batch's logits, as every model is called: ``model(x, edge_index, batch, num_graphs)``, one row a graph.

    A model that returns another shape (node outputs not pooled, a class named
    by path that breaks the contract) raises a ``ValueError`` that says so.
    """
    logits = model(batch.x, batch.edge_index, batch.batch, batch.num_graphs)
    if logits.dim() != 2 or logits.size(0) != batch.num_graphs:
        raise ValueError(
            f"{type(model).__name__} returned logits of shape {tuple(logits.shape)} for a batch of "
            f"{batch.num_graphs} graphs; expected (num_graphs, num_classes)"
        )
    return logits


def score(logits: Tensor, target: Tensor, data: LoadedDataset) -> float:
    """Accuracy, or ROC-AUC through the dataset's OGB evaluator."""
    if data.metric == "accuracy":
        return (logits.argmax(-1) == target).float().mean().item()
    positive = logits.softmax(-1)[:, 1:2]
    result = data.evaluator.eval({"y_true": target.view(-1, 1).cpu().numpy(), "y_pred": positive.cpu().numpy()})
    return float(result[data.metric])


def _target(batch) -> Tensor:
    return batch.y.view(-1).long()


class _Loaders:
    """Builds the train/evaluation loaders of one run, in memory or with PyG's DataLoader."""

    def __init__(
        self, data: LoadedDataset, kind: str, batch_size: int, generator: torch.Generator, device: torch.device
    ) -> None:
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
            return InMemoryLoader(self.store, list(index), self.batch_size, shuffle=shuffle, generator=self.generator)
        subset = self.data.dataset[list(index)]
        return _OnDevice(DataLoader(subset, self.batch_size, shuffle=shuffle, generator=self.generator), self.device)


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
