"""Pieces shared by the benchmark scripts: machine description, tables, splits, training.

Every script prints its tables in Markdown, headed by the exact command, the
machine and the date, so that ``benchmarks/RESULTS.md`` is assembled from
their output verbatim.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import platform
import shlex
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeVar

import matplotlib
import torch

from awgnn.harness.config import model_arguments, parse_config, training_settings
from awgnn.harness.data import OGB_DATASETS, TU_DATASETS, LoadedDataset, load_dataset, resolve_data_root
from awgnn.harness.executors import InlineExecutor, ProcessExecutor, single_thread
from awgnn.harness.ladder import LADDER_LEVELS, ladder_dataset
from awgnn.harness.registry import MODEL_CLASSES
from awgnn.harness.report import save_figure
from awgnn.harness.runner import Experiment, execute_task
from awgnn.harness.splits import Fold, generate_splits
from awgnn.harness.train import RunSettings, fit

matplotlib.use("Agg")  # benchmark plots are files; no display needed
import matplotlib.pyplot as plt  # noqa: E402

__all__ = [
    "DEFAULT_OUTPUT",
    "LADDER_PREFIX",
    "base_parser",
    "dataset_and_split",
    "header",
    "ladder_and_split",
    "machine",
    "markdown_table",
    "mean_std",
    "within_one_std",
    "ResultsFile",
    "resume",
    "plt",
    "positive_int",
    "run_experiment",
    "run_jobs",
    "save_figure",
    "setup",
    "stopwatch",
    "task_and_split",
    "task_name",
    "train_model",
]

DEFAULT_OUTPUT = Path(__file__).resolve().parent / "output"
LADDER_PREFIX = "ladder-"

Job = TypeVar("Job")


def base_parser(description: str) -> argparse.ArgumentParser:
    """Arguments every benchmark takes: data root, output folder, threads, and a smoke-test budget."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--data-root", help="data folder (default: $AWGNN_DATA, else ~/.cache/awgnn/data)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUTPUT, help="folder for plots and raw numbers")
    parser.add_argument("--threads", type=positive_int, default=1, help="torch CPU threads (default 1)")
    parser.add_argument("--smoke", action="store_true", help="a tiny budget that only checks the script runs")
    return parser


def positive_int(text: str) -> int:
    """Argument type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}")
    return value


def task_name(text: str) -> str:
    """Argument type: a TU or OGB dataset name, or ``ladder-<level>``."""
    if text.startswith(LADDER_PREFIX):
        level = text[len(LADDER_PREFIX) :]
        if level.isdigit() and int(level) < LADDER_LEVELS:
            return text
        raise argparse.ArgumentTypeError(
            f"a ladder task is {LADDER_PREFIX}<level> with level in 0..{LADDER_LEVELS - 1}, got {text!r}"
        )
    if text in TU_DATASETS or text in OGB_DATASETS:
        return text
    raise argparse.ArgumentTypeError(
        f"expected a dataset ({', '.join([*TU_DATASETS, *OGB_DATASETS])}) or {LADDER_PREFIX}<level>, got {text!r}"
    )


def setup(arguments: argparse.Namespace) -> Path:
    """Apply the common arguments; return the output folder (created)."""
    torch.set_num_threads(arguments.threads)
    arguments.out.mkdir(parents=True, exist_ok=True)
    return arguments.out


def machine() -> str:
    """CPU model and thread count, GPU if any, and software versions."""
    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        names = [
            line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines() if line.startswith("model name")
        ]
        if names:
            cpu = f"{names[0]} ({len(names)} logical cores)"
    gpu = torch.cuda.get_device_name() if torch.cuda.is_available() else "no GPU"
    import torch_geometric

    return (
        f"{cpu}; {gpu}; torch {torch.__version__} ({torch.get_num_threads()} thread(s)), "
        f"torch_geometric {torch_geometric.__version__}, Python {platform.python_version()}"
    )


def header(title: str) -> str:
    """Markdown heading with the command that produced the section, the machine and the date."""
    command = "python " + " ".join(shlex.quote(a) for a in sys.argv)
    return f"### {title}\n\n`{command}`  \n{machine()}  \n{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC\n"


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    def cell(value: Any) -> str:
        return f"{value:.4g}" if isinstance(value, float) else str(value)

    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def within_one_std(mean: float, reference_mean: float, reference_std: float) -> bool:
    """The verdict "within one standard deviation": ``mean`` differs from the reference's mean by at most the
    reference's standard deviation (the same units). Every such verdict of the benchmarks uses it."""
    return abs(mean - reference_mean) <= reference_std


def mean_std(values: Sequence[float]) -> str:
    """``mean ± std`` (population std) of ``values``, in the values' unit."""
    if len(values) == 1:
        return f"{values[0]:.3g}"
    return f"{statistics.fmean(values):.3g} ± {statistics.pstdev(values):.2g}"


@contextmanager
def stopwatch() -> Iterator[Callable[[], float]]:
    """``with stopwatch() as elapsed: ...; elapsed()`` in seconds (CUDA synchronised)."""

    def synchronise() -> None:
        if torch.cuda.is_available():
            torch.cuda.synchronize()

    synchronise()
    start = time.perf_counter()
    end: list[float] = []
    try:
        yield lambda: (end[0] if end else time.perf_counter()) - start
    finally:
        synchronise()
        end.append(time.perf_counter())


