"""The drop-in parity benchmark runs end to end on its smoke budget: every example and model, one verdict each."""

import json
import subprocess
import sys
from pathlib import Path

from test_planetoid import planetoid_root  # noqa: F401 (a fixture)

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "parity.py"


def test_parity_smoke(tmp_path, planetoid_root):  # noqa: F811
    command = [sys.executable, str(SCRIPT), "--smoke", "--data-root", str(planetoid_root), "--out", str(tmp_path)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    runs = [json.loads(line) for line in (tmp_path / "parity.jsonl").read_text().splitlines()]
    assert {(r["example"], r["model"]) for r in runs} == {
        (example, model)
        for example in ("mutag_gin", "cora_gcn")
        for model in ("pyg", "dropin-8", "dropin-256", "recommended-8", "recommended-256")
    }
    assert all(r["first_loss"] > 0 and 0 <= r["test"] <= 1 for r in runs)
    assert result.stdout.count("of the same order as PyG's") + result.stdout.count("not of the same order") == 8
    rerun = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert "10 run(s) already in" in rerun.stdout and "training 0" in rerun.stdout
