"""The growth comparison runs end to end on its smoke budget: every method grows on the ladder, the table is printed."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "growth.py"
sys.path.insert(0, str(SCRIPT.parent))
import growth  # noqa: E402


def test_growth_smoke_ladder_and_protocol_table(tmp_path):
    pytest.importorskip("gromo")
    records = tmp_path / "records"
    result = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--smoke",
            "--datasets",
            "--ladder-seeds",
            "1",
            "--records",
            str(records),
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
    out = result.stdout
    header = "| dataset | fixed grid (FairGIN) (%) | learned width (AWN), preset awgnn (%) | S2D (%) |"
    assert (
        out.count(header) == 2 and "On the AWN paper's GIN classifier:" in out and "On FairGIN's architecture:" in out
    )
    assert "| MUTAG | pending | pending | pending |" in out  # nothing recorded in an empty records folder
    assert "| ENZYMES | pending |" in out and "| REDDIT-BINARY | pending |" in out  # every reproduction dataset
    assert "| dataset | S2D, global (%) | S2D, per layer (%) | Firefly, global (%) | Firefly, per layer (%) |" in out
    assert "| method | level 0: width (accuracy) |" in out and "| width by block (mean) |" in out
    runs = [json.loads(line) for line in (tmp_path / "growth_ladder.jsonl").read_text().splitlines()]
    assert sorted((r["method"], r["level"]) for r in runs) == sorted(
        (m, level) for m in growth.LADDER_METHODS for level in (0, 1)
    )
    for run in runs:
        first, last = run["total_width_per_epoch"][0], run["final_total_width"]
        if run["method"].startswith(("s2d", "firefly")):
            assert first > 16 and last > first  # grown at the start of both epochs from 8 a block
        if run["method"].endswith("per_layer"):
            assert len(set(run["final_widths"].values())) == 1  # both blocks grew by the same share
    again = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--smoke",
            "--datasets",
            "--ladder-seeds",
            "1",
            "--records",
            str(records),
            "--out",
            str(tmp_path),
            "--workers",
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    lines = (tmp_path / "growth_ladder.jsonl").read_text().splitlines()
    assert again.returncode == 0 and len(lines) == 2 * len(growth.LADDER_METHODS)


def test_growth_cells_give_the_cost_of_model_selection_beside_the_whole_cell():
    # Wall times above the CPU times, as under load: the table gives the CPU times.
    cell = {
        "mean": 0.7,
        "std": 0.02,
        "num_parameters": 1000.0,
        "seconds": 9000.0,
        "selection_seconds": 5400.0,
        "cpu_seconds": 7200.0,
        "selection_cpu_seconds": 3600.0,
        "total_width": {"mean": 48.0, "std": 2.0},
        "per_fold": [],
    }
    assert growth.growth_text(cell, None) == "70.0 ± 2.0; width 48 ± 2; 1,000 params; 2.00 CPU-h (selection 1.00)"
    assert growth.growth_text(None, "pending (est. 1.5 CPU-h)") == "pending (est. 1.5 CPU-h)"


def test_selection_table_gives_the_input_blocks_share_of_the_width():
    cell = {
        "mean": 0.7,
        "std": 0.02,
        "num_parameters": 1000.0,
        "cpu_seconds": 7200.0,
        "selection_cpu_seconds": 3600.0,
        "total_width": {"mean": 48.0, "std": 2.0},
        "per_fold": [{"layer_widths": [{"block0": 30, "block1": 10}, {"block0": 10, "block1": 10}]}],
    }
    assert growth.input_block_share(cell) == pytest.approx((0.75 + 0.5) / 2)
    cells = {model: {"MUTAG": None} for model in growth.reproduction.MODELS}
    cells["growth_s2d_per_layer"]["MUTAG"] = cell
    progresses = {model: {"MUTAG": growth.reproduction.Progress()} for model in growth.reproduction.MODELS}
    row = growth.selection_table(cells, progresses, ["MUTAG"]).splitlines()[-1]
    assert row.startswith(
        "| MUTAG | pending | 70.0 ± 2.0; width 48 ± 2; 1,000 params; 2.00 CPU-h (selection 1.00); "
        "input block 62% | pending"
    )


def test_ladder_rho_says_why_it_is_undefined():
    assert growth.rho_text([0, 1, 2, 2], [40, 50, 60, 55]) == "0.95"
    assert growth.rho_text([0, 1, 2], [70, 70, 70]) == "undefined: width 70 at every level"
    assert growth.rho_text([3, 3], [40, 50]) == "-"
