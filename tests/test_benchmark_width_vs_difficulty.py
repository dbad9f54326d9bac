"""The width-against-difficulty benchmark runs end to end on its smoke budget."""

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from awgnn.harness.ladder import LADDER_LEVELS, ladder_level

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "width_vs_difficulty.py"


def test_width_vs_difficulty_smoke(tmp_path, data_root):
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--smoke", "--data-root", str(data_root), "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    stdout = result.stdout
    assert "### Learned width against task difficulty" in stdout
    assert (
        "| level | node types | patterns | classes | test accuracy (%) | learned width per layer | total width |"
        in stdout
    )
    for level in range(LADDER_LEVELS):
        spec = ladder_level(level)
        assert f"| {level} | {spec.num_types} | {spec.num_patterns} | {spec.num_classes} |" in stdout
    assert "Spearman's rho between level and total width" in stdout
    assert "| dataset | budget | test accuracy (%) | learned width per layer | total width |" in stdout
    assert "| MUTAG | 2 epochs, 1 split, 1 seed(s) |" in stdout
    for name in ("width_vs_difficulty.json", "ladder_width.png", "ladder_width_history.png"):
        assert (tmp_path / name).is_file()
    numbers = json.loads((tmp_path / "width_vs_difficulty.json").read_text())
    assert sorted(run["level"] for run in numbers["ladder_runs"]) == list(range(LADDER_LEVELS))
    assert [run["dataset"] for run in numbers["real_runs"]] == ["MUTAG"]
    assert all(len(run["total_width_per_epoch"]) == 2 for run in numbers["ladder_runs"])


def test_fixed_curves_smoke(tmp_path):
    """The fixed GIN at every width, level and seed: one table row per level, one column per width."""
    result = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--fixed-curves",
            "--smoke",
            "--fixed-widths",
            "4",
            "8",
            "--workers",
            "1",
            "--out",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    stdout = result.stdout
    assert "### What makes a ladder level difficult" in stdout
    assert (
        "| level | node types | patterns | classes | width 4: test accuracy (%) | width 8: test accuracy (%) "
        "| seconds per run (width 4 / 8) |"
    ) in stdout
    for level in range(LADDER_LEVELS):
        spec = ladder_level(level)
        assert f"| {level} | {spec.num_types} | {spec.num_patterns} | {spec.num_classes} |" in stdout
    assert "Width 4: mean test accuracy" in stdout and "Width 8: mean test accuracy" in stdout
    assert "Learned width" not in stdout and "Real data" not in stdout
    numbers = json.loads((tmp_path / "ladder_fixed_curves.json").read_text())
    runs = numbers["runs"]
    assert sorted((r["level"], r["hidden_channels"]) for r in runs) == [
        (level, width) for level in range(LADDER_LEVELS) for width in (4, 8)
    ]
    assert all(
        r["model"] == "GINClassifier"
        and r["layer_widths"] == {"block0": r["hidden_channels"], "block1": r["hidden_channels"]}
        for r in runs
    )
    assert (tmp_path / "ladder_fixed_curves.png").is_file()
    assert not (tmp_path / "width_vs_difficulty.json").exists()


def test_trend_text_says_whether_accuracy_falls_at_every_level(benchmark_module):
    runs = [
        {"level": level, "seed": 0, "hidden_channels": width, "test_accuracy": accuracy}
        for width, accuracies in ((8, (1.0, 0.9, 0.7)), (64, (1.0, 1.0, 0.98)))
        for level, accuracy in enumerate(accuracies)
    ]
    text = benchmark_module.trend_text(runs)
    assert "Width 8: mean test accuracy 100.0 → 90.0 → 70.0 %; lowest 70.0 %; falls at every level: yes" in text
    assert "Width 64: mean test accuracy 100.0 → 100.0 → 98.0 %; lowest 98.0 %; falls at every level: no" in text


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--smoke", "--full"], "--smoke and --full exclude each other"),
        (["--fixed-curves", "--full"], "--fixed-curves and --full exclude each other"),
        (["--fixed-curves", "--fixed-widths", "0"], "argument --fixed-widths: expected an integer >= 1, got '0'"),
    ],
)
def test_width_vs_difficulty_rejects_bad_arguments(benchmark_module, monkeypatch, capsys, flags, message):
    monkeypatch.setattr(sys, "argv", [str(SCRIPT), *flags])
    with pytest.raises(SystemExit) as exit_:
        benchmark_module.parse_arguments()
    assert exit_.value.code == 2 and message in capsys.readouterr().err


def load_benchmark_module():
    """The script as a module (it imports ``common`` from its own folder)."""
    benchmarks = str(SCRIPT.parent)
    sys.path.insert(0, benchmarks)
    try:
        spec = importlib.util.spec_from_file_location("width_vs_difficulty_benchmark", SCRIPT)
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # its dataclasses look their module up there
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(benchmarks)


@pytest.fixture(scope="module")
def benchmark_module():
    return load_benchmark_module()


TINY_PROTOCOL = """
name: tiny_PROTEINS
dataset: PROTEINS
splits: {outer_folds: 2, holdout: 0.1, seed: 42}
protocol: {final_runs: 1, max_epochs: 1, patience: 1}
models:
  awn-gin:
    class: AdaptiveGINClassifier
    grid: {batch_size: 128, num_layers: 2}
"""


def test_full_protocol_row(tmp_path, data_root, monkeypatch):
    """The --full path: the harness runs a configuration and its summary becomes a table row."""
    module = load_benchmark_module()
    configs = tmp_path / "configs"
    configs.mkdir()
    (configs / "PROTEINS.yaml").write_text(TINY_PROTOCOL)
    monkeypatch.setattr(module, "CONFIGS", configs)
    content = module.run_protocol("PROTEINS", data_root, tmp_path / "out", workers=1)
    assert (tmp_path / "out" / "protocol" / "PROTEINS" / "summary.json").is_file()
    budget, accuracy, per_layer, total = module.protocol_row(content)
    assert budget == "full protocol, 2 folds"
    assert " ± " in accuracy and " ± " in total
    assert per_layer.startswith("block0 ") and ", block1 " in per_layer
    table = module.real_table([], {"PROTEINS": content})
    assert "| PROTEINS | full protocol, 2 folds |" in table
