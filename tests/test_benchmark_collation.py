"""The collation benchmark runs end to end on its smoke budget and reports both loaders."""

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "collation.py"


def test_collation_smoke(tmp_path, data_root):
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--smoke", "--data-root", str(data_root), "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "| loader | epoch (s) | collation (s) | collation share | final train loss |" in result.stdout
    assert "| PyG DataLoader |" in result.stdout and "| InMemoryLoader |" in result.stdout
    numbers = json.loads((tmp_path / "collation.json").read_text())
    assert set(numbers["epochs"]) == {"PyG DataLoader", "InMemoryLoader"}
    assert all(len(epochs) == 1 for epochs in numbers["epochs"].values())
