"""Training speed of adaptive-width GNNs against upstream PyG models of the same widths.

Three measurements, printed as Markdown tables (raw numbers in ``--out/speed.json``,
throughput bars in ``--out/speed.png``):

1. **Throughput.** A full training step of ``AdaptiveGINClassifier`` and
   ``AdaptiveGCNClassifier`` (forward, ELBO loss, backward, Adam step, width
   update through ``awgnn.auto_update_widths``) against the same model frozen by
   ``awgnn.freeze`` into upstream ``GINConv``/``GCNConv`` modules of the same
   widths, trained with cross-entropy and Adam; then inference. Two ablations
   split the difference: the adaptive model without width updates, and
   without width updates nor weight prior (cross-entropy). Every phase of each
   step is timed, and a TorchDispatchMode counts the aten operators per step.
2. **Resize cost.** ``awgnn.update_widths`` when every layer's width changes
   (forced by nudging the raw rates) against when none does; then, over a
   real training run, the number of resize events and the share of the
   training time spent in width updates.
3. **torch.compile**. Training the adaptive GIN (a) as its
   frozen form compiled, (b) compiled with ``dynamic=True`` and
   ``force_parameter_static_shapes=False`` (also with
   ``allow_unspec_int_on_nn_module=True``), (c) compiled with a raised recompile
   limit, each side by side with the eager adaptive GIN. Compilations are
   counted and the time per epoch includes them; every compilation starts cold
   (Inductor's on-disk caches off), and an option still running after
   ``--compile-cap`` seconds is stopped there.

Contenders are timed side by side in one process, interleaved batch by batch
with their order rotating, so that a drift of the machine's speed (other
processes, clock changes) falls on all of them alike. Mini-batches are assembled
up front by ``InMemoryLoader`` on the device, so batching is not timed, except in
the training runs of parts 2 and 3, which iterate the loader as training does.

Example::

    python benchmarks/speed.py --data-root ../shared/data

``--smoke`` runs MUTAG with one round, one epoch and part 3 with Dynamo's
``eager`` backend (tracing and guards, no code generation), to check the
script in seconds.
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager, ExitStack
from dataclasses import dataclass, field
from itertools import chain, repeat, takewhile
from pathlib import Path
from typing import Any, TypeVar

import torch
import torch._dynamo
import torch._functorch.config
import torch._inductor.config
import torch.nn.functional as F
from common import (
    base_parser,
    dataset_and_split,
    header,
    markdown_table,
    mean_std,
    plt,
    positive_int,
    save_figure,
    setup,
    stopwatch,
)
from torch import Tensor, nn
from torch._dynamo.utils import counters
from torch.utils._python_dispatch import TorchDispatchMode
from torch_geometric.data import Batch

import awgnn
from awgnn.harness.batching import GraphStore, InMemoryLoader
from awgnn.harness.data import LoadedDataset
from awgnn.harness.train import resolve_device
from awgnn.models import AdaptiveGCNClassifier, AdaptiveGINClassifier
from awgnn.width.adaptive_width import AdaptiveWidth
from awgnn.width.training import WidthUpdateHandle, adaptive_widths

MODEL_CLASSES = {"GIN": AdaptiveGINClassifier, "GCN": AdaptiveGCNClassifier}
COMPILED_MODEL = "GIN"  # the adaptive GCN adds self-loops inside forward, a graph break
LEARNING_RATE = 0.01  # the AWN graph experiments' Adam learning rate
# Targets of issue #12, adaptive over fixed: step time below / from batch 128, aten operators per step, inference.
STEP_TARGETS = (1.10, 1.05)
LARGE_BATCH = 128
OPERATOR_TARGET = 1.25
INFERENCE_TARGET = 1.05
TARGET_SHARE = 0.05  # share of the training time spent in width updates
RATE_NUDGE = 0.05  # raw-rate shift forcing a resize: widths change by a factor of about exp(0.05)
WARM_UP_STEPS = 5  # training steps before the resize timings, so that Adam has moments to resize
COUNTED_STEPS = 5  # steps per contender whose operators are counted
LISTED_OPERATORS = 8  # operators listed with the largest count increase over the fixed step
RECOMPILE_LIMIT = "recompile_limit" if hasattr(torch._dynamo.config, "recompile_limit") else "cache_size_limit"

FULL = "adaptive (full step)"
NO_UPDATE = "adaptive, no width update"
NO_PRIOR = "adaptive, no width update, CE loss"
FIXED = "fixed (frozen, upstream PyG)"
WIDTH_HOOKS = ("width check", "width update")  # auto_update_widths' hooks: before and after the step
PHASES = ("forward", "loss", "backward", "optimizer", *WIDTH_HOOKS)

Objective = Callable[[Tensor, Tensor], Tensor]
Item = TypeVar("Item")
Contestant = TypeVar("Contestant")
Result = TypeVar("Result")


# -- workload and contenders ------------------------------------------------------------------------


@dataclass(frozen=True)
class Workload:
    """The training split of a dataset, held on the device as one graph store."""

    data: LoadedDataset
    train: tuple[int, ...]
    store: GraphStore
    device: torch.device

    @classmethod
    def load(cls, name: str, data_root: str | None, device: torch.device, seed: int) -> Workload:
        data, fold = dataset_and_split(name, data_root, seed)
        return cls(data, tuple(fold.train), GraphStore.from_dataset(data.dataset).to(device), device)

    def loader(self, batch_size: int, seed: int) -> InMemoryLoader:
        """Shuffled mini-batches of the training split, in a new seeded order every epoch."""
        return InMemoryLoader(
            self.store, self.train, batch_size, shuffle=True, generator=torch.Generator().manual_seed(seed)
        )

    def batches(self, batch_size: int, seed: int) -> list[Batch]:
        """One epoch of mini-batches, assembled before any timing."""
        return list(self.loader(batch_size, seed))

    def adaptive_model(self, kind: str, seed: int, **arguments: Any) -> nn.Module:
        """A freshly initialised adaptive classifier (``"GIN"`` or ``"GCN"``), default settings but ``arguments``."""
        torch.manual_seed(seed)
        return MODEL_CLASSES[kind](self.data.num_features, self.data.num_classes, **arguments).to(self.device)


class HookTimer:
    """Seconds spent between its ``start`` and ``stop`` optimizer step hooks (device synchronised)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._watch: AbstractContextManager[Callable[[], float]] | None = None
        self._elapsed: Callable[[], float] = lambda: 0.0

    def start(self, optimizer: torch.optim.Optimizer, args: tuple, kwargs: dict) -> None:
        self._watch = stopwatch()
        self._elapsed = self._watch.__enter__()

    def stop(self, optimizer: torch.optim.Optimizer, args: tuple, kwargs: dict) -> None:
        assert self._watch is not None, "stop hook ran without its start hook"
        self._watch.__exit__(None, None, None)
        self.seconds += self._elapsed()


