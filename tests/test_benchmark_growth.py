"""The growth comparison runs end to end on its smoke budget: every method grows on the ladder, the table is printed."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "growth.py"


def test_growth_smoke_ladder_and_protocol_table(tmp_path):
    pytest.importorskip("gromo")
    records = tmp_path / "records"
    result = subprocess.run([sys.executable, str(SCRIPT), "--smoke", "--datasets", "--ladder-seeds", "1",
                             "--records", str(records), "--out", str(tmp_path), "--workers", "1"],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    header = "| dataset | fixed grid (FairGIN) (%) | learned width (AWN), preset awgnn (%) | S2D (%) |"
    assert out.count(header) == 2 and "On the AWN paper's GIN classifier:" in out and "On FairGIN's architecture:" in out
    assert "| MUTAG | pending | pending | pending |" in out  # nothing recorded in an empty records folder
    assert "| method | level 0: width (accuracy) |" in out
    runs = [json.loads(line) for line in (tmp_path / "growth_ladder.jsonl").read_text().splitlines()]
    assert sorted((r["method"], r["level"]) for r in runs) == sorted(
        (m, level) for m in ("awgnn", "s2d", "firefly", "tiny") for level in (0, 1))
    for run in runs:
        first, last = run["total_width_per_epoch"][0], run["final_total_width"]
        if run["method"] in ("s2d", "firefly"):
            assert first > 16 and last > first  # grown at the start of both epochs from 8 a block
    again = subprocess.run([sys.executable, str(SCRIPT), "--smoke", "--datasets", "--ladder-seeds", "1",
                            "--records", str(records), "--out", str(tmp_path), "--workers", "1"],
                           capture_output=True, text=True, timeout=600)
    assert again.returncode == 0 and len((tmp_path / "growth_ladder.jsonl").read_text().splitlines()) == 8
