"""The benchmark harness end to end: validation, runs, resume, determinism, backends."""

import dataclasses
import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from awgnn.harness import cli, runner
from awgnn.harness.cli import main
from awgnn.harness.config import load_config
from awgnn.harness.executors import InlineExecutor
from awgnn.harness.protocol import FINAL, SELECTION
from awgnn.harness.runner import Experiment, code_version, execute_task, source_digest

REPOSITORY = Path(__file__).resolve().parents[1]

TINY = {
    "name": "tiny",
    "dataset": "MUTAG",
    "splits": {"outer_folds": 2, "holdout": 0.1, "seed": 1},
    "protocol": {"final_runs": 1, "max_epochs": 4, "patience": 2, "seed": 3},
    "models": {
        "awn": {"class": "AdaptiveGINClassifier", "grid": {"num_layers": [2, 3], "batch_size": 64}},
        "gin": {"class": "GINClassifier", "grid": {"hidden_channels": [8, 16], "batch_size": 64}},
    },
}


def write_config(folder: Path, content: dict, name: str = "tiny.yaml") -> Path:
    path = folder / name
    path.write_text(yaml.safe_dump(content, sort_keys=False))
    return path


def bench(config: Path, data_root: Path, results: Path, *extra: str) -> int:
    return main(
        [
            "bench",
            str(config),
            "--data-root",
            str(data_root),
            "--results",
            str(results),
            "--no-progress",
            "--workers",
            "1",
            *extra,
        ]
    )


def run_records(results: Path) -> dict[str, dict]:
    return {
        str(p.relative_to(results)): json.loads(p.read_text()) for p in sorted(results.glob("*/OUTER_FOLD_*/**/*.json"))
    }


# -- validation before any training ------------------------------------------------------------


@pytest.mark.parametrize(
    "change, message",
    [
        ({"protocol": {"patiense": 3}}, "protocol.patiense: unknown key; expected one of"),
        ({"protocol": {"max_epochs": "ten"}}, "protocol.max_epochs: expected an integer >= 1, got 'ten'"),
        ({"splits": {"holdout": 1.5}}, "splits.holdout: expected a number in the open interval (0, 1), got 1.5"),
        ({"dataset": "MUTANT"}, "dataset: unknown TU dataset 'MUTANT'; expected one of MUTAG"),
        (
            {"models": {"x": {"class": "GINClassifier", "grid": {"hidden_channels": [0]}}}},
            "models.x.grid, configuration 1 {'hidden_channels': 0}: hidden_channels must be an integer >= 1, got 0",
        ),
        (
            {"models": {"x": {"class": "GINClassifier", "grid": {"batch_size": [16, -1]}}}},
            "models.x.grid.batch_size: expected an integer >= 1, got -1",
        ),
        ({"models": {"x": {"class": "GINClassifier", "grid": {"hidden": [8]}}}}, "models.x.grid.hidden: unknown key"),
        ({"splits": {"outer_folds": 1}}, "splits: n_outer must be an integer >= 2, got 1"),
    ],
)
def test_invalid_config_exits_2_with_one_line(tmp_path, data_root, capsys, change, message):
    config = write_config(tmp_path, {**TINY, **change})
    assert bench(config, data_root, tmp_path / "results") == 2
    error = capsys.readouterr().err.strip()
    assert message in error, error
    assert len(error.splitlines()) == 1 and "Traceback" not in error
    assert not (tmp_path / "results" / "experiment.json").exists(), "nothing is claimed or trained"


def test_missing_data_and_config_files_are_named(tmp_path, capsys):
    config = write_config(tmp_path, TINY)
    empty_root = tmp_path / "empty"
    empty_root.mkdir()
    assert bench(config, empty_root, tmp_path / "results") == 2
    error = capsys.readouterr().err
    assert "MUTAG" in error and str(empty_root / "TUDataset" / "MUTAG" / "raw") in error
    assert bench(tmp_path / "nope.yaml", empty_root, tmp_path / "results") == 2
    assert "nope.yaml: no such configuration file" in capsys.readouterr().err
    broken = tmp_path / "broken.yaml"
    broken.write_text("dataset: [MUTAG\n")
    assert bench(broken, empty_root, tmp_path / "results") == 2
    assert "broken.yaml: not valid YAML" in capsys.readouterr().err