def timed_width_updates(
    model: nn.Module, optimizer: torch.optim.Optimizer
) -> tuple[WidthUpdateHandle, dict[str, HookTimer]]:
    """``awgnn.auto_update_widths`` with a timer around each of its hooks.

    The timers are keyed by :data:`WIDTH_HOOKS`: the optimizer-state check
    before each step and the width update after it.
    """
    timers = {name: HookTimer() for name in WIDTH_HOOKS}
    check, update = timers.values()
    # Step hooks run in registration order: each timer starts before auto_update_widths' hook and stops after it.
    optimizer.register_step_pre_hook(check.start)
    optimizer.register_step_post_hook(update.start)
    handle = awgnn.auto_update_widths(model, optimizer)
    optimizer.register_step_pre_hook(check.stop)
    optimizer.register_step_post_hook(update.stop)
    return handle, timers


@dataclass
class Contender:
    """A model with its optimizer and objective, trained one timed step at a time.

    ``forward_module`` is what the step calls: the model itself or a compiled
    wrapper of it.
    """

    name: str
    model: nn.Module
    optimizer: torch.optim.Optimizer
    objective: Objective
    width_handle: WidthUpdateHandle | None = None
    width_timers: dict[str, HookTimer] = field(default_factory=dict)
    forward_module: nn.Module | None = None

    def train_step(self, batch: Batch) -> dict[str, float]:
        """One training step; the seconds of each of :data:`PHASES`.

        ``optimizer`` covers ``step()`` and ``zero_grad()`` without the hooks
        of ``auto_update_widths``, which are timed apart (:data:`WIDTH_HOOKS`).
        """
        module = self.model if self.forward_module is None else self.forward_module
        with stopwatch() as forward:
            logits = module(batch.x, batch.edge_index, batch.batch, batch.num_graphs)
        with stopwatch() as loss_time:
            loss = self.objective(logits, batch.y.view(-1))
        with stopwatch() as backward:
            loss.backward()
        hooks_before = self.width_seconds()
        with stopwatch() as step:
            self.optimizer.step()
            self.optimizer.zero_grad()
        hooks_after = self.width_seconds()
        hooks = {name: hooks_after[name] - hooks_before[name] for name in WIDTH_HOOKS}
        return {
            "forward": forward(),
            "loss": loss_time(),
            "backward": backward(),
            "optimizer": step() - sum(hooks.values()),
            **hooks,
        }

    def width_seconds(self) -> dict[str, float]:
        """Time spent in each width-update hook so far (zero without width updates)."""
        return {name: self.width_timers[name].seconds if name in self.width_timers else 0.0 for name in WIDTH_HOOKS}

    def resized_last_step(self) -> int:
        """Number of layers whose width changed after the latest step."""
        return 0 if self.width_handle is None else len(self.width_handle.last_changes)


