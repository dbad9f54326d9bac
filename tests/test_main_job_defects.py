"""What ``awgnn bench configs/quick.yaml`` shows, the errors on the way to it, and the CLI's and examples' help."""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import subprocess
import sys
import traceback
import urllib.error
from pathlib import Path
from types import SimpleNamespace

import matplotlib
import pytest
import torch
import yaml
from test_bench import TINY as BENCH_TINY
from torch_geometric.data import Batch
from torch_geometric.datasets import Planetoid, TUDataset

from awgnn import ELBOLoss
from awgnn.harness import load_dataset, load_planetoid, report
from awgnn.harness.cli import build_parser, main
from awgnn.harness.config import model_arguments, training_settings
from awgnn.harness.registry import MODEL_CLASSES
from awgnn.harness.splits import generate_splits
from awgnn.harness.train import RunSettings, fit, train_epoch
from awgnn.models import GINClassifier

matplotlib.use("Agg")

REPOSITORY = Path(__file__).resolve().parents[1]

# Final runs of configs/quick.yaml's awn-gin (folds 1 and 3 chose 2 layers, fold 2 chose 3).
QUICK_FINAL_WIDTHS = [
    [{"block0": 18, "block1": 17}, {"block0": 16, "block1": 17}],
    [{"block0": 16, "block1": 16, "block2": 16}, {"block0": 17, "block1": 16, "block2": 16}],
    [{"block0": 16, "block1": 16}, {"block0": 16, "block1": 16}],
]

# test_bench's tiny experiment, two epochs a run.
TINY = {**BENCH_TINY, "protocol": {**BENCH_TINY["protocol"], "max_epochs": 2}}


def quick_like_content() -> dict:
    """A summary (as report.summary makes it) of one adaptive model whose folds chose different depths."""
    per_fold = [
        {"fold": fold + 1, "score": 0.8, "layer_widths": runs, "total_width": sum(sum(r.values()) for r in runs) / 2}
        for fold, runs in enumerate(QUICK_FINAL_WIDTHS)
    ]
    totals = [f["total_width"] for f in per_fold]
    model = {
        "adaptive": True,
        "grows": False,
        "mean": 0.8,
        "std": 0.02,
        "folds": 3,
        "folds_scored": 3,
        "total_width": {"mean": sum(totals) / 3, "std": 0.0},
        "num_parameters": 4610.0,
        "per_fold": per_fold,
    }
    return {"dataset": {"name": "MUTAG", "features": None}, "metric": "accuracy", "models": {"awn-gin": model}}


# -- 1. what the main job shows ------------------------------------------------------------------


def test_learned_widths_are_reported_per_depth_and_add_up_to_the_total_width():
    content = quick_like_content()
    lines = report.table([content]).splitlines()
    row = next(line for line in lines if line.startswith("MUTAG"))
    assert "2 layers (4 runs): 16.5, 16.5; 3 layers (2 runs): 16.5, 16, 16" in row, row
    assert re.search(r"3/3\s+38\s", row), row
    assert round((4 * (16.5 + 16.5) + 2 * (16.5 + 16 + 16)) / 6) == 38, "the layers' means add up to the total width"
    notes = lines[-2:]
    assert notes[0].startswith("total width: ") and notes[1].startswith("learned widths: "), "both are explained"


def test_the_width_plot_has_a_panel_per_depth_a_line_style_per_run_and_starts_at_zero():
    runs = [
        (
            f"fold {fold + 1}, run {repeat + 1}",
            [{"epoch": e, "widths": {k: w + e % 2 for k, w in r.items()}} for e in range(5)],
        )
        for fold, fold_runs in enumerate(QUICK_FINAL_WIDTHS)
        for repeat, r in enumerate(fold_runs)
    ]
    figure = report.widths_figure("awn-gin", runs)
    panels = [axes for axes in figure.axes if axes.get_title()]
    assert [axes.get_title() for axes in panels] == ["2 layers: 4 final runs", "3 layers: 2 final runs"]
    legend = [text.get_text() for text in panels[0].get_legend().get_texts()]
    assert legend == ["block0", "block1", "fold 1, run 1", "fold 1, run 2", "fold 3, run 1", "fold 3, run 2"]
    assert {line.get_linestyle() for line in panels[0].get_lines()} == {"-", "--", ":", "-."}
    assert panels[0].get_ylim()[0] == 0 and panels[0].get_ylim()[1] < 30, "a jitter of a neuron stays small"


def test_the_fold_plot_has_a_tick_at_every_fold_and_none_between():
    figure = report.fold_scores_figure(quick_like_content())
    assert list(figure.axes[0].get_xticks()) == [1, 2, 3]


def test_the_progress_counts_model_folds_and_a_rerun_says_every_run_was_reused(tmp_path, data_root, capsys):
    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump(TINY, sort_keys=False))
    command = ["bench", str(config), "--data-root", str(data_root), "--results", str(tmp_path / "results")]
    assert main([*command, "--workers", "1", "--no-progress"]) == 0
    first = capsys.readouterr().err
    assert "2 outer folds" in first and "for awn, gin: 12 runs" in first and "reused" not in first
    assert main([*command, "--workers", "1"]) == 0
    again = capsys.readouterr().err
    assert f"12 of 12 runs reused from {tmp_path / 'results'}" in again and "nothing left to run" in again
    assert "folds (2 outer × 2 models)" in again and "4/4" in again, "4 (model, fold) pairs, said so"


# -- 2. errors --------------------------------------------------------------------------------------


def unreachable_download(self) -> None:
    # What PyG's fsspec download raises without network, after a long traceback of its own.
    raise urllib.error.URLError("Name or service not known")