def test_another_config_is_refused_in_an_existing_results_folder(tmp_path, data_root, capsys):
    results = tmp_path / "results"
    assert bench(write_config(tmp_path, TINY), data_root, results) == 0
    records = run_records(results)
    other = write_config(tmp_path, {**TINY, "protocol": {**TINY["protocol"], "max_epochs": 5}}, "other.yaml")
    assert bench(other, data_root, results) == 2
    assert "holds results of a different configuration" in capsys.readouterr().err
    assert run_records(results) == records


# -- running -------------------------------------------------------------------------------------


def test_tiny_experiment_is_complete_and_deterministic(tmp_path, data_root, capsys):
    config = write_config(tmp_path, TINY)
    first, second = tmp_path / "first", tmp_path / "second"
    assert bench(config, data_root, first) == 0
    table = capsys.readouterr().out
    assert "MUTAG" in table and "awn" in table and "gin" in table
    assert bench(config, data_root, second, "--workers", "2") == 0
    records = run_records(first)
    assert len(records) == 2 * 2 * (2 + 1)
    scores = {k: (r["val_score"], r["test_score"], r["layer_widths"]) for k, r in records.items()}
    assert scores == {
        k: (r["val_score"], r["test_score"], r["layer_widths"]) for k, r in run_records(second).items()
    }, "same config and seed, same scores"
    summary = json.loads((first / "summary.json").read_text())
    for model in ("awn", "gin"):
        assert summary["models"][model]["folds_scored"] == 2
        assert summary["models"][model]["mean"] is not None
        selection_seconds = sum(
            r["seconds"] for k, r in records.items() if k.startswith(f"{model}/") and "MODEL_SELECTION" in k
        )
        assert summary["models"][model]["selection_seconds"] == pytest.approx(selection_seconds)
        assert summary["models"][model]["seconds"] > summary["models"][model]["selection_seconds"]
        selection_cpu = sum(
            r["cpu_seconds"] for k, r in records.items() if k.startswith(f"{model}/") and "MODEL_SELECTION" in k
        )
        assert summary["models"][model]["selection_cpu_seconds"] == pytest.approx(selection_cpu)
        assert summary["models"][model]["cpu_seconds"] > selection_cpu > 0
    widths = summary["models"]["awn"]["per_fold"][0]["layer_widths"][0]
    assert set(widths) >= {"block0", "block1"}
    history = next(r for r in records.values() if r["model"] == "awn")["history"]
    assert [set(h) for h in history][0] >= {"epoch", "train_loss", "val_score", "widths"}
    assert (first / "report.md").is_file() and (first / "plots" / "widths_awn.png").is_file()
    capsys.readouterr()
    assert main(["report", str(tmp_path)]) == 0
    assert capsys.readouterr().out.count("MUTAG") == 4, "both experiments, both models"


def test_pyg_loader_option_runs_the_same_protocol(tmp_path, data_root):
    content = {**TINY, "protocol": {**TINY["protocol"], "loader": "pyg"}, "models": {"gin": TINY["models"]["gin"]}}
    results = tmp_path / "results"
    assert bench(write_config(tmp_path, content), data_root, results) == 0
    assert len(run_records(results)) == 2 * (2 + 1)
    assert json.loads((results / "summary.json").read_text())["models"]["gin"]["folds_scored"] == 2


def test_nan_loss_is_reported_in_the_run_not_raised(tmp_path, data_root):
    content = {
        **TINY,
        "models": {
            "bad": {"class": "AdaptiveGINClassifier", "grid": {"num_layers": 2, "weight_prior_std": [1e-300, 10.0]}}
        },
    }
    results = tmp_path / "results"
    assert bench(write_config(tmp_path, content), data_root, results) == 0
    selection = [r for r in run_records(results).values() if r["kind"] == "selection"]
    assert {r["status"] for r in selection if r["config_id"] == 0} == {"nan"}
    assert all(r["val_score"] is None for r in selection if r["config_id"] == 0)
    summary = json.loads((results / "summary.json").read_text())["models"]["bad"]
    assert summary["failed_runs"] == 2 and all(f["selected_config"] == 2 for f in summary["per_fold"])


class RecordingExecutor(InlineExecutor):
    """Runs tasks in this process, one at a time, but lets the runner submit ``capacity`` at once."""

    def __init__(self, capacity: int) -> None:
        super().__init__(execute_task)
        self.capacity = capacity
        self.submissions: list[tuple[int, str]] = []
        self.most_in_flight = 0

    def submit(self, task):
        self.submissions += [(key.fold, key.kind) for key in task.keys]
        self.most_in_flight = max(self.most_in_flight, len(self.queue) + 1)
        return super().submit(task)