def elbo_objective(model: nn.Module, n_observations: int) -> Objective:
    """The ELBO total (data term plus weight prior) as adaptive models are trained."""
    elbo = awgnn.ELBOLoss(n_observations)
    return lambda logits, target: elbo(model, logits, target).total


def contender(name: str, model: nn.Module, n_observations: int | None = None, update_widths: bool = False) -> Contender:
    """``model`` trained by Adam on the ELBO when ``n_observations`` is given, else on cross-entropy."""
    optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
    objective = F.cross_entropy if n_observations is None else elbo_objective(model, n_observations)
    handle, timers = timed_width_updates(model, optimizer) if update_widths else (None, {})
    return Contender(name, model, optimizer, objective, handle, timers)


def round_contenders(adaptive: Contender, n_observations: int, warm_up: Batch) -> list[Contender]:
    """The adaptive contender and, built from its current state, what it is compared with.

    The fixed model is ``awgnn.freeze`` of the adaptive one: upstream modules
    of the same realised widths. The ablations are copies of the adaptive
    model without width updates, with and without the weight prior. Each takes
    one untimed step, so that its optimizer state exists when timing starts.
    """
    others = [
        contender(NO_UPDATE, copy.deepcopy(adaptive.model), n_observations),
        contender(NO_PRIOR, copy.deepcopy(adaptive.model)),
        contender(FIXED, awgnn.freeze(adaptive.model)),
    ]
    for other in others:
        other.train_step(warm_up)
    return [adaptive, *others]


def interleaved(
    contestants: Sequence[Contestant], items: Iterable[Item], run: Callable[[Contestant, Item], Result]
) -> list[list[Result]]:
    """``run(contestant, item)`` for every item and contestant, the contestants' order rotating per item.

    Returns one list of results per contestant, in item order.
    """
    results: list[list[Result]] = [[] for _ in contestants]
    for index, item in enumerate(items):
        for offset in range(len(contestants)):
            position = (index + offset) % len(contestants)
            results[position].append(run(contestants[position], item))
    return results


def summed(phases: Sequence[Mapping[str, float]]) -> dict[str, float]:
    """Per-phase sums of per-step phase times."""
    return {phase: sum(step[phase] for step in phases) for phase in PHASES}


@torch.no_grad()
def forward_seconds(model: nn.Module, batch: Batch) -> float:
    """Time of one inference forward pass."""
    with stopwatch() as elapsed:
        model(batch.x, batch.edge_index, batch.batch, batch.num_graphs)
    return elapsed()


class OperatorCounter(TorchDispatchMode):
    """Counts the aten operators dispatched while active, backward and optimizer included."""

    def __init__(self) -> None:
        super().__init__()
        self.counts: Counter[str] = Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if func.namespace == "aten":
            self.counts[func.overloadpacket.__name__] += 1
        return func(*args, **(kwargs or {}))


def operators_per_step(trainee: Contender, batches: Sequence[Batch]) -> dict[str, float]:
    """Mean number of each aten operator a training step dispatches.

    The models are small, so a step's time follows its operator count more
    than its arithmetic; counts, unlike times, do not depend on the machine's load.
    """
    with OperatorCounter() as counter:
        for batch in batches:
            trainee.train_step(batch)
    return {name: count / len(batches) for name, count in counter.counts.most_common()}


# -- part 1: throughput ------------------------------------------------------------------------------


def throughput(workload: Workload, kind: str, batch_size: int, rounds: int, seed: int) -> dict[str, Any]:
    """Training rounds (one epoch each) of the four contenders, then inference of adaptive vs frozen."""
    batches = workload.batches(batch_size, seed)
    n_observations = len(workload.train)
    adaptive = contender(FULL, workload.adaptive_model(kind, seed), n_observations, update_widths=True)
    adaptive.train_step(batches[0])  # untimed: creates Adam's state
    training = []
    for _ in range(rounds):
        start_width = awgnn.total_width(adaptive.model)
        contenders = round_contenders(adaptive, n_observations, batches[0])
        phases = interleaved(contenders, batches, Contender.train_step)
        training.append(
            {
                "total_width": [start_width, awgnn.total_width(adaptive.model)],
                "seconds": {c.name: summed(p) for c, p in zip(contenders, phases)},
            }
        )
    operators = {c.name: operators_per_step(c, batches[:COUNTED_STEPS]) for c in contenders}
    return {
        "model": kind,
        "batch_size": batch_size,
        "graphs": sum(b.num_graphs for b in batches),
        "steps": len(batches),
        "training": training,
        "operators_per_step": operators,
        "inference": inference(adaptive.model, batches, rounds),
    }