@pytest.mark.parametrize(
    "dataset_class, load, folder",
    [
        (Planetoid, lambda root: load_planetoid("Cora", root), Path("Planetoid", "Cora", "raw")),
        (TUDataset, lambda root: load_dataset("PROTEINS", root), Path("TUDataset", "PROTEINS", "raw")),
    ],
)
def test_a_failed_download_is_one_error_naming_the_folder_and_how_to_point_elsewhere(
    tmp_path, monkeypatch, dataset_class, load, folder
):
    monkeypatch.setattr(dataset_class, "download", unreachable_download)
    with pytest.raises(FileNotFoundError) as caught:
        load(tmp_path)
    message = str(caught.value)
    assert str(tmp_path / folder) in message and "the download failed: <urlopen error Name or service" in message
    assert "AWGNN_DATA" in message and "--data-root" in message and f"holding {folder.as_posix()}/" in message
    assert caught.value.__cause__ is None and caught.value.__suppress_context__, "no chained download traceback"
    shown = "".join(traceback.format_exception(caught.value))
    assert shown.count("Traceback") == 1 and "The above exception" not in shown


def test_a_failed_download_that_is_no_oserror_is_reported_as_well(tmp_path, monkeypatch):
    def protocol_error(self) -> None:
        raise RuntimeError("HTTP 503 from the mirror")  # fsspec and aiohttp raise errors of their own kinds

    monkeypatch.setattr(Planetoid, "download", protocol_error)
    with pytest.raises(FileNotFoundError, match="Cora: Planetoid files missing in .*HTTP 503 from the mirror"):
        load_planetoid("Cora", tmp_path)


def test_an_empty_batch_is_an_error_not_a_nan_loss():
    model = GINClassifier(7, 2, hidden_channels=8)
    with pytest.raises(ValueError, match=r"ELBOLoss got an empty batch: prediction of shape \(0, 2\)"):
        ELBOLoss(10)(model, torch.zeros(0, 2), torch.zeros(0, dtype=torch.long))
    empty = Batch(
        x=torch.zeros(0, 7),
        edge_index=torch.zeros(2, 0, dtype=torch.long),
        y=torch.zeros(0, dtype=torch.long),
        batch=torch.zeros(0, dtype=torch.long),
        ptr=torch.zeros(1, dtype=torch.long),
    )
    data = SimpleNamespace(name="MUTAG")
    optimizer = torch.optim.Adam(model.parameters())
    with pytest.raises(ValueError, match="MUTAG: training batch 1 holds no graphs"):
        train_epoch(model, [empty], optimizer, None, data)


def test_nan_input_features_are_named_when_the_dataset_loads(tmp_path, data_root, capsys):
    raw = tmp_path / "TUDataset" / "ENZYMES" / "raw"
    shutil.copytree(data_root / "TUDataset" / "ENZYMES" / "raw", raw)
    attributes = raw / "ENZYMES_node_attributes.txt"
    lines = attributes.read_text().splitlines()
    lines[20] = ", ".join(["nan"] * len(lines[20].split(",")))  # node 20 of the first graph, of 37 nodes
    attributes.write_text("\n".join(lines) + "\n")
    with pytest.raises(
        ValueError, match=r"ENZYMES \(read from .*\): input features contain NaN/inf in 1 node\(s\)"
    ) as caught:
        load_dataset("ENZYMES", tmp_path)
    assert "(18 value(s)), the first in graph 0 (its node 20)" in str(caught.value)

    config = tmp_path / "enzymes.yaml"
    config.write_text(yaml.safe_dump({**TINY, "dataset": "ENZYMES"}, sort_keys=False))
    assert main(["bench", str(config), "--data-root", str(tmp_path), "--results", str(tmp_path / "out")]) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and "ENZYMES" in error and "input features contain NaN/inf" in error, error
    assert "learning rate" not in error


def test_nan_input_features_of_a_batch_are_named_not_recorded_as_a_divergence(data_root):
    data = load_dataset("MUTAG", data_root)
    graphs = [data.dataset[i] for i in range(len(data.dataset))]
    graphs[5].x = graphs[5].x.clone()
    graphs[5].x[2, 0] = float("inf")
    fold = generate_splits(data.labels, n_outer=3, holdout=0.1, seed=0)[0]
    point = {"hidden_channels": 8, "batch_size": len(graphs)}  # one batch: the graph is in batch 1
    spec = MODEL_CLASSES["GINClassifier"]
    with pytest.raises(ValueError, match=r"MUTAG: training batch 1: input features contain NaN/inf in 1 node\(s\)"):
        fit(
            dataclasses.replace(data, dataset=graphs),
            sorted({*fold.train, 5}),
            fold.validation,
            None,
            spec,
            model_arguments(point),
            training_settings(point, spec.adaptive),
            RunSettings(max_epochs=2, patience=2, device="cpu", loader="memory"),
            seed=0,
        )


# -- 3. the command line and the examples -------------------------------------------------------------


def test_help_shows_plain_text_not_restructuredtext():
    text = build_parser().format_help()
    assert "``" not in text and "awgnn bench CONFIG runs an experiment" in text
    assert "Exit codes: 0 success" in text


def test_the_growth_example_takes_help_and_says_which_method_runs(data_root):
    example = str(REPOSITORY / "examples" / "grow_mutag.py")
    shown = subprocess.run([sys.executable, example, "--help"], capture_output=True, text=True, timeout=120)
    assert shown.returncode == 0 and shown.stdout.startswith("usage: grow_mutag.py") and "s2d" in shown.stdout
    # Its first line names the method; the rest of the run is test_mutag's.
    process = subprocess.Popen(
        [sys.executable, "-u", example],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "AWGNN_DATA": str(data_root)},
    )
    try:
        assert process.stdout.readline() == "growth method: s2d\n"
    finally:
        process.kill()
        process.wait()
