"""Benchmark scripts refuse bad arguments with one line naming the flag, before any training."""

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))
from common import positive_int, task_name  # noqa: E402

sys.path.remove(str(BENCHMARKS))


@pytest.mark.parametrize("text", ["0", "-3", "1.5", "x"])
def test_positive_int_refuses(text):
    with pytest.raises(argparse.ArgumentTypeError, match=f"expected an integer >= 1, got '{text}'"):
        positive_int(text)


@pytest.mark.parametrize("text", ["NCI1", "ogbg-molhiv", "ladder-0", "ladder-4"])
def test_task_name_accepts(text):
    assert task_name(text) == text


@pytest.mark.parametrize(
    "text, message", [("nci1", "expected a dataset"), ("ladder-5", "level in 0..4"), ("ladder-x", "level in 0..4")]
)
def test_task_name_refuses(text, message):
    with pytest.raises(argparse.ArgumentTypeError, match=message):
        task_name(text)


@pytest.mark.parametrize(
    "script, arguments, message",
    [
        ("truncation.py", ["--tasks", "ladder-9"], "argument --tasks: a ladder task is ladder-<level>"),
        ("optimizer_state.py", ["--seeds", "0"], "argument --seeds: expected an integer >= 1"),
        ("width_vs_difficulty.py", ["--num-graphs", "10"], "--num-graphs must be at least 40"),
    ],
)
def test_scripts_exit_2_naming_the_flag(tmp_path, script, arguments, message):
    result = subprocess.run(
        [sys.executable, str(BENCHMARKS / script), *arguments, "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2 and message in result.stderr
    assert "Traceback" not in result.stderr