def inference(model: nn.Module, batches: Sequence[Batch], rounds: int) -> list[dict[str, float]]:
    """Seconds per round of eval-mode forward passes, adaptive model vs its frozen form."""
    models = {"adaptive": model, "fixed": awgnn.freeze(model)}
    for module in models.values():
        module.eval()
    seconds = []
    for _ in range(rounds):
        times = interleaved(list(models.values()), batches, forward_seconds)
        seconds.append({name: sum(t) for name, t in zip(models, times)})
    model.train()
    return seconds


def step_totals(result: Mapping[str, Any], name: str) -> list[float]:
    """Training seconds of contender ``name`` in each round."""
    return [sum(r["seconds"][name].values()) for r in result["training"]]


def step_ms(result: Mapping[str, Any], name: str, phase: str | None = None) -> float:
    """Mean milliseconds per step of contender ``name`` (one phase, or all)."""
    phases = PHASES if phase is None else (phase,)
    total = sum(r["seconds"][name][p] for r in result["training"] for p in phases)
    return 1e3 * total / (result["steps"] * len(result["training"]))


def graphs_per_second(result: Mapping[str, Any], seconds: Sequence[float]) -> int:
    """Graphs per second over rounds taking ``seconds`` each (one epoch of ``result``'s batches per round)."""
    return round(result["graphs"] * len(seconds) / sum(seconds))


def ratios(numerators: Sequence[float], denominators: Sequence[float]) -> list[float]:
    return [a / b for a, b in zip(numerators, denominators)]


def label(result: Mapping[str, Any]) -> list[Any]:
    return [result["model"], result["batch_size"]]


def step_target(batch_size: int) -> float:
    """The adaptive / fixed step-time target at ``batch_size`` graphs."""
    return STEP_TARGETS[batch_size >= LARGE_BATCH]


def operator_ratio(operators: Mapping[str, Mapping[str, float]]) -> float:
    """aten operators per full adaptive step over the fixed step's (``operators``: per contender, per operator)."""
    return sum(operators[FULL].values()) / sum(operators[FIXED].values())


def training_table(results: Sequence[Mapping[str, Any]]) -> str:
    rows = []
    for r in results:
        adaptive, fixed = step_totals(r, FULL), step_totals(r, FIXED)
        ratio = ratios(adaptive, fixed)
        widths = f"{r['training'][0]['total_width'][0]} → {r['training'][-1]['total_width'][1]}"
        rows.append(
            [
                *label(r),
                graphs_per_second(r, adaptive),
                graphs_per_second(r, fixed),
                mean_std(ratio),
                "yes" if statistics.fmean(ratio) <= step_target(r["batch_size"]) else "no",
                widths,
            ]
        )
    return (
        f"**Training throughput** (graphs/s; ratio = adaptive / fixed step time per round, mean ± std over "
        f"rounds; target ≤ {STEP_TARGETS[0]} below batch {LARGE_BATCH}, ≤ {STEP_TARGETS[1]} from it):\n\n"
        + markdown_table(
            [
                "model",
                "batch",
                "adaptive",
                "fixed",
                "time ratio",
                "target met",
                "adaptive total width (first → last round)",
            ],
            rows,
        )
    )


def inference_table(results: Sequence[Mapping[str, Any]]) -> str:
    rows = []
    for r in results:
        adaptive, fixed = ([s[side] for s in r["inference"]] for side in ("adaptive", "fixed"))
        rows.append(
            [*label(r), graphs_per_second(r, adaptive), graphs_per_second(r, fixed), mean_std(ratios(adaptive, fixed))]
        )
    return (
        "**Inference throughput** (graphs/s, eval mode, no grad; the fixed model is the frozen adaptive "
        "one):\n\n" + markdown_table(["model", "batch", "adaptive", "fixed", "time ratio"], rows)
    )


def phase_table(results: Sequence[Mapping[str, Any]]) -> str:
    rows = [
        [*label(r), name, *(step_ms(r, name, p) for p in PHASES), step_ms(r, name)]
        for r in results
        for name in (FULL, NO_UPDATE, NO_PRIOR, FIXED)
    ]
    return (
        "**Where a training step's time goes** (ms per step, mean over rounds; optimizer = Adam step and "
        "zero_grad; width check / width update = auto_update_widths' hooks before / after the step):\n\n"
        + markdown_table(["model", "batch", "contender", *PHASES, "total"], rows)
    )