def dataset_and_split(
    name: str, data_root: str | None, seed: int = 0, features: str | None = None
) -> tuple[LoadedDataset, Fold]:
    """A dataset and one stratified train / validation / test split of it (80 / 10 / 10)."""
    data = load_dataset(name, resolve_data_root(data_root), features)
    return data, generate_splits(data.labels, n_outer=10, holdout=1 / 9, seed=seed)[0]


def ladder_and_split(level: int, num_graphs: int = 1000, seed: int = 0) -> tuple[LoadedDataset, Fold]:
    """Ladder level ``level`` generated from ``seed``, with one stratified split drawn from the same seed
    in the proportions of :func:`dataset_and_split`."""
    data = ladder_dataset(level, num_graphs, seed)
    return data, generate_splits(data.labels, n_outer=10, holdout=1 / 9, seed=seed)[0]


def task_and_split(task: str, data_root: str | None) -> tuple[LoadedDataset, Fold]:
    """A TU dataset by name, or ``ladder-<level>`` (1000 graphs, seed 0), with one 80/10/10 split."""
    if task.startswith(LADDER_PREFIX):
        return ladder_and_split(int(task_name(task)[len(LADDER_PREFIX) :]))
    return dataset_and_split(task, data_root)


class ResultsFile:
    """Finished runs, one JSON line each, appended as they end (a rerun skips them)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> dict[str, dict[str, Any]]:
        if not self.path.is_file():
            return {}
        runs = {}
        for number, line in enumerate(self.path.read_text().splitlines(), start=1):
            if not line.strip():
                continue
            try:
                run = json.loads(line)
            except json.JSONDecodeError:
                # A line cut short by an interrupted write: that run is trained again.
                print(f"{self.path}:{number}: unreadable line skipped (the run will be repeated)")
                continue
            runs[run["key"]] = run
        return runs

    def append(self, run: dict[str, Any]) -> None:
        # One line in one append-mode write: lines from concurrent workers do not interleave.
        with self.path.open("a") as stream:
            stream.write(json.dumps(run) + "\n")


def _train_and_keep(job: tuple[Callable[[Any], dict[str, Any]], Any, Path]) -> dict[str, Any]:
    train, run, path = job
    result = train(run)
    ResultsFile(path).append(result)
    return result


def resume(
    plan: Sequence[Any],
    results: ResultsFile,
    train: Callable[[Any], dict[str, Any]],
    workers: int,
    train_missing: bool = True,
) -> list[dict[str, Any]]:
    """Train the planned runs (each with a ``key``) that ``results`` lacks, keeping each as it ends; return the
    planned runs' results. ``train_missing=False`` trains nothing (a report of what is there)."""
    done = results.load()
    keys = {run.key for run in plan}
    todo = [run for run in plan if run.key not in done] if train_missing else []
    print(
        f"{len(keys & done.keys())} run(s) already in {results.path} (of {len(plan)} planned); training {len(todo)}",
        flush=True,
    )
    run_jobs(_train_and_keep, [(train, run, results.path) for run in todo], workers)
    return [run for key, run in results.load().items() if key in keys]


def run_jobs(function: Callable[[Job], Any], jobs: Sequence[Job], workers: int) -> list[Any]:
    """``[function(job) for job in jobs]``, on a pool of ``workers`` spawned single-threaded processes.

    Jobs start in the order given, so put the longest first for the workers to finish together.
    """
    if workers <= 1:
        return [function(job) for job in jobs]
    with ProcessPoolExecutor(
        workers, mp_context=multiprocessing.get_context("spawn"), initializer=single_thread
    ) as pool:
        return list(pool.map(function, jobs))


def run_experiment(
    content: dict[str, Any], source: str, data_root: Path, results: Path, workers: int, share_trainings: bool = True
) -> tuple[Experiment, float]:
    """Run the experiment configured by ``content`` through the harness; the experiment and its wall seconds.

    Runs go to ``workers`` single-threaded processes (1: this process). The
    results folder is resumable, so a rerun only trains what is missing; a
    failed run raises.
    """
    experiment = Experiment(parse_config(content, source=source), data_root, results, share_trainings)
    experiment.prepare()
    executor = ProcessExecutor(execute_task, workers) if workers > 1 else InlineExecutor(execute_task)
    started = time.perf_counter()  # not stopwatch(): this process must not initialise CUDA
    errors = experiment.run(executor, progress=False)
    if errors:
        raise RuntimeError(f"{len(errors)} runs failed; first: {errors[0]}")
    return experiment, time.perf_counter() - started


def train_model(
    data: LoadedDataset, fold: Fold, model_class: str, epochs: int, seed: int, **grid_point: Any
) -> tuple[torch.nn.Module, dict[str, Any]]:
    """Train ``model_class`` for ``epochs`` epochs (no early stop) as the harness does.

    ``grid_point`` holds model arguments and training keys exactly as in a
    configuration's grid. Returns the model at its best-validation epoch and
    the harness's record (scores at that epoch, history with widths per epoch,
    time).
    """
    spec = MODEL_CLASSES[model_class]
    settings = RunSettings(max_epochs=epochs, patience=epochs, device="auto", loader="memory")
    return fit(
        data,
        fold.train,
        fold.validation,
        fold.test,
        spec,
        model_arguments(grid_point),
        training_settings(grid_point, spec.adaptive),
        settings,
        seed,
    )
