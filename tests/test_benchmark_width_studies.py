"""The width-need sweep and the measured-width study: their statistics, and both scripts end to end on a smoke
budget."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

from width_equilibrium import beyond_spread, spread  # noqa: E402
from width_need import saturation_width, subsample  # noqa: E402


def test_saturation_width_is_the_smallest_within_one_pooled_standard_error_of_the_best():
    # Two runs a width, 2 apart: sample std sqrt(2), so the pooled standard error is 1; the best mean is 77.
    runs = {4: [69, 71], 8: [74, 76], 16: [75.5, 77.5], 32: [76, 78]}
    assert saturation_width(runs) == 16  # 76.5 >= 77 - 1
    assert saturation_width({**runs, 16: [75, 77]}) == 16  # 76: exactly one error below the best
    assert saturation_width({**runs, 16: [74.8, 76.8]}) == 32  # 75.8: more than one error below
    assert saturation_width({4: [50.0], 8: [60.0]}) == 8  # one run: no error, the best width itself


def test_spread_is_the_ratio_of_the_start_means_and_beyond_spread_needs_more_than_either_std():
    assert spread({8: [10, 14], 320: [15, 15]}) == pytest.approx(1.25)
    assert beyond_spread([10, 12], [14, 16])  # difference 4 > std 1
    assert beyond_spread([10, 14], [14.5, 18.5])  # difference 4.5 > std 2
    assert not beyond_spread([10, 20], [16, 18])  # difference 2 < std 5


def test_subsampling_is_nested_free_and_reproducible():
    indices = list(range(100, 200))
    quarter, again = subsample(indices, 0.25, seed=3), subsample(indices, 0.25, seed=3)
    assert quarter == again and len(quarter) == 25 and set(quarter) <= set(indices)
    assert subsample(indices, 1.0, seed=3) == indices


@pytest.mark.parametrize(
    "script, extra, table",
    [
        ("width_need.py", [], "| architecture | dataset | N (inner train) | width 4 | width 8 | W* |"),
        (
            "width_equilibrium.py",
            ["--prior", "--variants", "refit", "tiny", "gates_broad"],
            "| setting | task | width from 8 | width from 320 | spread (target <= 1.25)",
        ),
    ],
)
def test_smoke_runs_print_their_tables_and_resume(tmp_path, data_root, script, extra, table):
    command = [
        sys.executable,
        str(BENCHMARKS / script),
        "--smoke",
        "--data-root",
        str(data_root),
        "--out",
        str(tmp_path),
        *extra,
    ]
    first = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert first.returncode == 0, first.stderr
    assert table in first.stdout
    if "gates_broad" in extra:  # a gated variant's own training step and update are timed
        assert "A training step of gates_broad costs" in first.stdout
    results = next(tmp_path.glob("*.jsonl"))
    lines = results.read_text().splitlines()
    assert lines and all(json.loads(line)["key"] for line in lines)
    again = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0 and "training 0" in again.stdout
    assert results.read_text().splitlines() == lines
