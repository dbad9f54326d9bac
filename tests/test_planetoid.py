"""Planetoid citation graphs, and mini-batch node classification with sampled neighbourhoods."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from conftest import shared_data_dir
from torch_geometric.data import Data

import awgnn
from awgnn.harness import load_planetoid
from awgnn.loader import SampledNeighborLoader
from awgnn.nn.models import AdaptiveGCN, AdaptiveGIN


@pytest.fixture(scope="module")
def planetoid_root() -> Path:
    """The shared data root, read in place: processed files go to the session's cache."""
    root = shared_data_dir()
    if not all((root / "Planetoid" / name / "raw").is_dir() for name in ("Cora", "CiteSeer")):
        pytest.skip(f"Planetoid Cora and CiteSeer not found in {root}/Planetoid (set AWGNN_TEST_DATA)")
    return root


@pytest.mark.parametrize(
    "name, nodes, features, classes, train",
    [
        ("Cora", 2708, 1433, 7, 140),
        ("CiteSeer", 3327, 3703, 6, 120),
    ],
)
def test_public_split_as_pyg_loads_it(planetoid_root, monkeypatch, name, nodes, features, classes, train):
    monkeypatch.setenv("AWGNN_DATA", str(planetoid_root))
    dataset = load_planetoid(name)  # root from AWGNN_DATA, as the graph datasets
    data = dataset[0]
    assert (data.num_nodes, dataset.num_features, dataset.num_classes) == (nodes, features, classes)
    assert [int(m.sum()) for m in (data.train_mask, data.val_mask, data.test_mask)] == [train, 500, 1000]
    assert Path(dataset.raw_dir) == planetoid_root / "Planetoid" / name / "raw"
    assert not (planetoid_root / "Planetoid" / name / "processed").exists()  # the data root is only read


def test_planetoid_errors_name_the_problem(tmp_path):
    with pytest.raises(ValueError, match="unknown Planetoid dataset 'cora'; expected one of Cora, CiteSeer"):
        load_planetoid("cora", tmp_path)
    with pytest.raises(FileNotFoundError, match=r"Cora: Planetoid files missing in .*Planetoid/Cora/raw"):
        load_planetoid("Cora", tmp_path, download=False)


# -- the sampling loader -------------------------------------------------------------------------


def random_graph(num_nodes: int = 30, num_edges: int = 120, seed: int = 0) -> Data:
    generator = torch.Generator().manual_seed(seed)
    edge_index = torch.randint(0, num_nodes, (2, num_edges), generator=generator)
    return Data(
        x=torch.randn(num_nodes, 4, generator=generator),
        edge_index=edge_index,
        edge_weight=torch.rand(num_edges, generator=generator),
        y=torch.randint(0, 3, (num_nodes,), generator=generator),
    )


def test_sampled_edges_exist_and_respect_the_fan_out():
    data = random_graph()
    loader = SampledNeighborLoader(data, [3, 2], batch_size=7, generator=torch.Generator().manual_seed(1))
    in_degree = torch.bincount(data.edge_index[1], minlength=data.num_nodes)
    batches = list(loader)
    assert len(batches) == len(loader) == 5
    assert torch.cat([b.n_id[: b.batch_size] for b in batches]).tolist() == list(range(30))
    for batch in batches:
        global_edges = batch.n_id[batch.edge_index]
        torch.testing.assert_close(global_edges, data.edge_index[:, batch.e_id])
        torch.testing.assert_close(batch.x, data.x[batch.n_id])
        torch.testing.assert_close(batch.edge_weight, data.edge_weight[batch.e_id])
        assert batch.e_id.unique().numel() == batch.e_id.numel()
        assert sum(batch.num_sampled_nodes) == batch.num_nodes == batch.n_id.unique().numel()
        start = 0
        offsets = [0, *torch.tensor(batch.num_sampled_nodes).cumsum(0).tolist()]
        for hop, (count, edges) in enumerate(zip([3, 2], batch.num_sampled_edges)):
            targets = batch.edge_index[1, start : start + edges]
            frontier = torch.arange(offsets[hop], offsets[hop + 1])
            per_target = torch.bincount(targets, minlength=batch.num_nodes)[frontier]
            assert per_target.tolist() == in_degree[batch.n_id[frontier]].clamp(max=count).tolist()
            start += edges