def overhead_table(results: Sequence[Mapping[str, Any]]) -> str:
    rows = []
    for r in results:
        base = step_ms(r, FIXED)
        parts = [
            step_ms(r, NO_PRIOR) - base,
            step_ms(r, NO_UPDATE) - step_ms(r, NO_PRIOR),
            step_ms(r, FULL) - step_ms(r, NO_UPDATE),
        ]
        rows.append(
            [
                *label(r),
                base,
                *(f"{p:.2f} ({p / base:+.0%})" for p in parts),
                f"{sum(parts):.2f} ({sum(parts) / base:+.0%})",
                " + ".join(f"{step_ms(r, FULL, hook):.2f}" for hook in WIDTH_HOOKS),
            ]
        )
    return (
        "**Overhead of the adaptive step over the fixed one** (ms per step, from the ablations: adaptive "
        "layers = importance vectors and scaling, i.e. no-update CE − fixed; weight prior = no-update − "
        "no-update CE; width updates = full − no-update; last column: auto_update_widths' check and update "
        "hooks timed directly):\n\n"
        + markdown_table(
            [
                "model",
                "batch",
                "fixed step",
                "adaptive layers",
                "weight prior",
                "width updates",
                "total overhead",
                "check + update hooks",
            ],
            rows,
        )
    )


def added_operators(result: Mapping[str, Any]) -> str:
    """The operators whose count per step grows most from the fixed to the full adaptive step."""
    full, fixed = result["operators_per_step"][FULL], result["operators_per_step"][FIXED]
    added = {name: count - fixed.get(name, 0.0) for name, count in full.items()}
    largest = sorted(added.items(), key=lambda item: -item[1])[:LISTED_OPERATORS]
    return ", ".join(f"{name} +{count:.0f}" for name, count in largest if count > 0)


def operator_table(results: Sequence[Mapping[str, Any]]) -> str:
    rows = []
    for r in results:
        rows += [
            [*label(r), name, round(sum(r["operators_per_step"][name].values()))]
            for name in (FULL, NO_UPDATE, NO_PRIOR, FIXED)
        ]
        rows.append([*label(r), "operators added by the full adaptive step", added_operators(r)])
    return (
        f"**aten operators dispatched per training step** (forward, backward and optimizer, counted by a "
        f"TorchDispatchMode over {COUNTED_STEPS} steps each):\n\n"
        + markdown_table(["model", "batch", "contender", "aten operators / step"], rows)
    )


def goals_table(results: Sequence[Mapping[str, Any]]) -> str:
    """Each model and batch size against the targets: step time, aten operators and inference, adaptive / fixed."""

    def verdict(value: float, target: float) -> str:
        return f"{value:.3f} (≤ {target}: {'yes' if value <= target else 'no'})"

    rows = []
    for r in results:
        step = statistics.fmean(ratios(step_totals(r, FULL), step_totals(r, FIXED)))
        inference = statistics.fmean(ratios(*([s[side] for s in r["inference"]] for side in ("adaptive", "fixed"))))
        rows.append(
            [
                *label(r),
                verdict(step, step_target(r["batch_size"])),
                verdict(operator_ratio(r["operators_per_step"]), OPERATOR_TARGET),
                verdict(inference, INFERENCE_TARGET),
            ]
        )
    return (
        "**Goals** (adaptive / fixed: training step time, aten operators per training step, inference time; "
        "target met in brackets):\n\n"
        + markdown_table(["model", "batch", "step time", "aten operators", "inference time"], rows)
    )


def throughput_tables(results: Sequence[Mapping[str, Any]]) -> str:
    return "\n\n".join(
        table(results)
        for table in (goals_table, training_table, inference_table, phase_table, overhead_table, operator_table)
    )


# -- part 2: resize cost ------------------------------------------------------------------------------


@torch.no_grad()
def nudge_rates(widths: Sequence[AdaptiveWidth], delta: float) -> None:
    """Shift every raw rate by ``delta``; for small rates lambda ≈ e^w, so each width changes by about e^-delta."""
    for width in widths:
        width.raw_rate.add_(delta)


def resize_cost(workload: Workload, kind: str, batch_size: int, repeats: int, seed: int) -> dict[str, Any]:
    """``update_widths`` calls that resize every layer against calls that resize none, interleaved.

    The model first trains a few steps so that Adam holds moments, which a
    resize carries over. Forced resizes alternate between growing and
    shrinking, so widths stay near their trained values.
    """
    batches = workload.batches(batch_size, seed)
    trainee = contender(FULL, workload.adaptive_model(kind, seed), len(workload.train), update_widths=True)
    for batch in batches[:WARM_UP_STEPS]:
        trainee.train_step(batch)
    trainee.width_handle.remove()
    widths = [width for _, width in adaptive_widths(trainee.model)]

    def update(case: str, repeat: int) -> dict[str, float]:
        if case == "resize":
            nudge_rates(widths, RATE_NUDGE if repeat % 2 else -RATE_NUDGE)
        with stopwatch() as elapsed:
            changes = awgnn.update_widths(trainee.model, trainee.optimizer)
        return {"seconds": elapsed(), "layers": len(changes), "neurons": sum(abs(c.new - c.old) for c in changes)}

    unchanged, resized = interleaved(["no change", "resize"], range(repeats), update)
    return {
        "model": kind,
        "adaptive_layers": len(widths),
        "parameters": trainee.model.num_parameters(),
        "no_change": unchanged,
        "resize": resized,
    }


