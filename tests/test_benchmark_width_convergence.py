"""The width-convergence study runs end to end on its smoke budget, resumes, and computes its statistics right."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "width_convergence.py"
sys.path.insert(0, str(SCRIPT.parent))


def _run(tmp_path, data_root, *extra):
    return subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--smoke",
            "--data-root",
            str(data_root),
            "--out",
            str(tmp_path),
            "--seeds",
            "1",
            "--ladder-seeds",
            "1",
            "--starts",
            "8",
            "40",
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_smoke_run_tables_figures_and_resume(tmp_path, data_root):
    first = _run(tmp_path, data_root, "--settings", "paper", "awgnn")
    assert first.returncode == 0, first.stderr
    out = first.stdout
    assert "| task | setting | final width from 8 | final width from 40 | spread (widest/narrowest start) |" in out
    for row in ("| ladder-0 | paper |", "| ladder-0 | awgnn |", "| MUTAG | paper |", "| MUTAG | awgnn |"):
        assert row in out
    assert "| setting | level 0: width (accuracy) |" in out and "Spearman's rho (target >= 0.8)" in out
    runs = [json.loads(line) for line in (tmp_path / "width_convergence.jsonl").read_text().splitlines()]
    # 2 tasks x 2 settings x 2 starts, plus 2 ladder settings x 2 smoke levels.
    assert len(runs) == 8 + 4
    assert all(len(r["total_width_per_epoch"]) == 2 for r in runs)
    awgnn_start = [r for r in runs if r["setting"] == "awgnn" and r["study"] == "convergence" and r["start"] == 8]
    assert all(r["total_width_per_epoch"][0] < 8 * 4 for r in awgnn_start)  # started at 8 a block
    for name in ("width_convergence_paper.png", "width_convergence_awgnn.png", "width_convergence_ladder.png"):
        assert (tmp_path / name).is_file()
    again = _run(tmp_path, data_root, "--settings", "paper", "awgnn")
    assert again.returncode == 0 and "12 run(s) already in" in again.stdout and "training 0" in again.stdout


def test_spread_and_kendall_statistics():
    import width_convergence as study

    def run(task, start, seed, width):
        return {"task": task, "setting": "awgnn", "start": start, "seed": seed, "final_total_width": width}

    assert study.spread({8: [run("A", 8, 0, 40), run("A", 8, 1, 60)], 320: [run("A", 320, 0, 60)]}) == 1.2
    # Two (seed, start) runs ranking three datasets the same way: tau 1; reversed: tau -1.
    same = [run(t, 8, 0, w) for t, w in zip(("MUTAG", "PROTEINS", "NCI1"), (10, 20, 30))]
    same += [run(t, 8, 1, w) for t, w in zip(("MUTAG", "PROTEINS", "NCI1"), (11, 25, 90))]
    assert "Kendall's tau over 1 pairs of (seed, start) runs: 1.00" in study.kendall_text(
        same, ["MUTAG", "PROTEINS", "NCI1"]
    )
    reversed_ = same[:3] + [run(t, 8, 1, w) for t, w in zip(("MUTAG", "PROTEINS", "NCI1"), (30, 20, 10))]
    assert "-1.00" in study.kendall_text(reversed_, ["MUTAG", "PROTEINS", "NCI1"])


def test_a_changed_setting_gets_a_new_key():
    import width_convergence as study

    base = study.Run("convergence", "MUTAG", "awgnn", 8, 0, 10, 3, 1000, "/data")
    assert base.key == study.Run("convergence", "MUTAG", "awgnn", 8, 0, 10, 3, 1000, "/elsewhere").key
    assert base.key != study.Run("convergence", "MUTAG", "paper", 8, 0, 10, 3, 1000, "/data").key
    assert base.key != study.Run("convergence", "MUTAG", "awgnn", 8, 0, 20, 3, 1000, "/data").key


@pytest.mark.parametrize("bad", [["--starts", "8"], ["--epochs-scale", "0"], ["--ladder-seeds", "-1"]])
def test_bad_arguments_are_named(tmp_path, bad):
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--out", str(tmp_path), *bad], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 2
    assert bad[0] in result.stderr
