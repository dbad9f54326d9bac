"""The model-selection cost study runs end to end on a tiny budget."""

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "selection_cost.py"


def test_selection_cost_smoke(tmp_path, data_root):
    result = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--smoke",
            "--data-root",
            str(data_root),
            "--out",
            str(tmp_path),
            "--workers",
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    # grid, runs, trainings (then epochs): the smoke grids keep both monitors, whose runs share a training;
    # the adaptive grid of one point trains only its final runs
    assert "| awn-gin (adaptive) | 1 | 2 | 2 |" in result.stdout
    assert "| gin (fixed, protocol grid) | 2 | 6 | 4 |" in result.stdout
    assert "| gin (fixed, one training per grid point) | 2 | 6 | 6 |" in result.stdout
    assert (tmp_path / "selection_cost.json").is_file()
