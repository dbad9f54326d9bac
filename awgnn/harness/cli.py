"""``awgnn bench CONFIG`` runs an experiment; ``awgnn report RESULTS_DIR`` summarises results.

Exit codes: 0 success; 1 some runs raised (their tracebacks are printed, the
rest of the experiment is kept); 2 invalid configuration, data or results
folder (one line, nothing trained); 130 interrupted (finished runs are kept).
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch

from awgnn import __version__
from awgnn.harness.config import ConfigError, load_config
from awgnn.harness.data import resolve_data_root
from awgnn.harness.executors import InlineExecutor, ProcessExecutor, RayExecutor
from awgnn.harness.report import experiment_folders, load_results, table, write_report
from awgnn.harness.runner import CodeMismatch, Experiment, execute_task
from awgnn.harness.store import ResultsConflict

EXIT_RUN_ERRORS = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


def build_parser() -> argparse.ArgumentParser:
    summary, _, details = plain_text(__doc__).partition("\n\n")
    parser = argparse.ArgumentParser(prog="awgnn", description=summary, epilog=details)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    bench = commands.add_parser("bench", help="run the fair-comparison protocol of a configuration file")
    bench.add_argument("config", help="experiment YAML file (see configs/)")
    bench.add_argument("--data-root", help="data folder (default: $AWGNN_DATA, else ~/.cache/awgnn/data)")
    bench.add_argument("--results", help="output folder of this experiment (default: results/<config name>)")
    bench.add_argument(
        "--workers",
        type=int,
        default=available_cores(),
        help=f"runs in parallel, one CPU thread each (default: the usable cores, {available_cores()} here)",
    )
    bench.add_argument("--backend", choices=("local", "ray"), default="local", help="where runs execute")
    bench.add_argument("--ray-address", help="address of an existing Ray cluster (default: start a local one)")
    bench.add_argument("--no-progress", action="store_true", help="do not draw progress bars")

    report = commands.add_parser("report", help="print and write the summary of finished runs")
    report.add_argument("results", help="an experiment's results folder, or a folder of them")
    return parser


def plain_text(rst: str) -> str:
    """``rst``, a docstring's reStructuredText, as a terminal should show it: without inline markup.

    argparse prints its description verbatim, so double-backtick literals would keep their backticks;
    a role's cross-reference becomes its target (only the last name after a tilde, as Sphinx shows it).
    """
    text = re.sub(r":[\w:]+:`~([^`]*?)([^.`]+)`", r"\2", rst)
    text = re.sub(r":[\w:]+:`([^`]+)`", r"\1", text)
    return re.sub(r"``([^`]+)``", r"\1", text).strip()


def available_cores() -> int:
    """CPU cores this process may use (its affinity mask where the platform has one)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def main(argv: list[str] | None = None) -> int:
    arguments = build_parser().parse_args(argv)
    if arguments.command == "bench":
        return bench(arguments)
    return report(arguments)


def bench(arguments: argparse.Namespace) -> int:
    try:
        if arguments.workers < 1:
            raise ConfigError(f"--workers: expected an integer >= 1, got {arguments.workers}")
        config = load_config(arguments.config)
        results = Path(arguments.results or Path("results") / config.name)
        experiment = Experiment(config, resolve_data_root(arguments.data_root), results)
        experiment.prepare()
    except (ConfigError, ResultsConflict) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    planned = experiment.results
    total, reused = planned.total_runs(), planned.stored_runs()
    print(
        f"{config.name}: {config.dataset.name}, {len(experiment.splits)} outer folds ({experiment.splits.source}) "
        f"for {', '.join(model.name for model in config.models)}: {total} runs; results in {results}",
        file=sys.stderr,
    )
    if reused:
        left = "nothing left to run" if reused == total else f"{total - reused} left to run"
        print(f"{reused} of {total} runs reused from {results} (finished earlier); {left}", file=sys.stderr)
    executor = _executor(arguments, config.protocol.device)
    try:
        with _terminate_as_interrupt():
            errors = experiment.run(executor, progress=not arguments.no_progress)
    except KeyboardInterrupt:
        print(f"\ninterrupted: finished runs are kept in {results}; run the same command to continue", file=sys.stderr)
        return EXIT_INTERRUPTED
    except CodeMismatch as error:
        # Ray's copy of the error carries the worker's traceback first; its last line is the message.
        print(f"\nerror: {str(error).splitlines()[-1]} (results in {results})", file=sys.stderr)
        return EXIT_RUN_ERRORS
    content = write_report(experiment.results)
    print(table([content]))
    print(f"report: {results / 'report.md'}")
    for error in errors:
        print(f"run failed: {error}", file=sys.stderr)
    return EXIT_RUN_ERRORS if errors else 0


@contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """Within the block, SIGTERM stops the experiment as Ctrl-C does.

    Batch schedulers and ``kill`` send SIGTERM, and a job started in the
    background of a non-interactive shell ignores SIGINT; either way the
    executor should be shut down and the stop reported. The previous handler
    is restored afterwards (outside the main thread nothing is installed).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _executor(arguments: argparse.Namespace, device: str):
    if arguments.backend == "ray":
        uses_gpu = device == "cuda" or (device == "auto" and torch.cuda.is_available())
        return RayExecutor(
            execute_task,
            arguments.workers,
            arguments.ray_address,
            gpus_per_run=1 / arguments.workers if uses_gpu else 0,
        )
    if arguments.workers == 1:
        return InlineExecutor(execute_task)
    return ProcessExecutor(execute_task, arguments.workers)


def report(arguments: argparse.Namespace) -> int:
    folders = experiment_folders(arguments.results)
    if not folders:
        print(f"error: no experiment results (experiment.json) found in {arguments.results}", file=sys.stderr)
        return EXIT_USAGE
    try:
        contents = [write_report(load_results(folder)) for folder in folders]
    except (ConfigError, KeyError, ValueError) as error:
        print(f"error: cannot read results: {error}", file=sys.stderr)
        return EXIT_USAGE
    print(table(contents))
    return 0


if __name__ == "__main__":
    sys.exit(main())
