"""The compression benchmarks run end to end on a tiny budget, and random removal is what it claims."""

import copy
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import torch

from awgnn.models import AdaptiveGINClassifier
from awgnn.width import adaptive_widths

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def run_script(name: str, data_root: Path, out: Path) -> str:
    result = subprocess.run(
        [sys.executable, str(BENCHMARKS / name), "--smoke", "--data-root", str(data_root), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_truncation_smoke(tmp_path, data_root):
    stdout = run_script("truncation.py", data_root, tmp_path)
    assert "| kept | total width | parameters | test acc (tail cut) | test acc (random removal) |" in stdout
    assert "| 100% |" in stdout and "| 50% |" in stdout
    assert "| annealed rate prior |" in stdout and "| no rate prior |" in stdout
    for name in ("truncation.json", "truncation_MUTAG.png", "online_compression.png"):
        assert (tmp_path / name).is_file()
    report = json.loads((tmp_path / "truncation.json").read_text())
    full, half = report["sweeps"]["MUTAG"][0]
    # Keeping every neuron leaves the model as trained, whichever neurons a random draw "keeps".
    assert full["fraction"] == 1.0 and all(a == full["tail_accuracy"] for a in full["random_accuracy"])
    assert list(full["layer_widths"].values()) == list(report["trained"][0]["record"]["layer_widths"].values())
    assert half["fraction"] == 0.5 and half["num_parameters"] < full["num_parameters"]
    assert half["layer_widths"] == {name: max(1, round(0.5 * w)) for name, w in full["layer_widths"].items()}
    assert sorted(run["annealed"] for run in report["compression"]) == [False, True]
    assert all(len(run["curve"]) == 2 for run in report["compression"])


def test_optimizer_state_smoke(tmp_path, data_root):
    stdout = run_script("optimizer_state.py", data_root, tmp_path)
    assert "| task | optimizer state | test accuracy |" in stdout
    assert "| carry |" in stdout and "| reset |" in stdout
    for name in ("optimizer_state.json", "optimizer_state.png"):
        assert (tmp_path / name).is_file()
    runs = json.loads((tmp_path / "optimizer_state.json").read_text())["runs"]
    assert sorted(run["optimizer_state"] for run in runs) == ["carry", "reset"]
    for run in runs:
        assert len(run["record"]["history"]) == 2 and run["optimizer_steps"] > 0
        assert 0 <= run["resize_events"] <= run["optimizer_steps"] * len(run["record"]["layer_widths"])


def load_truncation_module():
    sys.path.insert(0, str(BENCHMARKS))
    try:
        spec = importlib.util.spec_from_file_location("truncation_benchmark", BENCHMARKS / "truncation.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # its dataclasses look their module up there
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(BENCHMARKS))


def test_random_removal_equals_zeroing_the_removed_neurons_consumer_columns():
    truncation = load_truncation_module()
    torch.manual_seed(0)
    model = AdaptiveGINClassifier(3, 2, num_layers=3).eval()
    x, edge_index = torch.randn(12, 3), torch.randint(0, 12, (2, 40))
    batch = torch.arange(12) // 4
    keep = {name: torch.randperm(width.width)[: width.width // 3] for name, width in adaptive_widths(model)}

    zeroed = copy.deepcopy(model)
    for name, width in adaptive_widths(zeroed):
        removed = torch.ones(width.width, dtype=torch.bool)
        removed[keep[name]] = False
        for follower in width.followers:
            if follower.role == "consumer":
                getattr(follower.module, follower.name).data.index_fill_(follower.dim, removed.nonzero().view(-1), 0)
    pruned = copy.deepcopy(model)
    truncation.delete_neurons_(pruned, keep)

    assert [width.width for _, width in adaptive_widths(pruned)] == [len(k) for k in keep.values()]
    torch.testing.assert_close(pruned(x, edge_index, batch), zeroed(x, edge_index, batch))
    assert not torch.allclose(pruned(x, edge_index, batch), model(x, edge_index, batch))
