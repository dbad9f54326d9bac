"""The scaling benchmark runs end to end on its smoke budget and reports every sweep."""

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "scaling.py"


def test_scaling_smoke(tmp_path, data_root):
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--smoke", "--data-root", str(data_root), "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    for caption in (
        "**(a) As the width grows**",
        "**(b) As the batch grows**",
        "**(c) Large graphs**",
        "**Harness wall time by workers**",
    ):
        assert caption in result.stdout, f"missing table {caption}"
    report = json.loads((tmp_path / "scaling.json").read_text())
    widths = report["steps"]["width"]
    assert [(r["model"], r["initial_width"]) for r in widths] == [("GIN", 16), ("GIN", 64), ("GCN", 16), ("GCN", 64)]
    # every adaptive layer starts at the requested width: GIN and GCN have 3 of them by default
    assert [r["total_width"][0] for r in widths] == [48, 192, 48, 192]
    assert [r["batch_size"] for r in report["steps"]["batch"]] == [16, 64, 16, 64]
    for rows in report["steps"].values():
        for r in rows:
            operators = {name: sum(counts.values()) for name, counts in r["operators_per_step"].items()}
            assert all(count > 0 for count in operators.values())
    (harness,) = report["harness"]
    assert harness["workers"] == 1 and harness["runs"] == 2 * (2 + 4 + 2 * 1)
