"""Adaptive graph models learn on real data (MUTAG from the offline data folder)."""

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch_geometric.loader import DataLoader

from awgnn import ELBOLoss, auto_update_widths
from awgnn.harness import load_dataset
from awgnn.models import AdaptiveGCNClassifier, AdaptiveGINClassifier

REPOSITORY = Path(__file__).resolve().parents[1]


def training_accuracy(model, loader):
    model.eval()
    correct = total = 0
    with torch.no_grad():
        for batch in loader:
            correct += int(
                (model(batch.x, batch.edge_index, batch.batch, batch.num_graphs).argmax(-1) == batch.y).sum()
            )
            total += batch.num_graphs
    return correct / total


@pytest.mark.parametrize("model_class", [AdaptiveGINClassifier, AdaptiveGCNClassifier])
def test_few_epochs_improve_accuracy_and_change_widths(data_root, model_class):
    torch.manual_seed(0)
    data = load_dataset("MUTAG", data_root)
    loader = DataLoader(data.dataset, batch_size=32, shuffle=True)
    whole = DataLoader(data.dataset, batch_size=len(data.dataset))
    model = model_class(data.num_features, data.num_classes, num_layers=3)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    auto_update_widths(model, optimizer)
    elbo = ELBOLoss(len(data.dataset))
    widths, before = model.layer_widths(), training_accuracy(model, whole)
    for _ in range(20):
        model.train()
        for batch in loader:
            optimizer.zero_grad()
            logits = model(batch.x, batch.edge_index, batch.batch, batch.num_graphs)
            elbo(model, logits, batch.y).total.backward()
            optimizer.step()
    after = training_accuracy(model, whole)
    majority = data.labels.bincount().max().item() / len(data.labels)
    assert after > max(before, majority) + 0.05, (before, after)
    assert model.layer_widths() != widths


def test_readme_example_runs_offline(data_root):
    environment = {**os.environ, "AWGNN_DATA": str(data_root)}
    output = subprocess.run(
        [sys.executable, str(REPOSITORY / "examples" / "train_mutag.py")],
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    ).stdout
    lines = output.strip().splitlines()
    assert len(lines) == 30 and lines[-1].startswith("epoch 30")
    accuracy = float(re.search(r"test accuracy ([0-9.]+)", lines[-1]).group(1))
    assert accuracy > 0.7
    assert "'block0'" in lines[-1]


def test_measured_widths_example_runs_offline(data_root):
    environment = {**os.environ, "AWGNN_DATA": str(data_root)}
    output = subprocess.run(
        [sys.executable, str(REPOSITORY / "examples" / "measured_widths_mutag.py")],
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    ).stdout
    lines = output.strip().splitlines()
    assert len(lines) == 30 and lines[-1].startswith("epoch 30")
    widths = [ast.literal_eval(line.split("widths ")[1]) for line in lines]
    assert widths[0] == {"block0": 16, "block1": 16, "block2": 16}
    assert any(w != widths[0] for w in widths[1:])  # measurement moved some width
    assert float(re.search(r"test accuracy ([0-9.]+)", lines[-1]).group(1)) > 0.6


@pytest.mark.parametrize("method", ["s2d", "tiny"])  # Firefly shares S2D's selection and the example's loop
def test_growth_example_grows_every_layer_offline(data_root, method):
    if method == "tiny":
        pytest.importorskip("gromo")
    environment = {**os.environ, "AWGNN_DATA": str(data_root)}
    output = subprocess.run(
        [sys.executable, str(REPOSITORY / "examples" / "grow_mutag.py"), method],
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    ).stdout
    grown = [line for line in output.splitlines() if "grew" in line]
    assert [line.split()[1] for line in grown] == ["5", "10", "15"]
    final = ast.literal_eval(grown[-1].split("widths ")[1])
    assert sum(final.values()) > 24 and output.strip().splitlines()[-1].startswith("epoch 30")
    if method != "tiny":  # per-layer selection: every hidden layer grows by the same share
        assert len(set(final.values())) == 1


def test_growth_example_names_the_methods(data_root):
    result = subprocess.run(
        [sys.executable, str(REPOSITORY / "examples" / "grow_mutag.py"), "lbfgs"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2 and "invalid choice: 'lbfgs' (choose from 's2d', 'firefly', 'tiny')" in result.stderr