def test_full_neighbourhoods_give_the_full_graph_outputs():
    torch.manual_seed(0)
    data = random_graph()
    model = AdaptiveGIN(4, None, 2, out_channels=3, initial_width=8).eval()
    expected = model(data.x, data.edge_index)
    for batch in SampledNeighborLoader(data, [-1, -1], batch_size=8, shuffle=True):
        seeds = batch.n_id[: batch.batch_size]
        out = model(batch.x, batch.edge_index)[: batch.batch_size]
        torch.testing.assert_close(out, expected[seeds])
        trimmed = model(
            batch.x,
            batch.edge_index,
            num_sampled_nodes_per_hop=batch.num_sampled_nodes,
            num_sampled_edges_per_hop=batch.num_sampled_edges,
        )
        torch.testing.assert_close(trimmed[: batch.batch_size], expected[seeds])


@pytest.mark.parametrize(
    "arguments, message",
    [
        ({"num_neighbors": []}, "num_neighbors must be a non-empty list"),
        ({"num_neighbors": [0]}, "num_neighbors entries must be an integer >= 1, got 0"),
        ({"batch_size": 0}, "batch_size must be an integer >= 1, got 0"),
        ({"input_nodes": torch.ones(5, dtype=torch.bool)}, r"must have shape \(30,\), got \(5,\)"),
        ({"input_nodes": torch.tensor([0, 30])}, r"must index nodes 0..29, got values in \[0, 30\]"),
        ({"input_nodes": torch.tensor([1, 1])}, "must not repeat a node"),
    ],
)
def test_loader_arguments_are_checked(arguments, message):
    with pytest.raises(ValueError, match=message):
        SampledNeighborLoader(random_graph(), **{"num_neighbors": [2], **arguments})


def test_mini_batch_training_of_an_adaptive_gcn_on_cora(planetoid_root):
    torch.manual_seed(0)
    data = load_planetoid("Cora", planetoid_root)[0]
    model = AdaptiveGCN(data.num_features, None, 2, out_channels=7, dropout=0.5, initial_width=16)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01, weight_decay=5e-4)
    awgnn.auto_update_widths(model, optimizer)
    loader = SampledNeighborLoader(data, [10, 10], input_nodes=data.train_mask, batch_size=35, shuffle=True)
    for _ in range(15):
        model.train()
        for batch in loader:
            optimizer.zero_grad()
            out = model(batch.x, batch.edge_index)[: batch.batch_size]
            F.cross_entropy(out, batch.y[: batch.batch_size]).backward()
            optimizer.step()
    model.eval()
    with torch.no_grad():
        prediction = model(data.x, data.edge_index).argmax(-1)
    accuracy = (prediction[data.test_mask] == data.y[data.test_mask]).float().mean()
    assert accuracy > 0.7
    assert model.widths[0].width != 16 and model.widths[0].num_updates == 15 * len(loader)


def test_planetoid_benchmark_smoke(planetoid_root, tmp_path):
    script = Path(__file__).resolve().parents[1] / "benchmarks" / "planetoid.py"
    result = subprocess.run(
        [sys.executable, str(script), "--smoke", "--data-root", str(planetoid_root), "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    for model in ("GCN-16", "GIN-16", "AdaptiveGCN", "AdaptiveGIN"):
        assert f"| Cora | {model} |" in result.stdout
    assert "| Cora | GCN-16 | " in result.stdout and "16 (fixed)" in result.stdout and "layer0: " in result.stdout
    assert (tmp_path / "planetoid.json").is_file()
