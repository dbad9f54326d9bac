"""The speed benchmark runs end to end on its smoke budget and prints every table."""

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "speed.py"

TABLE_CAPTIONS = (
    "**Goals**",
    "**Training throughput**",
    "**Inference throughput**",
    "**Where a training step's time goes**",
    "**Overhead of the adaptive step over the fixed one**",
    "**aten operators dispatched per training step**",
    "**Cost of one `update_widths` call**",
    "**Width updates in a training run**",
    "**Training the adaptive GIN under torch.compile**",
)


def test_speed_smoke(tmp_path, data_root):
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--smoke", "--data-root", str(data_root), "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    for caption in TABLE_CAPTIONS:
        assert caption in result.stdout, f"missing table {caption}"
    assert "| GIN | 32 | adaptive (full step) |" in result.stdout
    assert "| GCN | 128 | fixed (frozen, upstream PyG) |" in result.stdout
    assert "| (c) recompile_limit=1000 |" in result.stdout
    report = json.loads((tmp_path / "speed.json").read_text())
    assert {"throughput", "resize_cost", "training_run", "compile"} <= report.keys()
    assert (tmp_path / "speed.png").is_file()
