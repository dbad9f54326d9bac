"""Runs an experiment: validate everything, then schedule the protocol's runs.

Model-selection runs of every fold are scheduled first (none for a grid of
one configuration); as soon as a fold's selection is complete, its winner's
final runs follow. Selection runs whose grid points differ only in the
early-stopping monitor are one task: one training, one record per run.
Finished runs found in the results folder are reused untouched, so the same
command resumes an interrupted experiment.
"""

from __future__ import annotations

import hashlib
import platform
import subprocess
import sys
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch_geometric
from tqdm.auto import tqdm

import awgnn
from awgnn.harness.config import ConfigError, ExperimentConfig, ModelConfig, model_arguments, training_settings
from awgnn.harness.data import LoadedDataset, load_dataset, official_split_path
from awgnn.harness.executors import Executor
from awgnn.harness.protocol import (
    SELECTION,
    UNOPPOSED,
    FoldResult,
    RunKey,
    Selection,
    final_keys,
    select_best,
    selection_keys,
    shared_trainings,
)
from awgnn.harness.registry import model_spec
from awgnn.harness.splits import Splits, load_or_create_splits
from awgnn.harness.store import ResultStore
from awgnn.harness.train import RunSettings, fit_monitors

PACKAGE = Path(awgnn.__file__).resolve().parent

# Marks a results folder whose selection runs share trainings across monitors. A folder written before
# sharing lacks it and keeps one training and seed per grid point, so that resuming it stays consistent.
SHARED_TRAININGS = "shared_trainings"


@dataclass(frozen=True)
class RunTask:
    """One training and the runs it serves (picklable, sent to other processes).

    ``keys`` and ``points`` name the runs, one per early-stopping monitor:
    grid points equal but for ``monitor``, trained once from ``seed``;
    ``code_version`` (:func:`code_version`) and ``source_digest`` (:data:`IMPORTED_SOURCE` of the
    process that planned the run, which pins the code where the checkout is dirty) go into every record.
    """

    keys: tuple[RunKey, ...]
    model_class: str
    points: tuple[dict[str, Any], ...]
    dataset: str
    features: str | None
    data_root: str
    train: tuple[int, ...]
    validation: tuple[int, ...]
    test: tuple[int, ...] | None
    settings: RunSettings
    seed: int
    code_version: str | None
    source_digest: str


class CodeMismatch(RuntimeError):
    """A worker imported other awgnn sources than the process that planned its run."""


def execute_task(task: RunTask) -> dict[str, Any]:
    """Run one task in a worker: ``{"records": [one per key]}``, or ``{"error": traceback}`` if it raised.

    Raises :class:`CodeMismatch`, which stops the experiment, when the worker's awgnn is not the
    planner's: its records would name code that did not make them.
    """
    if task.source_digest != IMPORTED_SOURCE:
        raise CodeMismatch(
            f"this worker imported awgnn sources {IMPORTED_SOURCE} but the process that planned its runs "
            f"imported {task.source_digest} (awgnn changed on disk after that process started, or a Ray "
            "worker has another install); no run was made with it. Finished runs are kept: run the same "
            "command again to continue with one version of the code."
        )
    torch.set_num_threads(1)
    try:
        data = load_dataset(task.dataset, task.data_root, task.features, download=False)
        spec = model_spec(task.model_class)
        monitors = [training_settings(point, spec.adaptive)["monitor"] for point in task.points]
        results = fit_monitors(
            data,
            task.train,
            task.validation,
            task.test,
            spec,
            model_arguments(task.points[0]),
            training_settings(task.points[0], spec.adaptive),
            task.settings,
            task.seed,
            monitors,
        )
    except Exception:
        return {"error": traceback.format_exc()}
    return {
        "records": [
            {
                **record,
                "model": key.model,
                "fold": key.fold,
                "kind": key.kind,
                "config_id": key.config_id,
                "repeat": key.repeat,
                "config": point,
                "code_version": task.code_version,
                "source_digest": task.source_digest,
            }
            for key, point, (_, record) in zip(task.keys, task.points, results)
        ]
    }