def training_run(workload: Workload, kind: str, batch_size: int, epochs: int, seed: int) -> dict[str, Any]:
    """A plain training run with auto_update_widths: resize events and time spent in width updates."""
    trainee = contender(FULL, workload.adaptive_model(kind, seed), len(workload.train), update_widths=True)
    loader = workload.loader(batch_size, seed)
    resized = []
    with stopwatch() as elapsed:
        for batch in chain.from_iterable(repeat(loader, epochs)):
            trainee.train_step(batch)
            resized.append(trainee.resized_last_step())
    return {
        "model": kind,
        "batch_size": batch_size,
        "epochs": epochs,
        "steps": len(resized),
        "resize_events": sum(n > 0 for n in resized),
        "layer_resizes": sum(resized),
        "seconds": elapsed(),
        "hook_seconds": trainee.width_seconds(),
        "final_widths": trainee.model.layer_widths(),
    }


def resize_cost_table(costs: Sequence[Mapping[str, Any]]) -> str:
    rows = []
    for c in costs:
        no_change = [1e3 * u["seconds"] for u in c["no_change"]]
        resize = [1e3 * u["seconds"] for u in c["resize"]]
        layers = statistics.fmean(u["layers"] for u in c["resize"])
        per_layer = (statistics.fmean(resize) - statistics.fmean(no_change)) / layers
        rows.append(
            [
                c["model"],
                c["adaptive_layers"],
                c["parameters"],
                mean_std(no_change),
                mean_std(resize),
                layers,
                statistics.fmean(u["neurons"] for u in c["resize"]),
                per_layer,
                sum(u["layers"] for u in c["no_change"]),
            ]
        )
    return (
        f"**Cost of one `update_widths` call** (ms, mean ± std; a resize is forced by shifting every raw rate "
        f"by ±{RATE_NUDGE}, alternately growing and shrinking):\n\n"
        + markdown_table(
            [
                "model",
                "adaptive layers",
                "parameters",
                "no change",
                "every layer resized",
                "layers resized / call",
                "neurons moved / call",
                "ms per layer resized",
                "changes in no-change calls",
            ],
            rows,
        )
    )


def training_run_table(runs: Sequence[Mapping[str, Any]]) -> str:
    rows = []
    for r in runs:
        share = sum(r["hook_seconds"].values()) / r["seconds"]
        rows.append(
            [
                r["model"],
                r["batch_size"],
                r["epochs"],
                r["steps"],
                r["resize_events"],
                r["layer_resizes"],
                r["seconds"],
                *(r["hook_seconds"][hook] for hook in WIDTH_HOOKS),
                f"{share:.1%}",
                "yes" if share < TARGET_SHARE else "no",
                ", ".join(f"{k}={v}" for k, v in r["final_widths"].items()),
            ]
        )
    return (
        f"**Width updates in a training run** (auto_update_widths' hooks: the optimizer-state check before "
        f"and the width update after each step; share = both over the training time, which includes "
        f"batching; target < {TARGET_SHARE:.0%}):\n\n"
        + markdown_table(
            [
                "model",
                "batch",
                "epochs",
                "steps",
                "steps with a resize",
                "layer resizes",
                "training s",
                "check s",
                "update s",
                "share",
                "target met",
                "final widths",
            ],
            rows,
        )
    )


# -- part 3: torch.compile ----------------------------------------------------------------------------


@dataclass(frozen=True)
class CompileOption:
    """One way of training the adaptive GIN under torch.compile (always with ``dynamic=True``)."""

    name: str
    frozen: bool = False
    dynamo_config: Mapping[str, Any] = field(default_factory=dict)


COMPILE_OPTIONS = (
    CompileOption("(a) frozen model compiled (widths settled)", frozen=True),
    CompileOption("(b) force_parameter_static_shapes=False", dynamo_config={"force_parameter_static_shapes": False}),
    CompileOption(
        "(b) + allow_unspec_int_on_nn_module=True",
        dynamo_config={"force_parameter_static_shapes": False, "allow_unspec_int_on_nn_module": True},
    ),
    CompileOption(f"(c) {RECOMPILE_LIMIT}=1000", dynamo_config={RECOMPILE_LIMIT: 1000}),
)


