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


def test_results_section_13_is_the_committed_records_table_and_its_prose_numbers_come_from_it():
    sys.path.insert(0, str(SCRIPT.parent))
    import parity

    root = SCRIPT.parents[1]
    runs = [json.loads(line) for line in (root / "benchmarks/output/parity/parity.jsonl").read_text().splitlines()]
    table, verdicts = parity.summary(runs, list(parity.EXAMPLES))
    section = (root / "benchmarks/RESULTS.md").read_text().split("## 13. ")[1]
    assert table in section
    assert sum("within one standard deviation" in line for line in verdicts) == 6  # "6 of 8" in the prose
    rows = {tuple(row.split(" | ")[:2]): row.split(" | ") for row in table.splitlines()[2:]}
    for (example, model), row in rows.items():
        if model.startswith("recommended") or model.startswith("dropin"):
            end = row[7].split(" → ")[-1].split(" ± ")[0]
            assert f" {end}" in section, f"{example} {model}'s final width {end} is not quoted"
    assert "81.3 ± 0.53% against 80.2 ± 0.68%" in section and "73.3 ± 11%\n  against 86.1 ± 10%" in section