def code_version(package: Path = PACKAGE) -> str | None:
    """``git describe --always --dirty`` of the checkout holding ``package`` (awgnn's own by default).

    ``awgnn.__version__`` does not change between releases, and runs of the same seed and configuration
    differ between commits that change the numerics, so every run record names the code that made it.
    ``None`` where awgnn is not a git checkout (an installed wheel) or git is missing.
    """
    try:
        described = subprocess.run(
            ["git", "-C", str(package), "describe", "--always", "--dirty", "--abbrev=12"],
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if described.returncode != 0:
        return None
    return described.stdout.strip() or None


def source_digest(package: Path = PACKAGE) -> str:
    """A digest of the Python sources under ``package`` (each file's relative path and content)."""
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*.py")):
        digest.update(path.relative_to(package).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


# The awgnn sources as this process imported them. Spawned workers import awgnn afresh, so a worker
# started after the code changed on disk runs other code than its planner, whose records it writes.
IMPORTED_SOURCE = source_digest()


def provenance() -> dict[str, Any]:
    """Software versions and machine, stored with every experiment."""
    return {
        "versions": {
            "awgnn": awgnn.__version__,
            "torch": torch.__version__,
            "torch_geometric": torch_geometric.__version__,
            "python": platform.python_version(),
        },
        "machine": f"{platform.platform()} ({platform.processor() or platform.machine()})",
    }


class ExperimentResults:
    """The protocol's view of a results folder: selections and fold results from run records."""

    def __init__(self, config: ExperimentConfig, store: ResultStore, num_folds: int) -> None:
        self.config = config
        self.store = store
        self.num_folds = num_folds

    def model(self, name: str) -> ModelConfig:
        return next(m for m in self.config.models if m.name == name)

    def selection(self, model: str, fold: int) -> Selection | None:
        """The fold's winning configuration, once every selection run is stored."""
        keys = selection_keys(model, fold, len(self.model(model).points()))
        if not keys:
            return UNOPPOSED
        if not all(self.store.has(k) for k in keys):
            return None
        return select_best([self.store.scores(k)["val_score"] for k in keys], self.config.protocol.tie_break)

    def final_keys(self, model: str, fold: int) -> list[RunKey]:
        selection = self.selection(model, fold)
        if selection is None:
            return []
        return final_keys(model, fold, selection.config_id, self.config.protocol.final_runs)

    def fold_result(self, model: str, fold: int) -> FoldResult | None:
        """The fold's outcome once all its runs are stored, else ``None``."""
        finals = self.final_keys(model, fold)
        if not finals or not all(self.store.has(k) for k in finals):
            return None
        return FoldResult(fold, self.selection(model, fold), tuple(self.store.scores(k)["test_score"] for k in finals))

    def stored_keys(self) -> Iterator[RunKey]:
        for model in self.config.models:
            for fold in range(self.num_folds):
                keys = selection_keys(model.name, fold, len(model.points())) + self.final_keys(model.name, fold)
                yield from (k for k in keys if self.store.has(k))

    def stored_runs(self) -> int:
        """How many of the experiment's runs have a record in the results folder."""
        return sum(1 for _ in self.stored_keys())

    def total_runs(self) -> int:
        protocol = self.config.protocol
        return sum(
            self.num_folds * (len(selection_keys(m.name, 0, len(m.points()))) + protocol.final_runs)
            for m in self.config.models
        )

    def folds_complete(self) -> int:
        return sum(
            1
            for model in self.config.models
            for fold in range(self.num_folds)
            if self.fold_result(model.name, fold) is not None
        )


class Experiment:
    """One configuration, its data, its splits and its results folder.

    ``share_trainings``: selection runs of grid points equal but for their
    early-stopping monitor are one training (``False``: one training and seed
    per grid point, for comparison). A results folder keeps the choice it was
    created with, and one written before sharing existed does not share.
    """

    def __init__(
        self, config: ExperimentConfig, data_root: str | Path, results: str | Path, share_trainings: bool = True
    ) -> None:
        self.config = config
        self.data_root = Path(data_root)
        self.store = ResultStore(results)
        self.data: LoadedDataset | None = None
        self.splits: Splits | None = None
        self.share_trainings = share_trainings
        self.code_version = code_version()

    @property
    def results(self) -> ExperimentResults:
        return ExperimentResults(self.config, self.store, len(self.splits))

    # -- before any training --------------------------------------------------------------

    def prepare(self) -> None:
        """Check data, splits and every grid point, then claim the results folder.

        Raises :class:`ConfigError` (one line) on the first problem. Loading the
        data here also builds PyG's processed files once, before workers start.
        """
        dataset = self.config.dataset
        try:
            self.data = load_dataset(dataset.name, self.data_root, dataset.features)
        except (ValueError, FileNotFoundError, ImportError) as error:
            raise ConfigError(f"{self.config.source}: dataset: {error}") from None
        for model in self.config.models:
            for config_id, point in enumerate(model.points()):
                self._check_point(model, config_id, point)
        self.store.check(self.config)
        self.splits = self._splits()
        self.store.claim(
            self.config,
            {
                **provenance(),
                "num_folds": len(self.splits),
                "splits_source": self.splits.source,
                "metric": self.data.metric,
                "chance_level": self.chance_level(),
                SHARED_TRAININGS: self.share_trainings,
            },
        )
        self.share_trainings = self.store.experiment().get(SHARED_TRAININGS, False)

    def chance_level(self) -> float:
        """Score of always predicting the majority class (0.5 for ROC-AUC)."""
        if self.data.metric != "accuracy":
            return 0.5
        return float(self.data.labels.bincount().max()) / len(self.data.labels)

    def _splits(self) -> Splits:
        if self.data.predefined_split is not None:
            return Splits.single(self.data.predefined_split, len(self.data.labels), source="predefined")
        s = self.config.splits
        official = official_split_path(self.data_root, self.data.name, self.data.features)
        try:
            return load_or_create_splits(
                self.data.labels,
                official=official,
                cache=self.store.root / "splits.json",
                n_outer=s.outer_folds,
                holdout=s.holdout,
                seed=s.seed,
                max_folds=s.outer_folds,
            )
        except (ValueError, FileNotFoundError) as error:
            raise ConfigError(f"{self.config.source}: splits: {error}") from None

    def _check_point(self, model: ModelConfig, config_id: int, point: dict[str, Any]) -> None:
        try:
            model.spec.build(self.data.num_features, self.data.num_classes, model_arguments(point))
        except (ValueError, TypeError) as error:
            raise ConfigError(
                f"{self.config.source}: models.{model.name}.grid, configuration {config_id + 1} {point}: {error}"
            ) from None

    # -- scheduling -----------------------------------------------------------------------

    def run(self, executor: Executor, progress: bool = True) -> list[str]:
        """Execute every missing run; return the error reports of runs that raised.

        Runs start in order, model by model and fold by fold, a fold's final
        runs as soon as its model selection is done, and no more are
        submitted than the executor runs at once: an experiment stopped
        part-way leaves its first folds complete and scored.
        """
        results = self.results
        errors: list[str] = []
        runs = tqdm(
            total=results.total_runs(),
            initial=results.stored_runs(),
            desc="runs",
            unit="run",
            disable=not progress,
            file=sys.stderr,
        )
        models = len(self.config.models)
        # Every model is scored on every outer fold: the bar counts those pairs and says so, lest 6 of
        # them read as 6 folds of a 3-fold experiment.
        folds = tqdm(
            total=models * results.num_folds,
            initial=results.folds_complete(),
            desc=f"folds ({results.num_folds} outer × {models} model{'' if models == 1 else 's'})",
            unit="fold",
            disable=not progress,
            file=sys.stderr,
        )
        pending: dict[Any, RunTask] = {}
        submitted: set[RunKey] = set()
        try:
            while True:
                for task in self._ready_tasks(results, submitted)[: executor.capacity - len(pending)]:
                    submitted.update(task.keys)
                    pending[executor.submit(task)] = task
                if not pending:
                    break
                for handle, outcome in executor.wait(pending):
                    task = pending.pop(handle)
                    if "error" in outcome:
                        errors.append(f"{', '.join(k.relative_path for k in task.keys)}: {outcome['error']}")
                    else:
                        for key, record in zip(task.keys, outcome["records"], strict=True):
                            self.store.write(key, record)
                    runs.update(len(task.keys))
                    folds.update(results.folds_complete() - folds.n)
        except BaseException:
            executor.shutdown(cancel=True)
            raise
        finally:
            runs.close()
            folds.close()
        executor.shutdown(cancel=False)
        return errors

    def trainings(self, model: ModelConfig, fold: int) -> list[list[RunKey]]:
        """The fold's runs grouped by training: shared selection runs, then each final run known so far."""
        points = model.points()
        groups = (
            shared_trainings(points) if self.share_trainings else [(config_id,) for config_id in range(len(points))]
        )
        selection = {key.config_id: key for key in selection_keys(model.name, fold, len(points))}
        trainings = [[selection[config_id] for config_id in group] for group in groups if selection]
        return trainings + [[key] for key in self.results.final_keys(model.name, fold)]

    def _ready_tasks(self, results: ExperimentResults, submitted: set[RunKey]) -> list[RunTask]:
        tasks = []
        for model in self.config.models:
            for fold in range(results.num_folds):
                for keys in self.trainings(model, fold):
                    missing = [key for key in keys if key not in submitted and not self.store.has(key)]
                    if missing:
                        tasks.append(self._task(model.model_class, missing, model.points(), seed_key=keys[0]))
        return tasks

    def _task(self, model_class: str, keys: list[RunKey], points: list[dict[str, Any]], seed_key: RunKey) -> RunTask:
        """The training of ``keys`` (one fold), seeded from ``seed_key``, its group's first run."""
        fold = self.splits[seed_key.fold]
        protocol = self.config.protocol
        return RunTask(
            keys=tuple(keys),
            model_class=model_class,
            points=tuple(points[key.config_id] for key in keys),
            dataset=self.config.dataset.name,
            features=self.config.dataset.features,
            data_root=str(self.data_root),
            train=fold.train,
            validation=fold.validation,
            test=None if seed_key.kind == SELECTION else fold.test,
            settings=RunSettings(protocol.max_epochs, protocol.patience, protocol.device, protocol.loader),
            seed=seed_key.seed(protocol.seed),
            code_version=self.code_version,
            source_digest=IMPORTED_SOURCE,
        )