def cold_compile_settings(option: CompileOption) -> ExitStack:
    """The option's Dynamo settings, with Inductor's and AOTAutograd's on-disk caches off.

    Without the caches every compilation starts from scratch, so no option
    profits from kernels compiled by an earlier option or an earlier run.
    """
    stack = ExitStack()
    stack.enter_context(torch._dynamo.config.patch(dict(option.dynamo_config)))
    stack.enter_context(torch._inductor.config.patch(fx_graph_cache=False))
    stack.enter_context(torch._functorch.config.patch(enable_autograd_cache=False))
    return stack


def timed_step(trainee: Contender, batch: Batch) -> tuple[float, int]:
    """Seconds of one training step and the number of layers it resized."""
    return sum(trainee.train_step(batch).values()), trainee.resized_last_step()


def compile_run(
    workload: Workload, option: CompileOption, batch_size: int, epochs: int, cap_seconds: float, backend: str, seed: int
) -> dict[str, Any]:
    """Train the compiled adaptive GIN (or its frozen form) side by side with the eager adaptive GIN.

    Both train on the same batches, interleaved step by step, for ``epochs``
    epochs or until ``cap_seconds`` have passed; the eager twin is the
    reference that each option's time is compared with.
    """
    torch._dynamo.reset()
    counters.clear()
    model = workload.adaptive_model(COMPILED_MODEL, seed)
    n_observations = len(workload.train)
    trainee = (
        contender(option.name, awgnn.freeze(model))
        if option.frozen
        else contender(option.name, model, n_observations, update_widths=True)
    )
    trainee.forward_module = torch.compile(trainee.model, dynamic=True, backend=backend)
    eager = contender("eager", workload.adaptive_model(COMPILED_MODEL, seed), n_observations, update_widths=True)
    loader = workload.loader(batch_size, seed)
    with cold_compile_settings(option), stopwatch() as elapsed:
        batches = takewhile(lambda _: elapsed() <= cap_seconds, chain.from_iterable(repeat(loader, epochs)))
        compiled_steps, eager_steps = interleaved([trainee, eager], batches, timed_step)
    limit_hits = sum(
        count
        for reason, count in counters["unimplemented"].items()
        if "recompile limit" in reason.lower() or "cache_size_limit" in reason
    )
    return {
        "option": option.name,
        "steps": len(compiled_steps),
        "steps_per_epoch": len(loader),
        "capped": len(compiled_steps) < epochs * len(loader),
        "step_seconds": [seconds for seconds, _ in compiled_steps],
        "eager_step_seconds": [seconds for seconds, _ in eager_steps],
        "resize_events": sum(layers > 0 for _, layers in compiled_steps),
        "compilations": counters["frames"]["ok"],
        "recompile_limit_hits": limit_hits,
    }


def compile_table(results: Sequence[Mapping[str, Any]], cap_seconds: float) -> str:
    rows = []
    for r in results:
        seconds, eager = sum(r["step_seconds"]), sum(r["eager_step_seconds"])
        per_epoch = seconds * r["steps_per_epoch"] / r["steps"]
        rows.append(
            [
                r["option"],
                r["steps"],
                r["resize_events"],
                r["compilations"],
                r["recompile_limit_hits"],
                seconds,
                f"{per_epoch:.3g}" + (" (extrapolated)" if r["capped"] else ""),
                eager * r["steps_per_epoch"] / r["steps"],
                f"{seconds / eager:.2f}",
                f"{1e3 * statistics.median(r['step_seconds']):.1f}",
                f"{1e3 * statistics.median(r['eager_step_seconds']):.1f}",
            ]
        )
    return (
        f"**Training the adaptive {COMPILED_MODEL} under torch.compile** (dynamic=True; each option trains "
        f"side by side with the eager adaptive {COMPILED_MODEL}, interleaved step by step on the same batches; "
        f"compilations = Dynamo frames compiled, the first included; times include compilation; an option is "
        f"stopped after {cap_seconds:.0f} s of wall time, and its per-epoch time is then extrapolated from "
        f"the steps it ran; median step ≈ the steady state):\n\n"
        + markdown_table(
            [
                "option",
                "steps",
                "resize events",
                "compilations",
                "recompile-limit hits",
                "compiled s",
                "compiled s / epoch",
                "eager s / epoch",
                "time ratio to eager",
                "median step ms",
                "eager median step ms",
            ],
            rows,
        )
    )


# -- report ---------------------------------------------------------------------------------------------