def test_a_single_configuration_trains_only_its_final_runs(tmp_path, data_root):
    content = {
        **TINY,
        "protocol": {**TINY["protocol"], "final_runs": 2},
        "models": {"gin": {"class": "GINClassifier", "grid": {"hidden_channels": 8, "batch_size": 64}}},
    }
    results = tmp_path / "results"
    assert bench(write_config(tmp_path, content), data_root, results) == 0
    assert sorted(run_records(results)) == [
        f"gin/OUTER_FOLD_{fold}/final_run_{repeat}.json" for fold in (1, 2) for repeat in (1, 2)
    ]
    summary = json.loads((results / "summary.json").read_text())["models"]["gin"]
    assert summary["folds_scored"] == 2 and summary["selection_seconds"] == 0
    assert "| 1 | 1: `" in (results / "report.md").read_text(), "the only configuration is reported as selected"


@pytest.mark.parametrize("capacity", [1, 2])
def test_runs_start_fold_by_fold_with_finals_as_soon_as_selection_is_done(tmp_path, data_root, capacity):
    content = {
        **TINY,
        "splits": {**TINY["splits"], "outer_folds": 3},
        "protocol": {**TINY["protocol"], "max_epochs": 2},
        "models": {"gin": TINY["models"]["gin"]},
    }
    experiment = Experiment(load_config(write_config(tmp_path, content)), data_root, tmp_path / "results")
    experiment.prepare()
    executor = RecordingExecutor(capacity)
    assert experiment.run(executor, progress=False) == []
    assert executor.most_in_flight == capacity
    order = executor.submissions
    assert len(order) == 3 * (2 + 1)
    if capacity == 1:
        assert order == [(fold, kind) for fold in range(3) for kind in (SELECTION, SELECTION, FINAL)]
    assert order.index((0, FINAL)) < order.index((2, SELECTION)), "fold 1 is scored before fold 3 starts"


def long_bench(tmp_path: Path, data_root: Path, *extra: str) -> tuple[Path, Path, list[str]]:
    """A 10-run experiment long enough to stop part-way: its config, results folder and bench command."""
    content = {
        **TINY,
        "protocol": {**TINY["protocol"], "max_epochs": 30, "patience": 30},
        "models": {"gin": {"class": "GINClassifier", "grid": {"hidden_channels": [8, 16, 32, 48], "batch_size": 16}}},
    }
    config = write_config(tmp_path, content)
    results = tmp_path / "results"
    command = [
        sys.executable,
        "-m",
        "awgnn.harness.cli",
        "bench",
        str(config),
        "--data-root",
        str(data_root),
        "--results",
        str(results),
        "--no-progress",
        *extra,
    ]
    return config, results, command


def test_interrupted_experiment_resumes_without_touching_finished_runs(tmp_path, data_root):
    config, results, command = long_bench(tmp_path, data_root)
    process = subprocess.Popen(
        command, cwd=tmp_path, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.time() + 120
    while len(run_records(results)) < 2 and time.time() < deadline and process.poll() is None:
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)  # as a crash or kill -9 would
    process.wait()
    finished = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in results.glob("gin/**/*.json")}
    assert 2 <= len(finished) < 2 * (4 + 1), "killed mid-way"

    assert bench(config, data_root, results) == 0
    for path, (content_bytes, mtime) in finished.items():
        assert path.read_bytes() == content_bytes and path.stat().st_mtime_ns == mtime, path
    assert len(run_records(results)) == 2 * (4 + 1)
    summary = json.loads((results / "summary.json").read_text())
    assert summary["models"]["gin"]["folds_scored"] == 2


def test_sigterm_stops_an_experiment_as_ctrl_c_does(tmp_path, data_root):
    """A batch scheduler's or kill's SIGTERM: the stop is reported, exit code 130, finished runs kept."""
    config, results, command = long_bench(tmp_path, data_root, "--workers", "1")
    process = subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not run_records(results) and time.time() < deadline and process.poll() is None:
        time.sleep(0.05)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    assert "interrupted: finished runs are kept" in stderr
    finished = run_records(results)
    assert 1 <= len(finished) < 2 * (4 + 1)
    assert bench(config, data_root, results) == 0 and len(run_records(results)) == 2 * (4 + 1)


@pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason="needs the ray extra")
def test_ray_backend_gives_the_local_results(tmp_path, data_root):
    config = write_config(tmp_path, TINY)
    assert bench(config, data_root, tmp_path / "local") == 0
    assert bench(config, data_root, tmp_path / "ray", "--backend", "ray", "--workers", "2") == 0
    local, remote = run_records(tmp_path / "local"), run_records(tmp_path / "ray")
    assert local.keys() == remote.keys()
    assert all(local[k]["test_score"] == remote[k]["test_score"] for k in local)


@pytest.mark.slow
def test_quick_config_end_to_end(tmp_path, data_root, capsys):
    results = tmp_path / "quick"
    assert bench(REPOSITORY / "configs" / "quick.yaml", data_root, results, "--workers", "2") == 0
    summary = json.loads((results / "summary.json").read_text())
    for model in summary["models"].values():
        assert model["folds_scored"] == model["folds"] == 3
        assert model["mean"] > 0.6, "better than the majority class on MUTAG"
    assert "awn-gin" in capsys.readouterr().out


def test_every_record_names_the_code_that_made_it(tmp_path, data_root):
    assert code_version(tmp_path) is None, "not a git checkout"
    version = code_version()
    head = subprocess.run(
        ["git", "-C", str(REPOSITORY), "rev-parse", "--short=12", "HEAD"], capture_output=True, text=True
    )
    if head.returncode == 0:  # a git checkout: the commit, with -dirty while tracked files differ from it
        assert version.startswith(head.stdout.strip())
    content = {
        **TINY,
        "protocol": {**TINY["protocol"], "max_epochs": 2},
        "models": {"gin": {"class": "GINClassifier", "grid": {"hidden_channels": 8}}},
    }
    assert bench(write_config(tmp_path, content), data_root, tmp_path / "results") == 0
    records = run_records(tmp_path / "results").values()
    assert {record["code_version"] for record in records} == {version}
    assert {record["source_digest"] for record in records} == {source_digest()}, "exact even when dirty"


def test_the_source_digest_follows_every_python_file(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "a.py").write_text("A = 1\n")
    (tmp_path / "sub" / "b.py").write_text("B = 2\n")
    first = source_digest(tmp_path)
    (tmp_path / "notes.txt").write_text("not code")
    assert source_digest(tmp_path) == first
    (tmp_path / "sub" / "b.py").write_text("B = 3\n")
    assert source_digest(tmp_path) != first
    (tmp_path / "sub" / "b.py").write_text("B = 2\n")
    assert source_digest(tmp_path) == first
    (tmp_path / "sub" / "b.py").rename(tmp_path / "sub" / "c.py")
    assert source_digest(tmp_path) != first, "a moved module is other code"


def test_a_worker_with_other_code_stops_the_experiment_and_keeps_finished_runs(
    tmp_path, data_root, monkeypatch, capsys
):
    """A worker that imported awgnn after it changed on disk: no record claims code that did not make it."""
    config = write_config(tmp_path, {**TINY, "models": {"gin": TINY["models"]["gin"]}})
    results = tmp_path / "results"
    tasks = []

    def second_worker_has_other_code(task):
        tasks.append(task)
        return execute_task(task if len(tasks) == 1 else dataclasses.replace(task, source_digest="0" * 16))

    monkeypatch.setattr(cli, "execute_task", second_worker_has_other_code)
    assert bench(config, data_root, results) == 1
    error = capsys.readouterr().err
    assert "imported awgnn sources" in error and "0000000000000000" in error
    assert "run the same command again" in error and str(results) in error
    assert len(run_records(results)) == 1, "the first run is kept, none made by the other code"
    monkeypatch.undo()
    assert bench(config, data_root, results) == 0
    assert len(run_records(results)) == 2 * (2 + 1)


@pytest.mark.parametrize(
    "backend",
    [
        "local",
        pytest.param("ray", marks=pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason="needs ray")),
    ],
)
def test_a_worker_process_checks_its_code_against_the_planners(tmp_path, data_root, monkeypatch, capsys, backend):
    """The planner's digest travels with each task; a worker process computes its own on import."""
    monkeypatch.setattr(runner, "IMPORTED_SOURCE", "f" * 16)  # as if the planner had imported older sources
    config = write_config(tmp_path, {**TINY, "models": {"gin": TINY["models"]["gin"]}})
    assert bench(config, data_root, tmp_path / "results", "--workers", "2", "--backend", backend) == 1
    (error,) = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert f"imported {'f' * 16}" in error and "run the same command again" in error
    assert run_records(tmp_path / "results") == {}