def plot(results: Sequence[Mapping[str, Any]], path: Path) -> None:
    """Training and inference throughput bars, adaptive vs fixed, per model and batch size."""
    labels = [f"{r['model']}\nbatch {r['batch_size']}" for r in results]
    positions = range(len(results))
    figure, axes = plt.subplots(1, 2, figsize=(11, 4))
    for axis, mode in zip(axes, ("training", "inference")):
        for offset, (side, name) in zip((-0.2, 0.2), (("adaptive", FULL), ("fixed", FIXED))):
            if mode == "training":
                values = [graphs_per_second(r, step_totals(r, name)) for r in results]
            else:
                values = [graphs_per_second(r, [s[side] for s in r["inference"]]) for r in results]
            axis.bar([p + offset for p in positions], values, 0.4, label=side)
        axis.set_xticks(list(positions), labels)
        axis.set_ylabel("graphs / s")
        axis.set_title(f"{mode} throughput")
        axis.legend()
    save_figure(figure, path)


def parse_arguments(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    parser.add_argument("--dataset", default="NCI1", help="TU dataset (default NCI1)")
    parser.add_argument("--batch-sizes", type=positive_int, nargs="+", default=[32, 128])
    parser.add_argument(
        "--rounds", type=positive_int, default=5, help="interleaved epochs per throughput measurement (default 5)"
    )
    parser.add_argument(
        "--resize-repeats",
        type=positive_int,
        default=50,
        help="update_widths calls per case in the resize timing (default 50)",
    )
    parser.add_argument(
        "--epochs",
        type=positive_int,
        default=3,
        help="epochs of the training run that counts resize events (default 3)",
    )
    parser.add_argument(
        "--compile-epochs", type=positive_int, default=2, help="epochs per torch.compile option (default 2)"
    )
    parser.add_argument(
        "--compile-cap",
        type=float,
        default=150.0,
        help="seconds after which a torch.compile option is stopped (default 150)",
    )
    parser.add_argument("--compile-backend", default="inductor", help="torch.compile backend (default inductor)")
    parser.add_argument("--skip-compile", action="store_true", help="skip part 3 (torch.compile)")
    parser.add_argument("--seed", type=int, default=0)
    arguments = parser.parse_args(argv)
    if arguments.smoke:
        arguments.dataset = "MUTAG"
        arguments.rounds = arguments.epochs = arguments.compile_epochs = 1
        arguments.resize_repeats = 4
        arguments.compile_cap = 3.0
        arguments.compile_backend = "eager"
    return arguments


def main(argv: Sequence[str] | None = None) -> None:
    arguments = parse_arguments(argv)
    out = setup(arguments)
    device = resolve_device(arguments.device)
    workload = Workload.load(arguments.dataset, arguments.data_root, device, arguments.seed)
    report: dict[str, Any] = {
        "arguments": {k: str(v) if isinstance(v, Path) else v for k, v in vars(arguments).items()}
    }
    setting = (
        f"{arguments.dataset}, {len(workload.train)} training graphs, {device}, "
        f"{arguments.threads} thread(s), Adam lr {LEARNING_RATE}, default model settings."
    )

    report["throughput"] = [
        throughput(workload, kind, batch_size, arguments.rounds, arguments.seed)
        for kind in MODEL_CLASSES
        for batch_size in arguments.batch_sizes
    ]
    print(header("Speed 1: adaptive vs fixed-width training and inference throughput"))
    print(
        f"{setting} {arguments.rounds} round(s) of one epoch; the contenders alternate batch by batch; "
        "the fixed model is refrozen from the adaptive one at the start of every round.\n"
    )
    print(throughput_tables(report["throughput"]), "\n", flush=True)

    batch_size = arguments.batch_sizes[0]
    report["resize_cost"] = [
        resize_cost(workload, kind, batch_size, arguments.resize_repeats, arguments.seed) for kind in MODEL_CLASSES
    ]
    report["training_run"] = [
        training_run(workload, kind, batch_size, arguments.epochs, arguments.seed) for kind in MODEL_CLASSES
    ]
    print(header("Speed 2: cost of resize events"))
    print(f"{setting} Batch size {batch_size}.\n")
    print(resize_cost_table(report["resize_cost"]), "\n")
    print(training_run_table(report["training_run"]), "\n", flush=True)

    if not arguments.skip_compile:
        report["compile"] = [
            compile_run(
                workload,
                option,
                batch_size,
                arguments.compile_epochs,
                arguments.compile_cap,
                arguments.compile_backend,
                arguments.seed,
            )
            for option in COMPILE_OPTIONS
        ]
        print(header("Speed 3: torch.compile options while widths change"))
        print(
            f"{setting} Batch size {batch_size}, {arguments.compile_epochs} epoch(s) per option, backend "
            f"{arguments.compile_backend}, cold compilations.\n"
        )
        print(compile_table(report["compile"], arguments.compile_cap), "\n", flush=True)

    (out / "speed.json").write_text(json.dumps(report, indent=1))
    plot(report["throughput"], out / "speed.png")
    print(f"Raw numbers: {out / 'speed.json'}; plot: {out / 'speed.png'}")


if __name__ == "__main__":
    main()
